//! `cargo xtask report`: the conformance run of the README, the same code as `ssec report`.

use std::path::Path;

use anyhow::{Result, anyhow};
use sse_harness::Catalogue;
use sse_harness::judge::Outcome;
use sse_harness::report::{conformance, verdict_line};
use sse_harness::run::{Selection, Target};

pub(crate) fn run(root: &Path, out: &Path, implementations: &[String]) -> Result<bool> {
    let catalogue = Catalogue::load(root)?;
    let targets = if implementations.is_empty() {
        Target::all()
    } else {
        implementations
            .iter()
            .map(|s| Target::parse(s).map_err(|e| anyhow!(e)))
            .collect::<Result<Vec<_>>>()?
    };
    crate::say(&format!(
        "running {} cases on {}\n",
        catalogue.cases.len(),
        targets
            .iter()
            .map(Target::id)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let report = conformance(
        &catalogue,
        &targets,
        &Selection::default(),
        &|target, result| {
            if result.verdict.outcome != Outcome::Pass {
                crate::say(&(verdict_line(&target.id(), result) + "\n"));
            }
        },
    );
    for imp in &report.implementations {
        crate::say(&(imp.totals_line() + "\n"));
    }
    report.write(out)?;
    crate::say(&format!(
        "wrote {0}/index.html, {0}/report.json, {0}/junit.xml, {0}/summary.md\n",
        out.display()
    ));
    Ok(!report.failed())
}
