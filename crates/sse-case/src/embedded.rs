//! The catalogue compiled into this build (`spec/` and `fixtures/` as they were when it was
//! built), so a binary installed anywhere carries its cases; and the hash that names it.

use std::path::{Path, PathBuf};

use crate::LoadError;

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// The content hash of the catalogue compiled into this build (16 hex digits), which reports
/// record so a verdict names the catalogue that reached it.
pub fn hash() -> &'static str {
    HASH
}

/// How many files the compiled-in catalogue has.
pub fn files() -> usize {
    FILES.len()
}

/// Writes the compiled-in catalogue into a directory of its own under the system's temporary
/// directory, once per content hash (an existing complete copy is reused), and returns it.
pub fn extract() -> Result<PathBuf, LoadError> {
    extract_into(&std::env::temp_dir())
}

/// [`extract`] under `parent`.
pub fn extract_into(parent: &Path) -> Result<PathBuf, LoadError> {
    let dir = parent.join(format!("sse-catalogue-{HASH}"));
    let done = dir.join(".complete");
    if done.exists() {
        return Ok(dir);
    }
    if FILES.is_empty() {
        return Err(LoadError::Invalid {
            path: dir,
            reason: "this build carries no catalogue (it was built without the repository's spec/ and fixtures/): pass one with --catalogue DIR or SSE_CATALOGUE".into(),
        });
    }
    // Written beside the final place and renamed into it, so a process that finds the
    // directory finds it whole, whichever of several writers wins.
    let staging = parent.join(format!(
        "sse-catalogue-{HASH}.{}.partial",
        std::process::id()
    ));
    let write = |path: &Path, bytes: &[u8]| -> Result<(), LoadError> {
        let fail = |source| LoadError::Read {
            path: path.to_owned(),
            source,
        };
        if let Some(up) = path.parent() {
            std::fs::create_dir_all(up).map_err(fail)?;
        }
        std::fs::write(path, bytes).map_err(fail)
    };
    for (rel, bytes) in FILES {
        write(&staging.join(rel), bytes)?;
    }
    write(&staging.join(".complete"), HASH.as_bytes())?;
    if std::fs::rename(&staging, &dir).is_err() {
        // Another process put its copy there first: use that one.
        let _ = std::fs::remove_dir_all(&staging);
        if !done.exists() {
            return Err(LoadError::Invalid {
                path: dir,
                reason: "could not put the catalogue in place".into(),
            });
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_catalogue_extracts_whole_and_loads() {
        let parent = std::env::temp_dir().join(format!("sse-embedded-test-{}", std::process::id()));
        let dir = extract_into(&parent).expect("extracts");
        assert!(dir.join("spec/requirements.toml").is_file());
        assert_eq!(hash().len(), 16);
        assert!(files() > 100, "{} files", files());
        // A second call reuses the complete copy.
        assert_eq!(extract_into(&parent).expect("again"), dir);
        let catalogue = crate::Catalogue::load(&dir).expect("loads");
        // Hashed from the directory, it is the catalogue that was compiled in.
        assert_eq!(catalogue.hash(), hash());
        assert!(
            catalogue.cases.len() > 400,
            "{} cases",
            catalogue.cases.len()
        );
        let _ = std::fs::remove_dir_all(&parent);
    }
}
