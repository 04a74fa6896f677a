//! The raw stream fixtures of `fixtures/streams/` as their manifest names them, and the body of
//! an insta snapshot.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::LoadError;

/// The contents of an insta snapshot: what follows its `---` metadata header.
pub fn snapshot_body(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("---\n") else {
        return text;
    };
    match rest.find("\n---\n") {
        Some(end) => &rest[end + 5..],
        None => text,
    }
}

/// One raw stream fixture of `fixtures/streams/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StreamFixture {
    /// File stem of `NAME.sse`.
    pub name: String,
    /// Requirement ids it checks.
    pub checks: Vec<String>,
    /// What it shows.
    pub about: String,
    /// Where it comes from (a web-platform-tests file, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    stream: Vec<StreamFixture>,
}

/// The stream fixtures' manifest, `fixtures/streams/manifest.toml`.
pub fn stream_fixtures(root: &Path) -> Result<Vec<StreamFixture>, LoadError> {
    let path = root.join("fixtures/streams/manifest.toml");
    let text = crate::read(&path)?;
    toml::from_str::<Manifest>(&text)
        .map(|m| m.stream)
        .map_err(|e| LoadError::Invalid {
            path,
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_bodies() {
        assert_eq!(
            snapshot_body("---\nsource: x\ndescription: \"a\"\n---\n0.000 open\n"),
            "0.000 open\n"
        );
        assert_eq!(snapshot_body("0.000 open\n"), "0.000 open\n");
    }
}
