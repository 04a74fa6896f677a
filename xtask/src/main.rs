//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.

mod bench;
mod coverage;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sse_harness::evidence::Evidence;

/// Project automation for the SSE conformance suite.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job: run the case catalogue on the model (in the simulator and over loopback)
    /// and on the linked Rust libraries eventsource-client (simulator) and reqwest-eventsource
    /// (loopback), check the reference server, and write the conformance report: report.json,
    /// junit.xml, summary.md and index.html. Fails when a verdict is other than
    /// expectations/default.toml expects (the libraries' known failures; every other verdict
    /// must pass); with --impl or --servers, when any case or check fails, unless
    /// --expectations is given.
    Report {
        /// Where to write the files.
        #[arg(long, default_value = "target/conformance")]
        out: PathBuf,
        /// Client implementations to run (repeatable; `all` for every one that can run here;
        /// default: the model columns and the two linked Rust libraries).
        #[arg(long = "impl")]
        implementations: Vec<String>,
        /// Server set-ups of servers/setups.toml to check (ids or globs, repeatable or
        /// comma-separated; alone: every one). Without `--impl` it runs no client columns.
        /// Default: the reference server.
        #[arg(long, num_args = 0.., value_delimiter = ',')]
        servers: Option<Vec<String>>,
        /// Keep every observed line whole in the report (by default each is abridged to 4 KiB
        /// with its length stated, and a case keeps 1 MiB of them).
        #[arg(long)]
        full_evidence: bool,
        /// Judge the run against the expected verdicts in this TOML file (as `ssec run
        /// --expectations`): fail only on a verdict other than expected.
        #[arg(long, value_name = "FILE")]
        expectations: Option<PathBuf>,
        /// Write the run's verdicts as an expectations file.
        #[arg(long, value_name = "FILE")]
        write_expectations: Option<PathBuf>,
    },
    /// List every requirement with the fixtures and tests that check it; fail if a `must` has none.
    SpecCoverage {
        /// Where to write spec-coverage.md and spec-coverage.json.
        #[arg(long, default_value = "target/reports")]
        out: PathBuf,
        /// Print only the summary and the gaps, not every requirement.
        #[arg(long)]
        quiet: bool,
    },
    /// Run the benchmarks against their named peers and write BENCHMARKS.md.
    Bench {
        /// Run only one set.
        #[arg(long, value_enum)]
        only: Option<bench::Only>,
        /// Size of each input, in MiB (the figures in BENCHMARKS.md use 64).
        #[arg(long, default_value_t = 64)]
        mib: usize,
        /// Do not rewrite BENCHMARKS.md, only print.
        #[arg(long)]
        no_write: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let result = match cli.command {
        Command::Report {
            out,
            implementations,
            servers,
            full_evidence,
            expectations,
            write_expectations,
        } => report::run(
            &root,
            &root.join(out),
            &implementations,
            servers.as_deref(),
            if full_evidence {
                Evidence::Full
            } else {
                Evidence::Abridged
            },
            &report::Expecting {
                read: expectations.map(|p| root.join(p)),
                write: write_expectations.map(|p| root.join(p)),
            },
        ),
        Command::SpecCoverage { out, quiet } => coverage::run(&root, &root.join(out), quiet),
        Command::Bench {
            mib,
            no_write,
            only,
        } => bench::run(&root, mib, !no_write, only),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Writes to standard output; a reader that went away (`| head`) is not an error.
fn say(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// The workspace root: xtask lives one level below it.
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}
