//! Reports of several runs joined into the one a single run would have written: the shards of
//! a run (`ssec run --shard K/N`), or columns run on separate machines. Verdicts are taken as
//! they were judged; what depends on several cases (a stream's chunking fault, the matrix, the
//! streams shown) is worked out again over the whole.

use std::collections::BTreeMap;
use std::path::Path;

use sse_case::{Catalogue, LoadError};
use sse_judge::judged::mark_chunking;

use crate::{ImplementationReport, RunReport, ServerReport};

/// Why reports could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A report could not be read, or is not a report.json of ssec.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Two reports judged the same case on the same column.
    #[error("{case} on {column} is in two of the reports (shards must not overlap)")]
    Overlap {
        /// The column.
        column: String,
        /// The case or check.
        case: String,
    },
    /// The reports were judged by different catalogues.
    #[error("the reports were judged by different catalogues ({0} and {1})")]
    Catalogues(String, String),
}

/// Reads `DIR/report.json` (or a report.json given directly).
pub fn read(path: &Path) -> Result<RunReport, MergeError> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_owned()
    };
    let text = sse_case::read(&file)?;
    serde_json::from_str(&text).map_err(|e| {
        MergeError::Load(LoadError::Invalid {
            path: file,
            reason: format!("not a report.json of ssec: {e}"),
        })
    })
}

impl RunReport {
    /// Joins `parts` (in order) into one report over `catalogue`.
    pub fn merge(catalogue: &Catalogue, parts: Vec<RunReport>) -> Result<RunReport, MergeError> {
        let mut hashes = parts
            .iter()
            .map(|p| p.suite.catalogue.clone())
            .filter(|h| !h.is_empty());
        if let Some(first) = hashes.next() {
            if let Some(other) = hashes.find(|h| *h != first) {
                return Err(MergeError::Catalogues(first, other));
            }
        }
        let order: BTreeMap<&str, usize> = catalogue
            .cases
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        let mut columns: Vec<ImplementationReport> = Vec::new();
        let mut servers: Vec<ServerReport> = Vec::new();
        let mut requirements = None;
        for part in parts {
            requirements.get_or_insert(part.requirements);
            for imp in part.implementations {
                join_column(&mut columns, imp)?;
            }
            for server in part.servers {
                join_server(&mut servers, server)?;
            }
        }
        for column in &mut columns {
            column
                .cases
                .sort_by_key(|c| order.get(c.case.as_str()).copied().unwrap_or(usize::MAX));
            mark_chunking(&mut column.cases);
            column.totals.clear();
            for c in &column.cases {
                *column.totals.entry(c.verdict).or_insert(0) += 1;
            }
        }
        let mut report = RunReport::new(catalogue, columns);
        // Which server checks check each requirement came with the parts that had servers.
        if let Some(parts) = requirements {
            for (r, from) in report.requirements.iter_mut().zip(parts) {
                if r.id == from.id {
                    r.server_checks = from.server_checks;
                }
            }
        }
        report.servers = servers;
        Ok(report)
    }
}

/// Adds a part's column: its cases join the column of the same id, or it is a new column.
fn join_column(
    columns: &mut Vec<ImplementationReport>,
    imp: ImplementationReport,
) -> Result<(), MergeError> {
    let Some(column) = columns.iter_mut().find(|c| c.id == imp.id) else {
        columns.push(imp);
        return Ok(());
    };
    if let Some(c) = imp
        .cases
        .iter()
        .find(|c| column.cases.iter().any(|have| have.case == c.case))
    {
        return Err(MergeError::Overlap {
            column: imp.id.clone(),
            case: c.case.clone(),
        });
    }
    // A column that ran on one machine and not another is the one that ran.
    if column.unavailable.is_some() && imp.unavailable.is_none() {
        column.unavailable = None;
        column.version = imp.version;
        column.capabilities = imp.capabilities;
        column.profile = imp.profile;
    }
    column.wall_ms += imp.wall_ms;
    column.warnings.extend(imp.warnings);
    column.cases.extend(imp.cases);
    Ok(())
}

/// Adds a part's server column, as [`join_column`] does.
fn join_server(servers: &mut Vec<ServerReport>, server: ServerReport) -> Result<(), MergeError> {
    let Some(column) = servers.iter_mut().find(|s| s.id == server.id) else {
        servers.push(server);
        return Ok(());
    };
    if let Some(c) = server
        .checks
        .iter()
        .find(|c| column.checks.iter().any(|have| have.check == c.check))
    {
        return Err(MergeError::Overlap {
            column: server.id.clone(),
            case: c.check.clone(),
        });
    }
    column.wall_ms += server.wall_ms;
    for c in &server.checks {
        *column.totals.entry(c.outcome).or_insert(0) += 1;
    }
    column.checks.extend(server.checks);
    Ok(())
}
