//! `ssec run` and `ssec report`: the case catalogue on implementations under test, judged, with
//! a progress bar on a terminal, a line per case that did not pass, and optionally the report
//! files (`report.json`, `junit.xml`, `summary.md`, `index.html`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use sse_harness::LoadError;
use sse_harness::evidence::Evidence;
use sse_harness::judge::Outcome;
use sse_harness::report::expectations::Expectations;
use sse_harness::report::{RunReport, verdict_line};
use sse_harness::run::Shard;
use sse_harness::run::conformance;
use sse_harness::run::{Selection, Target, resolve};
use sse_harness::{Catalogue, mimic};

/// Options of `ssec run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Implementations to run (repeat the flag): model-sim, model-loopback, chromium, firefox;
    /// the linked Rust clients eventsource-client-sim, eventsource-client-loopback and
    /// reqwest-eventsource-loopback; service=URL (a test service already running, see
    /// docs/test-service.md); adapter:NAME (one of adapters/, set up and started); or `all`
    /// (every one that can run here). Two that would make columns of one name are refused.
    #[arg(long = "impl", default_value = "model-sim")]
    implementations: Vec<String>,
    /// Only cases whose id matches this glob (`*` and `?`; repeat the flag for several).
    #[arg(long = "case")]
    cases: Vec<String>,
    /// Only cases that check this requirement id (repeatable).
    #[arg(long = "requirement")]
    requirements: Vec<String>,
    /// Print the whole report as JSON on standard output instead of lines (the summary goes to
    /// standard error).
    #[arg(long)]
    json: bool,
    /// Also print the findings and both traces of every case that did not pass.
    #[arg(short, long)]
    verbose: bool,
    /// Write report.json, junit.xml, summary.md and index.html into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep every observed line whole in the report (by default each is abridged to 4 KiB, with
    /// its length stated, and a case keeps 1 MiB of them: an implementation cannot make the
    /// report grow with what it sends).
    #[arg(long)]
    full_evidence: bool,
    /// Run only part K of N of the selected cases (`--shard 2/4`): the parts are the same on
    /// every machine, and `ssec merge` joins their reports into the one an unsharded run writes.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Judge the run against the expected verdicts in this TOML file: exit 0 when every verdict
    /// is as expected, else 1, naming the regressions (worse than expected) and, apart, the
    /// improvements (better: update the file). A case it does not list is expected to pass.
    #[arg(long, value_name = "FILE")]
    expectations: Option<PathBuf>,
    /// Write the run's verdicts as an expectations file (every verdict but pass), keeping the
    /// reasons of `--expectations` where a verdict is unchanged.
    #[arg(long, value_name = "FILE")]
    write_expectations: Option<PathBuf>,
    /// The catalogue to run (a checkout's directory with spec/ and fixtures/); default: the
    /// one SSE_CATALOGUE names, else the one compiled into ssec.
    #[arg(long, value_name = "DIR")]
    catalogue: Option<PathBuf>,
}

impl Args {
    /// The arguments of `ssec report`: every implementation, files in `out`.
    pub(crate) fn report(out: PathBuf) -> Self {
        Args {
            implementations: vec!["all".into()],
            cases: Vec::new(),
            requirements: Vec::new(),
            json: false,
            verbose: false,
            out: Some(out),
            full_evidence: false,
            shard: None,
            expectations: None,
            write_expectations: None,
            catalogue: None,
        }
    }
}

/// The catalogue `dir` holds, else the default one (SSE_CATALOGUE, else compiled in).
pub(crate) fn load_catalogue(dir: Option<&std::path::Path>) -> Result<Catalogue, LoadError> {
    match dir {
        Some(dir) => Catalogue::load(dir),
        None => Catalogue::load_default(),
    }
}

pub(crate) fn run(args: &Args) -> ExitCode {
    run_selected(args).unwrap_or_else(|e| crate::misuse("run", e))
}

