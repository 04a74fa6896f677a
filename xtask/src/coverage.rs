//! `cargo xtask spec-coverage`: which fixtures, cases and tests check each requirement.
//!
//! Fixtures name their ids in `fixtures/streams/manifest.toml` (`checks = [...]`), cases and
//! server checks (`fixtures/server-checks/`) in their own TOML (`checks = [...]`), and Rust tests in a comment line `// spec: ID ID ...` just above
//! the test or table row. An id that is not in the catalogue is an error.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use sse_harness::spec::{self, Level, Requirement};

/// What checks a requirement, and where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct Checker {
    kind: &'static str,
    place: String,
}

#[derive(Debug, Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    requirement: &'a Requirement,
    url: String,
    checked_by: Vec<Checker>,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    requirements: usize,
    must: usize,
    must_uncovered: Vec<&'a str>,
    /// Connection and state `must` requirements that no simulator case (or test over the case
    /// catalogue) checks.
    network_unsimulated: Vec<&'a str>,
    network: usize,
    uncovered: Vec<&'a str>,
    rows: Vec<Row<'a>>,
}

/// The marker that ties a Rust test to requirement ids.
const MARKER: &str = "// spec:";

pub(crate) fn run(root: &Path, out: &Path, quiet: bool) -> Result<bool> {
    let requirements = spec::load(&root.join("spec/requirements.toml"))?;
    let mut checked: BTreeMap<String, Vec<Checker>> = BTreeMap::new();
    let mut unknown = Vec::new();
    let known: std::collections::BTreeSet<&str> =
        requirements.iter().map(|r| r.id.as_str()).collect();
    let mut add = |id: &str, checker: Checker| {
        if known.contains(id) {
            checked.entry(id.to_owned()).or_default().push(checker);
        } else {
            unknown.push(format!(
                "{id} (named by {} {})",
                checker.kind, checker.place
            ));
        }
    };
    for (name, checks) in stream_fixtures(root)? {
        for id in checks {
            add(
                &id,
                Checker {
                    kind: "fixture",
                    place: format!("fixtures/streams/{name}.sse"),
                },
            );
        }
    }
    for (file, checks) in case_files(root)? {
        for id in checks {
            add(
                &id,
                Checker {
                    kind: "case",
                    place: file.clone(),
                },
            );
        }
    }
    let catalogue = sse_harness::Catalogue::load(root)?;
    for check in sse_checks::server_check::load_default(&catalogue)? {
        for id in &check.checks {
            add(
                id,
                Checker {
                    kind: "server-check",
                    place: format!("fixtures/server-checks/{}.toml", check.id),
                },
            );
        }
    }
    for (place, ids) in test_markers(root)? {
        for id in ids {
            add(
                &id,
                Checker {
                    kind: "test",
                    place: place.clone(),
                },
            );
        }
    }
    if !unknown.is_empty() {
        bail!(
            "ids not in spec/requirements.toml:\n  {}",
            unknown.join("\n  ")
        );
    }

    let rows: Vec<Row<'_>> = requirements
        .iter()
        .map(|r| {
            let mut checked_by = checked.remove(&r.id).unwrap_or_default();
            checked_by.sort();
            checked_by.dedup();
            Row {
                requirement: r,
                url: r.url(),
                checked_by,
            }
        })
        .collect();
    let uncovered: Vec<&str> = rows
        .iter()
        .filter(|r| r.checked_by.is_empty())
        .map(|r| r.requirement.id.as_str())
        .collect();
    let must_uncovered: Vec<&str> = rows
        .iter()
        .filter(|r| r.checked_by.is_empty() && r.requirement.level == Level::Must)
        .map(|r| r.requirement.id.as_str())
        .collect();
    let network_rows: Vec<&Row<'_>> = rows
        .iter()
        .filter(|r| r.requirement.level == Level::Must && is_network(&r.requirement.id))
        .collect();
    let network_unsimulated: Vec<&str> = network_rows
        .iter()
        .filter(|r| !r.checked_by.iter().any(is_simulated))
        .map(|r| r.requirement.id.as_str())
        .collect();
    let network = network_rows.len();
    let report = Report {
        network_unsimulated,
        network,
        requirements: rows.len(),
        must: rows
            .iter()
            .filter(|r| r.requirement.level == Level::Must)
            .count(),
        must_uncovered,
        uncovered,
        rows,
    };

    crate::say(&text(&report, quiet));
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(out.join("spec-coverage.md"), markdown(&report))?;
    std::fs::write(
        out.join("spec-coverage.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    crate::say(&format!(
        "\nwrote {0}/spec-coverage.md and {0}/spec-coverage.json\n",
        out.display()
    ));
    Ok(report.must_uncovered.is_empty() && report.network_unsimulated.is_empty())
}

/// Connection, state and reconnection requirements: the processing model, the request,
/// reestablish, fail and close. Each `must` among them needs a simulator case.
fn is_network(id: &str) -> bool {
    [
        "CONN-",
        "RECONNECT-",
        "FAIL-",
        "CLOSE-",
        "REQ-",
        "LAST-EVENT-ID-",
    ]
    .iter()
    .any(|p| id.starts_with(p))
        || id == "READYSTATE-INITIAL"
}

