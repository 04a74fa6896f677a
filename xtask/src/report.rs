//! `cargo xtask report`: the conformance run of the README, the same code as `ssec report`.

use std::path::Path;

use anyhow::{Result, anyhow};
use sse_harness::Catalogue;
use sse_harness::judge::Outcome;
use sse_harness::report::{conformance, verdict_line};
use sse_harness::run::{Selection, Target, resolve};

pub(crate) fn run(root: &Path, out: &Path, implementations: &[String]) -> Result<bool> {
    let catalogue = Catalogue::load(root)?;
    let (targets, unavailable) = if implementations.is_empty() {
        (Target::builtin(), Vec::new())
    } else {
        resolve(implementations, sse_rust_clients::LINKED).map_err(|e| anyhow!(e))?
    };
    for u in &unavailable {
        crate::say(&format!("{}: unavailable: {}\n", u.id(), u.reason));
    }
    crate::say(&format!(
        "running {} cases on {}\n",
        catalogue.cases.len(),
        targets
            .iter()
            .map(Target::id)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let mut report = conformance(
        &catalogue,
        &targets,
        &Selection::default(),
        &|target, result| {
            if result.verdict.outcome != Outcome::Pass {
                crate::say(&(verdict_line(&target.id(), result) + "\n"));
            }
        },
    );
    report.add_unavailable(&unavailable);
    for imp in &report.implementations {
        crate::say(&(imp.totals_line() + "\n"));
    }
    report.write(out)?;
    // Every implementation: the committed sample report a visitor reads without running anything.
    if implementations.iter().any(|i| i == "all") {
        let sample = root.join("docs/report/summary.md");
        if let Some(dir) = sample.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&sample, report.markdown())?;
        crate::say(&format!("wrote {}\n", sample.display()));
    }
    crate::say(&format!(
        "wrote {0}/index.html, {0}/report.json, {0}/junit.xml, {0}/summary.md\n",
        out.display()
    ));
    Ok(!report.failed())
}
