//! The case catalogue as data: requirements, case and stream manifests, scripts and faults,
//! readings, what a case asks of a client and what a client reports. Pure: no runtime, socket or
//! HTTP stack, so the judge and anything that only reads cases builds without them.

pub mod case;
pub mod catalogue;
pub mod client;
pub mod content_hash;
pub mod embedded;
pub mod fault;
pub mod observed;
pub mod origins;
pub mod reading;
pub mod request;
pub mod schedule;
pub mod script;
pub mod select;
pub mod server_check;
pub mod setup;
pub mod spec;
pub mod stream_case;
pub mod stream_fixture;
pub mod stream_source;

use std::path::{Path, PathBuf};

pub use case::Case;
pub use catalogue::Catalogue;
pub use spec::{Level, Requirement};

/// A file of the suite could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// It could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// It is not what it should be.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A case or script that breaks a rule serde cannot check; the message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// An [`Invalid`] saying `why`.
pub(crate) fn invalid(why: impl Into<String>) -> Invalid {
    Invalid(why.into())
}

/// The text of a file of the suite.
pub fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The files in `dir` (not below it) whose name ends in `.ext`.
pub fn files_with_extension(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Read {
        path: dir.to_owned(),
        source,
    })?;
    Ok(entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect())
}

/// Durations as whole milliseconds in JSON reports.
pub mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes whole milliseconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Reads whole milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }

    /// The same for an optional duration.
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes whole milliseconds or null.
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        /// Reads whole milliseconds or null.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
        }
    }
}
