//! The SSE conformance harness: it owns the case, judges implementations against it, and
//! reports. A case is data (a scripted or reference server, faults, what the client is asked to
//! do); its expectation comes from the reviewed golden trace; any implementation of [`Client`]
//! runs it in the simulator (simulated time, via `sse-sim`) or over loopback sockets, and
//! [`judge`] turns what it observably did into a verdict per requirement.

pub mod annotate;
mod blame;
pub mod browser;
pub mod case;
pub mod catalogue;
pub mod chaos;
pub mod client;
pub mod escape;
pub mod evidence;
pub mod expect;
pub mod fetch;
pub mod judge;
pub mod loopback;
pub mod mimic;
pub mod model;
pub mod proxy_check;
mod remote;
pub mod report;
pub mod run;
pub mod server_check;
pub mod service;
pub mod setups;
pub mod spec;
pub mod stream_case;

use std::path::{Path, PathBuf};

pub use case::Case;
pub use catalogue::Catalogue;
pub use client::{
    Capabilities, Capability, Client, ClientError, Command, Identity, Net, Observed, Observer,
    OpenRequest, Seen, Session, Settings,
};
pub use expect::Expectation;
pub use judge::{Context, Outcome, Timing, Verdict, judge};
pub use model::ModelClient;
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

pub(crate) fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The files in `dir` (not below it) whose name ends in `.ext`.
pub(crate) fn files_with_extension(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, LoadError> {
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
pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }

    /// The same for an optional duration.
    pub(crate) mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub(crate) fn serialize<S: Serializer>(
            d: &Option<Duration>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Duration>, D::Error> {
            Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
        }
    }
}