/// Runs the selection and reports it; an error is the command's misuse or this machine's
/// (exit 2), never a verdict.
fn run_selected(args: &Args) -> Result<ExitCode, String> {
    let expectations = args
        .expectations
        .as_deref()
        .map(Expectations::load)
        .transpose()
        .map_err(|e| e.to_string())?;
    let catalogue = load_catalogue(args.catalogue.as_deref()).map_err(|e| e.to_string())?;
    let (targets, unavailable) =
        resolve(&args.implementations, sse_rust_clients::LINKED).map_err(|e| e.to_string())?;
    for u in &unavailable {
        eprintln!("{}", u.line());
    }
    if let Some(unknown) = args
        .requirements
        .iter()
        .find(|r| catalogue.requirement(r).is_none())
    {
        return Err(format!(
            "no requirement {unknown} in spec/requirements.toml"
        ));
    }
    let selection = Selection {
        cases: args.cases.clone(),
        requirements: args.requirements.clone(),
        shard: args.shard,
    };
    let selected = selection.apply(&catalogue).len();
    if selected == 0 {
        return Err("no case matches the selection".into());
    }
    let mut report = run_with_progress(args, &catalogue, &targets, &selection, selected);
    report.add_unavailable(&unavailable);
    if let Some(e) = &expectations {
        report.mark_expected(e);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
        // The summary still ends the run, beside the JSON rather than in it.
        eprint!("{}", totals(&report));
    } else {
        print!("{}", totals(&report));
    }
    if let Some(dir) = &args.out {
        write_report(&report, dir)?;
    }
    if let Some(path) = &args.write_expectations {
        Expectations::of(&report, expectations.as_ref())
            .write(path)
            .map_err(|e| e.to_string())?;
        eprintln!("wrote the verdicts as expectations into {}", path.display());
    }
    Ok(match &expectations {
        Some(e) => judge_against(e, &report),
        None if report.failed() => ExitCode::FAILURE,
        None => ExitCode::SUCCESS,
    })
}

/// Writes the report's four files into `dir`, and says so.
pub(crate) fn write_report(report: &RunReport, dir: &std::path::Path) -> Result<(), String> {
    report
        .write(dir)
        .map_err(|e| format!("cannot write the report into {}: {e}", dir.display()))?;
    eprintln!(
        "wrote {0}/index.html, report.json, junit.xml and summary.md",
        dir.display()
    );
    Ok(())
}

/// Runs the cases with a progress bar, printing each verdict other than a pass as it comes.
fn run_with_progress(
    args: &Args,
    catalogue: &Catalogue,
    targets: &[Target],
    selection: &Selection,
    selected: usize,
) -> RunReport {
    let bar = progress_bar((selected * targets.len()) as u64);
    let evidence = if args.full_evidence {
        Evidence::Full
    } else {
        Evidence::Abridged
    };
    let report = conformance(
        catalogue,
        targets,
        selection,
        evidence,
        &|target, result| {
            bar.inc(1);
            bar.set_message(sse_harness::escape::terminal(&format!(
                "{} {}",
                target.id(),
                result.case
            )));
            if result.verdict.outcome != Outcome::Pass && !args.json {
                bar.suspend(|| {
                    eprintln!("{}", verdict_line(&target.id(), result));
                    if args.verbose && result.verdict.outcome != Outcome::Unsupported {
                        eprintln!("{}", mimic::explain(result));
                    }
                });
            }
        },
    );
    bar.finish_and_clear();
    report
}

/// Exit 0 when every verdict is as `expectations` says, else 1 with the changes, on standard
/// error, escaped (ids and columns come from files and services).
pub(crate) fn judge_against(expectations: &Expectations, report: &RunReport) -> ExitCode {
    let comparison = expectations.compare(report);
    eprint!("{}", comparison.text());
    if comparison.agrees() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `ssec merge`: the reports joined, written, and judged as one run's would be.
pub(crate) fn merge(
    reports: &[PathBuf],
    out: &std::path::Path,
    expectations: Option<&std::path::Path>,
    catalogue: Option<&std::path::Path>,
) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| crate::misuse("merge", e);
    let expectations = match expectations.map(Expectations::load).transpose() {
        Ok(e) => e,
        Err(e) => return fail(&e),
    };
    let catalogue = match load_catalogue(catalogue) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let mut parts = Vec::new();
    for path in reports {
        match sse_harness::report::merge::read(path) {
            Ok(r) => parts.push(r),
            Err(e) => return fail(&e),
        }
    }
    let mut report = match RunReport::merge(&catalogue, parts) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if let Some(e) = &expectations {
        report.mark_expected(e);
    }
    if let Err(e) = write_report(&report, out) {
        return fail(&e);
    }
    print!("{}", totals(&report));
    match &expectations {
        Some(e) => judge_against(e, &report),
        None if report.failed() => ExitCode::FAILURE,
        None => ExitCode::SUCCESS,
    }
}

/// A line per implementation: how many cases got each verdict.
fn totals(report: &RunReport) -> String {
    report
        .implementations
        .iter()
        .map(|imp| imp.totals_line() + "\n" + &imp.warning_lines())
        .collect()
}

/// A progress bar on a terminal; hidden otherwise (CI logs get the per-case lines only).
fn progress_bar(len: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}")
    {
        bar.set_style(style);
    }
    bar
}
