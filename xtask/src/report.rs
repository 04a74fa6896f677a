//! `cargo xtask report`: the conformance run of the README, the same code as `ssec report`.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use sse_checks::{server_check, setups};
use sse_harness::Catalogue;
use sse_harness::evidence::Evidence;
use sse_harness::judge::Outcome;
use sse_harness::report::expectations::Expectations;
use sse_harness::report::{RunReport, verdict_line};
use sse_harness::run::conformance;
use sse_harness::run::{Selection, Target, glob, resolve};

/// The expectations files of a run: the one it is judged against, the one it writes.
pub(crate) struct Expecting {
    /// Judge against this file.
    pub(crate) read: Option<PathBuf>,
    /// Write the verdicts here.
    pub(crate) write: Option<PathBuf>,
}

pub(crate) fn run(
    root: &Path,
    out: &Path,
    implementations: &[String],
    servers: Option<&[String]>,
    evidence: Evidence,
    expecting: &Expecting,
) -> Result<bool> {
    // The default report is judged against what it expects of the libraries it runs.
    let default = (implementations.is_empty() && servers.is_none())
        .then(|| root.join(DEFAULT_EXPECTATIONS))
        .filter(|p| p.is_file());
    let expectations = expecting
        .read
        .clone()
        .or(default)
        .as_deref()
        .map(Expectations::load)
        .transpose()?;
    let catalogue = Catalogue::load(root)?;
    // Every set-up (`--servers` alone) or the chosen ones; by default the reference server.
    let all_servers = servers.is_some_and(<[String]>::is_empty);
    let patterns: Vec<String> = match servers {
        None => vec!["reference".into()],
        Some(p) => p.to_vec(),
    };
    let servers_only = servers.is_some() && implementations.is_empty();
    let checks = server_check::load_default(&catalogue)?;
    let chosen: Vec<setups::Setup> = setups::load_default(root)?
        .into_iter()
        .filter(|s| patterns.is_empty() || patterns.iter().any(|p| glob(p, &s.id)))
        .collect();
    if chosen.is_empty() {
        return Err(anyhow!(
            "no set-up of servers/setups.toml matches {}",
            patterns.join(", ")
        ));
    }
    crate::say(&format!(
        "checking {} server set-ups with {} checks: {}\n",
        chosen.len(),
        checks.len(),
        chosen
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    // The server checks run while the client columns do: they are mostly waiting (the
    // keep-alive check reads a quiet stream for 20 s), and so are loopback runs. Three set-ups
    // at a time.
    let (report, columns) = std::thread::scope(|scope| {
        let servers = scope.spawn(|| {
            setups::check_each(root, &chosen, &checks, 3, &|column| {
                let mut text = String::new();
                for c in column.checks.iter().filter(|c| c.outcome != Outcome::Pass) {
                    text.push_str(&format!(
                        "{:<13} server:{} {}: {}\n",
                        c.outcome.name(),
                        column.id,
                        c.check,
                        c.findings.first().map_or("", |f| f.message.as_str())
                    ));
                }
                crate::say(&(text + &column.totals_line() + "\n"));
            })
        });
        let report = if servers_only {
            Ok(RunReport::new(&catalogue, Vec::new()))
        } else {
            clients(&catalogue, implementations, evidence)
        };
        (report, servers.join())
    });
    let mut report = report?;
    let columns = columns.map_err(|_| anyhow!("the server checks panicked"))?;
    report.add_servers(&checks, columns);
    if let Some(e) = &expectations {
        report.mark_expected(e);
    }
    report.write(out)?;
    if let Some(path) = &expecting.write {
        Expectations::of(&report, expectations.as_ref()).write(path)?;
        crate::say(&format!(
            "wrote the verdicts as expectations into {}\n",
            path.display()
        ));
    }
    // Every implementation, or every server set-up: the committed samples a visitor reads
    // without running anything.
    let mut samples = Vec::new();
    if implementations.iter().any(|i| i == "all") {
        samples.push("docs/report/summary.md");
    }
    if all_servers {
        samples.push("docs/report/servers.md");
    }
    for sample in samples {
        let path = root.join(sample);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, report.markdown())?;
        crate::say(&format!("wrote {}\n", path.display()));
    }
    crate::say(&format!(
        "wrote {0}/index.html, {0}/report.json, {0}/junit.xml, {0}/summary.md\n",
        out.display()
    ));
    let Some(expectations) = &expectations else {
        return Ok(!report.failed());
    };
    let comparison = expectations.compare(&report);
    crate::say(&comparison.text());
    Ok(comparison.agrees())
}

/// The linked libraries of the default report (their loopback eventsource-client column is in
/// `--impl all`: its randomised backoff makes a few verdicts vary from run to run).
const DEFAULT_LINKED: [&str; 2] = ["eventsource-client-sim", "reqwest-eventsource-loopback"];

/// What the default report expects of the linked libraries.
pub(crate) const DEFAULT_EXPECTATIONS: &str = "expectations/default.toml";

/// The client columns: the case catalogue on each implementation.
fn clients(
    catalogue: &Catalogue,
    implementations: &[String],
    evidence: Evidence,
) -> Result<RunReport> {
    let (targets, unavailable) = if implementations.is_empty() {
        // The model, and the linked Rust libraries that need nothing installed and whose
        // verdicts hold from run to run: a first report that judges real libraries.
        let (mut targets, unavailable) =
            resolve(&DEFAULT_LINKED.map(String::from), sse_rust_clients::LINKED)
                .map_err(|e| anyhow!(e))?;
        let mut all = Target::builtin();
        all.append(&mut targets);
        (all, unavailable)
    } else {
        resolve(implementations, sse_rust_clients::LINKED).map_err(|e| anyhow!(e))?
    };
    for u in &unavailable {
        crate::say(&format!("{}\n", u.line()));
    }
    crate::say(&format!(
        "running {} cases on {}\n",
        catalogue.cases.len(),
        sse_harness::escape::terminal(
            &targets
                .iter()
                .map(Target::id)
                .collect::<Vec<_>>()
                .join(", ")
        )
    ));
    let mut report = conformance(
        catalogue,
        &targets,
        &Selection::default(),
        evidence,
        &|target, result| {
            if result.verdict.outcome != Outcome::Pass {
                crate::say(&(verdict_line(&target.id(), result) + "\n"));
            }
        },
    );
    report.add_unavailable(&unavailable);
    for imp in &report.implementations {
        crate::say(&(imp.totals_line() + "\n" + &imp.warning_lines()));
    }
    Ok(report)
}