/// A case file, or the test target that runs the whole case catalogue in the simulator.
fn is_simulated(c: &Checker) -> bool {
    c.kind == "case"
        || (c.kind == "test" && c.place.starts_with("crates/sse-harness/tests/catalogue.rs"))
}

fn counts(checkers: &[Checker]) -> String {
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for c in checkers {
        *by_kind.entry(c.kind).or_default() += 1;
    }
    if by_kind.is_empty() {
        return "NOT CHECKED".to_owned();
    }
    by_kind
        .iter()
        .map(|(k, n)| format!("{n} {k}{}", if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn text(report: &Report<'_>, quiet: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "spec coverage: {} requirements, {} covered; {} must, {} of them uncovered",
        report.requirements,
        report.requirements - report.uncovered.len(),
        report.must,
        report.must_uncovered.len()
    );
    if !quiet {
        for row in &report.rows {
            let r = row.requirement;
            let _ = writeln!(
                s,
                "\n{:<32} {:<12} {}",
                r.id,
                r.level.as_str(),
                counts(&row.checked_by)
            );
            for c in &row.checked_by {
                let _ = writeln!(s, "    {:<8} {}", c.kind, c.place);
            }
        }
    }
    if !report.uncovered.is_empty() {
        let _ = writeln!(s, "\nnot yet checked by anything (a gap in every report):");
        for row in report.rows.iter().filter(|r| r.checked_by.is_empty()) {
            let _ = writeln!(
                s,
                "  {:<32} {}",
                row.requirement.id,
                row.requirement.level.as_str()
            );
        }
    }
    let _ = writeln!(
        s,
        "\nconnection and state requirements (must): {}, {} of them checked in the simulator",
        report.network,
        report.network - report.network_unsimulated.len()
    );
    if !report.must_uncovered.is_empty() {
        let _ = writeln!(
            s,
            "\nFAIL: `must` requirements with no check: {}",
            report.must_uncovered.join(", ")
        );
    }
    if !report.network_unsimulated.is_empty() {
        let _ = writeln!(
            s,
            "\nFAIL: connection and state requirements with no simulator case: {}",
            report.network_unsimulated.join(", ")
        );
    }
    s
}

fn markdown(report: &Report<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Spec coverage\n");
    let _ = writeln!(
        s,
        "{} requirements; {} checked by at least one fixture, case or test; {} `must`, {} of them unchecked.\n",
        report.requirements,
        report.requirements - report.uncovered.len(),
        report.must,
        report.must_uncovered.len()
    );
    let _ = writeln!(s, "| requirement | level | binds | checked by | summary |");
    let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
    for row in &report.rows {
        let r = row.requirement;
        let binds: Vec<&str> = r.binds.iter().map(|b| b.as_str()).collect();
        let _ = writeln!(
            s,
            "| [{}]({}) | {} | {} | {} | {} |",
            r.id,
            row.url,
            r.level.as_str(),
            binds.join(", "),
            counts(&row.checked_by),
            r.summary.replace('|', "\\|")
        );
    }
    s
}

fn stream_fixtures(root: &Path) -> Result<Vec<(String, Vec<String>)>> {
    Ok(sse_case::stream_fixture::stream_fixtures(root)?
        .into_iter()
        .map(|e| (e.name, e.checks))
        .collect())
}

fn case_files(root: &Path) -> Result<Vec<(String, Vec<String>)>> {
    Ok(sse_harness::case::load_dir(&root.join("fixtures/cases"))?
        .into_iter()
        .map(|c| (relative(root, &c.path), c.checks))
        .collect())
}

/// Every `// spec: ...` marker in the Rust sources under `crates/`, with the test it precedes.
fn test_markers(root: &Path) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    for path in files_with_extension(&root.join("crates"), "rs")? {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some((_, rest)) = line.split_once(MARKER) else {
                continue;
            };
            let ids: Vec<String> = rest
                .split_whitespace()
                .take_while(|t| spec::is_id(t))
                .map(str::to_owned)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let test = lines[i + 1..]
                .iter()
                .take(400)
                .find_map(|l| fn_name(l))
                .unwrap_or("?");
            out.push((format!("{}:{} {test}", relative(root, &path), i + 1), ids));
        }
    }
    Ok(out)
}

/// The name of the function a line declares (`fn`, `pub fn`, `async fn`, `pub(crate) fn`...).
fn fn_name(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for prefix in ["pub(crate) ", "pub ", "async ", "unsafe ", "const "] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    rest.strip_prefix("fn ")?
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .filter(|n| !n.is_empty())
}

fn files_with_extension(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                if path
                    .file_name()
                    .is_some_and(|n| n != "target" && n != "node_modules")
                {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::fn_name;

    #[test]
    fn function_names_behind_any_qualifier() {
        for (line, name) in [
            ("fn a() {", Some("a")),
            ("    pub fn b_c(x: u8) {", Some("b_c")),
            ("async fn d() {", Some("d")),
            ("pub async fn e() {", Some("e")),
            ("pub(crate) fn f() {", Some("f")),
            ("#[tokio::test]", None),
            ("let fn_x = 1;", None),
        ] {
            assert_eq!(fn_name(line), name, "{line}");
        }
    }
}
