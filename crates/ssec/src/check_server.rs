//! `ssec check-server URL`: the server checks of `fixtures/server-checks/` against a server at a
//! URL on loopback, a verdict per check with its requirement ids and the offending bytes.

use std::collections::BTreeSet;
use std::process::ExitCode;

use sse_checks::server_check::{self, CheckResult, Declaration, Server};
use sse_harness::Catalogue;
use sse_harness::escape::terminal;
use sse_harness::judge::Outcome;
use sse_harness::run::glob;

/// Arguments of `ssec check-server`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The stream's URL (http:// on loopback).
    url: String,
    /// Only the checks whose id matches this glob (repeatable).
    #[arg(long)]
    check: Vec<String>,
    /// The server resumes after Last-Event-ID (runs the resume checks).
    #[arg(long)]
    resume: bool,
    /// The server answers 204 once a stream has no more to send (runs the 204 check).
    #[arg(long)]
    end_with_204: bool,
    /// The server speaks HTTP/2 with prior knowledge (h2c) on the stream's port (runs the
    /// HTTP/2 concurrency check).
    #[arg(long)]
    http2: bool,
    /// An endpoint that publishes an event to the stream: a POST whose body (a JSON string)
    /// the event's data carries (runs the delivery checks).
    #[arg(long)]
    publish: Option<String>,
    /// A stream that is quiet unless something is published, when it is not URL: the delivery
    /// and keep-alive checks read it.
    #[arg(long)]
    live: Option<String>,
    /// Read every stream this long instead of each check's own time.
    #[arg(long)]
    seconds: Option<f64>,
    /// Most bytes to read from one response.
    #[arg(long, default_value_t = 1 << 20)]
    max_bytes: usize,
    /// One JSON array of results instead of text.
    #[arg(long)]
    json: bool,
    /// Also write report.json, junit.xml, summary.md and index.html into this directory (the
    /// report of `cargo xtask report`, with this server as its one column).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// The server's column id in the report written by `--out`.
    #[arg(long, default_value = "server")]
    name: String,
    /// Read the checks from this directory instead of fixtures/server-checks/ (your own, same
    /// format).
    #[arg(long)]
    checks_dir: Option<std::path::PathBuf>,
    /// Judge the checks against the expected verdicts in this TOML file (the column is
    /// `--name`): exit 0 when every verdict is as expected (see `ssec run --expectations`).
    #[arg(long, value_name = "FILE")]
    expectations: Option<std::path::PathBuf>,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    check(args).unwrap_or_else(|e| crate::misuse("check-server", e))
}

/// Runs the checks; an error is the command's misuse or this machine's (exit 2), never a
/// verdict.
fn check(args: &Args) -> Result<ExitCode, String> {
    let expectations = args
        .expectations
        .as_deref()
        .map(sse_harness::report::expectations::Expectations::load)
        .transpose()
        .map_err(|e| e.to_string())?;
    let catalogue = Catalogue::load_default().map_err(|e| e.to_string())?;
    let checks = match &args.checks_dir {
        Some(dir) => server_check::load(dir, &catalogue),
        None => server_check::load_default(&catalogue),
    }
    .map_err(|e| e.to_string())?;
    let checks: Vec<_> = checks
        .into_iter()
        .filter(|c| args.check.is_empty() || args.check.iter().any(|g| glob(g, &c.id)))
        .collect();
    if checks.is_empty() {
        return Err("no check matches --check".into());
    }
    let server = server(args)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let results: Vec<CheckResult> = rt.block_on(server_check::run_all(&checks, &server));
    let mut report = sse_harness::report::RunReport::new(&catalogue, Vec::new());
    let column = sse_harness::report::ServerReport::of_server(
        &args.name,
        server.url.to_string(),
        &server.declares,
        results.clone(),
        started.elapsed(),
    );
    report.add_servers(&checks, vec![column]);
    if let Some(e) = &expectations {
        report.mark_expected(e);
    }
    if let Some(dir) = &args.out {
        crate::run::write_report(&report, dir)?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?
        );
    } else {
        print_results(&results, &server.url);
    }
    if let Some(e) = &expectations {
        return Ok(crate::run::judge_against(e, &report));
    }
    Ok(if results.iter().any(|r| r.outcome == Outcome::Fail) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The server under check, as the flags describe it.
fn server(args: &Args) -> Result<Server, String> {
    let url = url::Url::parse(&args.url).map_err(|e| format!("bad URL {:?}: {e}", args.url))?;
    if args.seconds.is_some_and(|s| !(0.1..=600.0).contains(&s)) {
        return Err("--seconds must be 0.1 to 600".into());
    }
    let mut declares = BTreeSet::new();
    if args.resume {
        declares.insert(Declaration::Resume);
    }
    if args.end_with_204 {
        declares.insert(Declaration::EndWith204);
    }
    if args.http2 {
        declares.insert(Declaration::Http2);
    }
    let publish = optional_url(args.publish.as_deref(), "--publish")?;
    if publish.is_some() {
        declares.insert(Declaration::Publish);
    }
    let live = optional_url(args.live.as_deref(), "--live")?;
    Ok(Server {
        url,
        declares,
        max_bytes: args.max_bytes,
        seconds: args.seconds,
        publish,
        live,
    })
}

/// The URL an optional flag gives, if it gives one.
fn optional_url(value: Option<&str>, flag: &str) -> Result<Option<url::Url>, String> {
    value
        .map(url::Url::parse)
        .transpose()
        .map_err(|e| format!("bad {flag} URL: {e}"))
}

/// One line per check, what it measured and found indented under it, then the totals.
fn print_results(results: &[CheckResult], url: &url::Url) {
    for r in results {
        println!(
            "{:<13} {}  [{}]",
            r.outcome.name(),
            r.check,
            r.requirements.join(" ")
        );
        if let Some(m) = &r.measured {
            println!("              {}", terminal(m));
        }
        for f in &r.findings {
            println!(
                "              {} [{}]",
                terminal(&f.message),
                f.requirements.join(" ")
            );
        }
        if r.outcome == Outcome::Fail {
            if let Some(bytes) = r.evidence_text() {
                println!("              bytes: {}", terminal(&bytes));
            }
        }
        if r.outcome != Outcome::Pass {
            if let Some(lines) = &r.annotation {
                println!("              as a client reads them (ssec explain):");
                for line in lines.lines() {
                    println!("              {}", terminal(line));
                }
            }
        }
    }
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    println!(
        "{}: {} checks, {} pass, {} fail, {} non-strict, {} informational, {} unsupported",
        terminal(url.as_str()),
        results.len(),
        count(Outcome::Pass),
        count(Outcome::Fail),
        count(Outcome::NonStrict),
        count(Outcome::Informational),
        count(Outcome::Unsupported)
    );
}
