//! The suite's data, loaded once: the requirement catalogue (`spec/`), the conformance cases
//! (`fixtures/cases/`) with their golden traces (`fixtures/snapshots/cases/`), and the stream
//! fixtures (`fixtures/streams/`), each also a case in every delivery (see
//! [`crate::stream_case`]). Every tool reads the suite through
//! here, so there is one parser per file format.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sse_model::Trace;

use crate::LoadError;
use crate::case::{self, Case};
use crate::spec::{self, Level, Requirement};

/// Names a catalogue directory (with `spec/` and `fixtures/`) for every tool and test that
/// does not get one explicitly; the workspace sets it to itself (`.cargo/config.toml`).
pub const CATALOGUE_ENV: &str = "SSE_CATALOGUE";

/// Where the catalogue is when nobody names one: the directory [`CATALOGUE_ENV`] names, else
/// the copy compiled into this build, written out once under the temporary directory.
pub fn default_root() -> Result<PathBuf, LoadError> {
    match std::env::var_os(CATALOGUE_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => crate::embedded::extract(),
    }
}

/// The requirement catalogue and the case catalogue, checked against each other.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// Where it was loaded from.
    pub root: PathBuf,
    /// Its content hash, worked out when a report first asks for it.
    hash: std::sync::OnceLock<String>,
    /// Every requirement, in catalogue order.
    pub requirements: Vec<Requirement>,
    /// Every case, sorted by id, golden traces attached where they exist.
    pub cases: Vec<Case>,
    index: BTreeMap<String, usize>,
}

impl Catalogue {
    /// Loads `spec/requirements.toml`, every `fixtures/cases/*.toml` and their golden traces.
    /// A case that names an unknown requirement id is an error.
    pub fn load(root: &Path) -> Result<Self, LoadError> {
        let requirements = spec::load(&root.join("spec/requirements.toml"))?;
        let mut cases = case::load_dir(&root.join("fixtures/cases"))?;
        let index: BTreeMap<String, usize> = requirements
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        let mut catalogue = Catalogue {
            root: root.to_owned(),
            hash: std::sync::OnceLock::new(),
            requirements,
            cases: Vec::new(),
            index,
        };
        for case in &mut cases {
            catalogue.attach(case)?;
        }
        for fixture in crate::stream_fixture::stream_fixtures(root)? {
            if let Some(unknown) = fixture
                .checks
                .iter()
                .find(|id| !catalogue.index.contains_key(*id))
            {
                return Err(LoadError::Invalid {
                    path: root.join("fixtures/streams/manifest.toml"),
                    reason: format!(
                        "stream {} names {unknown}, which is not in spec/requirements.toml",
                        fixture.name
                    ),
                });
            }
        }
        cases.extend(crate::stream_case::load(root, &catalogue.requirements)?);
        catalogue.cases = cases;
        Ok(catalogue)
    }

    /// Loads one case file from anywhere, checked against this catalogue's requirements, with
    /// its golden trace if `fixtures/snapshots/cases/` has one for its id.
    pub fn load_case(&self, path: &Path) -> Result<Case, LoadError> {
        let mut case = case::load(path)?;
        self.attach(&mut case)?;
        Ok(case)
    }

    /// Checks a case's requirement ids and attaches its golden trace.
    fn attach(&self, case: &mut Case) -> Result<(), LoadError> {
        if let Some(unknown) = case
            .checks
            .iter()
            .chain(&case.expect.demonstrates)
            .find(|id| !self.index.contains_key(*id))
        {
            return Err(LoadError::Invalid {
                path: case.path.clone(),
                reason: format!("checks names {unknown}, which is not in spec/requirements.toml"),
            });
        }
        if let Some(choice) = &case.expect.choice {
            let id = &choice.requirement;
            let level = self.index.get(id).map(|&i| self.requirements[i].level);
            let reason = if level != Some(Level::ImplDefined) || !case.checks.contains(id) {
                Some(format!(
                    "expect.choice.requirement {id:?} must be an implementation-defined requirement the case checks"
                ))
            } else if choice.shows_as.is_empty() {
                Some("expect.choice.shows_as names no rule".to_owned())
            } else {
                choice
                    .shows_as
                    .iter()
                    .find(|id| !self.index.contains_key(*id))
                    .map(|id| {
                        format!("expect.choice.shows_as names {id}, which is not in spec/requirements.toml")
                    })
            };
            if let Some(reason) = reason {
                return Err(LoadError::Invalid {
                    path: case.path.clone(),
                    reason,
                });
            }
        }
        let snapshots = self.root.join("fixtures/snapshots/cases");
        case.golden = golden_trace(&snapshots.join(format!("{}.snap", case.id)))?;
        case.alternatives.clear();
        for readings in crate::reading::Reading::combinations() {
            let name = crate::reading::Reading::names(&readings);
            let path = snapshots.join(format!("{}@{name}.snap", case.id));
            if let Some(trace) = golden_trace(&path)? {
                case.alternatives.push((readings, trace));
            }
        }
        Ok(())
    }

    /// The catalogue at [`default_root`]: the directory `SSE_CATALOGUE` names, else the one
    /// compiled into this build.
    pub fn load_default() -> Result<Self, LoadError> {
        Catalogue::load(&default_root()?)
    }

    /// Its content hash ([`crate::content_hash`]), which reports record: read from its files
    /// once, when first asked (loading a catalogue to run a case does not pay for it).
    pub fn hash(&self) -> &str {
        self.hash
            .get_or_init(|| crate::content_hash::of_dir(&self.root))
    }

    /// A requirement by id.
    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.index.get(id).map(|&i| &self.requirements[i])
    }

    /// The level of a requirement (`Must` for unknown ids, which loading already refused).
    pub fn level(&self, id: &str) -> Level {
        self.requirement(id).map_or(Level::Must, |r| r.level)
    }

    /// A case by id.
    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// Every requirement id some case checks.
    pub fn checked_ids(&self) -> BTreeSet<&str> {
        self.cases
            .iter()
            .flat_map(|c| c.checks.iter().map(String::as_str))
            .collect()
    }
}

/// Reads the trace out of an insta snapshot file (`None` when there is no file yet).
pub fn golden_trace(path: &Path) -> Result<Option<Trace>, LoadError> {
    if !path.exists() {
        return Ok(None);
    }
    let text = crate::read(path)?;
    let body = crate::stream_fixture::snapshot_body(&text);
    body.parse::<Trace>()
        .map(Some)
        .map_err(|e| LoadError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_choice_must_be_an_implementation_defined_requirement_the_case_checks() {
        let catalogue = Catalogue::load_default().expect("loads");
        let mut case = catalogue
            .case("seven-streams-one-origin")
            .expect("case")
            .clone();
        catalogue.attach(&mut case).expect("as committed");
        for (requirement, shows_as) in [
            ("CONN-ANNOUNCE", "CONN-ANNOUNCE"),
            ("IMPL-LIMITS", "CONN-ANNOUNCE"),
            ("NO-SUCH-ID", "CONN-ANNOUNCE"),
            ("IMPL-CONNECTIONS-PER-ORIGIN", "NO-SUCH-ID"),
        ] {
            case.expect.choice = Some(crate::case::Choice {
                requirement: requirement.into(),
                shows_as: vec![shows_as.into()],
            });
            let e = catalogue
                .attach(&mut case)
                .expect_err(requirement)
                .to_string();
            assert!(e.contains("expect.choice"), "{e}");
        }
    }
}
