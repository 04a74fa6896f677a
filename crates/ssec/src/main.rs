//! `ssec`: the command line of the SSE conformance suite.

mod check_proxy;
mod check_server;
mod explain;
mod parse;
mod run;
mod serve;
mod sim;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Conformance tooling for Server-Sent Events (text/event-stream and EventSource).
#[derive(Debug, Parser)]
#[command(name = "ssec", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what a captured event stream means: one JSON object per dispatched event.
    ///
    /// The bytes are read as one response body that then ends, exactly as an EventSource would
    /// read them: an event without its blank line at the end is not dispatched.
    Parse {
        /// The raw stream; standard input when absent or `-`.
        file: Option<PathBuf>,
        /// Also print comments and retry changes, each as a line with a "kind" key.
        #[arg(short, long)]
        verbose: bool,
        /// Longest accepted line, in bytes.
        #[arg(long, default_value_t = sse_model::Limits::default().max_line_len)]
        max_line: usize,
        /// Largest accepted event data, in bytes.
        #[arg(long, default_value_t = sse_model::Limits::default().max_event_data)]
        max_event: usize,
    },
    /// Explain a stream line by line: what each line does to a client's buffers, by which rule
    /// (requirement ids), what is dispatched, where browsers and libraries do otherwise, and what
    /// the server's bytes and headers get wrong.
    ///
    /// Reads a file, standard input, or a live stream from an http:// URL on loopback (for at most
    /// --seconds). Exits 1 when the stream breaks a parser limit, 2 when it cannot be read.
    Explain(explain::Args),
    /// Check a server's stream at a URL (loopback): the checks of fixtures/server-checks/, a
    /// verdict each with its requirement ids and the offending bytes.
    ///
    /// Declare what the server supports (--resume, --end-with-204): a check that needs more is
    /// unsupported, never a fail. Exits 1 when a check fails, 2 on bad arguments.
    CheckServer(check_server::Args),
    /// Check a proxy in front of an SSE server: the reference server runs at --upstream, the
    /// proxy at --proxy forwards to it, and every byte is read back through the proxy: the delay
    /// it adds to events (plain, gzip, br), headers dropped or added, changed bytes,
    /// Last-Event-ID passed on, and idle cuts.
    ///
    /// Exits 1 when a measurement fails, 2 on bad arguments.
    CheckProxy(check_proxy::Args),
    /// Run the reference server (demo streams, topics, scripted cases; see the sse-server docs).
    Serve(serve::Args),
    /// Run the case catalogue on implementations under test and judge every case.
    ///
    /// Exits 0 when no case fails, 1 when one does, 2 on bad arguments.
    Run(run::Args),
    /// Run every implementation and write the conformance report (HTML, JSON, JUnit, Markdown).
    Report {
        /// Where to write the files.
        #[arg(long, default_value = "target/conformance")]
        out: PathBuf,
    },
    /// Check a test service's handling of the protocol before running cases on it: GET / and
    /// its capabilities, POST / and the new stream's Location, callbacks numbered from 1, the
    /// commands it declares, DELETE within the limit a run gives it.
    ///
    /// One line per problem; exits 1 on any, 2 on bad arguments.
    ServiceCheck {
        /// The test service's base URL (loopback).
        url: String,
    },
    /// Join the reports of several runs (`--shard` parts, or columns run on separate machines)
    /// into the four files one run would have written.
    ///
    /// Exits 0 when the merged report has no failing case or check (or, with --expectations,
    /// every verdict is as expected), 1 otherwise, 2 on unreadable or overlapping reports.
    Merge {
        /// Directories holding a report.json each (or report.json files).
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Where to write report.json, junit.xml, summary.md and index.html.
        #[arg(long)]
        out: PathBuf,
        /// Judge the merged verdicts against this expectations file (see `ssec run`).
        #[arg(long, value_name = "FILE")]
        expectations: Option<PathBuf>,
        /// The catalogue the runs used, when not the default (see `ssec run --catalogue`).
        #[arg(long, value_name = "DIR")]
        catalogue: Option<PathBuf>,
    },
    /// Run a case file in the simulator and print the model client's trace.
    Sim {
        /// The case file (fixtures/cases/*.toml).
        case: PathBuf,
        /// Seed for the simulation (default: the case's own).
        #[arg(long)]
        seed: Option<u64>,
        /// Follow another reading of an ambiguous text (keep-last-event-id,
        /// reconnect-to-redirect-target, cors-failure-reestablishes); repeat the flag for
        /// several.
        #[arg(long)]
        reading: Vec<String>,
    },
}

fn main() -> ExitCode {
    // The version names the catalogue compiled in: a report records the one that judged it.
    let version: &'static str = Box::leak(
        format!(
            "{} (catalogue {}, {} files compiled in)",
            env!("CARGO_PKG_VERSION"),
            sse_case::embedded::hash(),
            sse_case::embedded::files()
        )
        .into_boxed_str(),
    );
    let matches = Cli::command().version(version).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match cli.command {
        Command::Parse {
            file,
            verbose,
            max_line,
            max_event,
        } => {
            let limits = sse_model::Limits {
                max_line_len: max_line,
                max_event_data: max_event,
            };
            parse::run(file.as_deref(), verbose, limits)
        }
        Command::Explain(args) => explain::run(&args),
        Command::CheckServer(args) => check_server::run(&args),
        Command::CheckProxy(args) => check_proxy::run(&args),
        Command::Serve(args) => serve::run(args),
        Command::Sim {
            case,
            seed,
            reading,
        } => sim::run(&case, seed, &reading),
        Command::Run(args) => run::run(&args),
        Command::Report { out } => run::run(&run::Args::report(out)),
        Command::ServiceCheck { url } => service_check(&url),
        Command::Merge {
            reports,
            out,
            expectations,
            catalogue,
        } => run::merge(
            &reports,
            &out,
            expectations.as_deref(),
            catalogue.as_deref(),
        ),
    }
}

/// `ssec service-check URL`.
fn service_check(url: &str) -> ExitCode {
    let url = match url::Url::parse(url) {
        Ok(u) if u.scheme() == "http" && u.host_str().is_some() => u,
        _ => {
            eprintln!("ssec service-check: {url:?} is not an http:// URL");
            return ExitCode::from(2);
        }
    };
    if let Err(why) = sse_http::net::loopback_ip(url.host_str().unwrap_or_default()) {
        eprintln!("ssec service-check: {why}");
        return ExitCode::from(2);
    }
    let runtime = match two_threads() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ssec service-check: {e}");
            return ExitCode::from(2);
        }
    };
    let found = runtime.block_on(sse_harness::service_check::check(&url));
    for line in &found.passed {
        println!("ok       {}", sse_harness::escape::terminal(line));
    }
    for line in &found.problems {
        println!("problem  {}", sse_harness::escape::terminal(line));
    }
    if found.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Ends a command that could not do its job (its misuse, or this machine's; never a verdict):
/// one line on standard error, escaped (paths, URLs and what a service or proxy said come from
/// outside), exit 2.
fn misuse(command: &str, why: impl std::fmt::Display) -> ExitCode {
    eprintln!(
        "ssec {command}: {}",
        sse_harness::escape::terminal(&why.to_string())
    );
    ExitCode::from(2)
}

/// The runtime of the checks that wait on a service or proxy while it answers: two workers.
fn two_threads() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}
