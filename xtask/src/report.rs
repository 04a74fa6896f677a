//! `cargo xtask report`: the conformance run of the README, the same code as `ssec report`.

use std::path::Path;

use anyhow::{Result, anyhow};
use sse_harness::Catalogue;
use sse_harness::judge::Outcome;
use sse_harness::report::{conformance, verdict_line};
use sse_harness::run::{Selection, Target};

pub(crate) fn run(root: &Path, out: &Path, implementations: &[String]) -> Result<bool> {
    let catalogue = Catalogue::load(root)?;
    let mut targets = Vec::new();
    if implementations.is_empty() {
        targets = Target::builtin();
    }
    for spec in implementations {
        if spec == "all" {
            let (ready, unavailable) = Target::all();
            targets.extend(ready);
            for u in unavailable {
                crate::say(&format!("{}: unavailable: {}\n", u.id, u.reason));
            }
        } else {
            targets.push(Target::parse(spec).map_err(|e| anyhow!(e))?);
        }
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
