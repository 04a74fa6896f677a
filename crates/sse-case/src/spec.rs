//! The requirement catalogue (`spec/requirements.toml`): every requirement of the standard's
//! "Server-sent events" section with a stable id, its section anchor, its level and our summary.
//! Verdicts name these ids, and their level decides how grave a divergence is.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::LoadError;

/// How binding a requirement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// The standard requires it: breaking it fails.
    Must,
    /// The standard recommends it: breaking it is non-strict.
    Should,
    /// The standard leaves it to the implementation: differences are informational.
    ImplDefined,
    /// A rule for people who write streams and servers, not for clients.
    Authoring,
    /// Not the standard's: an option some client libraries offer (LaunchDarkly's optional
    /// features). Only clients that declare the capability run its cases, and breaking what
    /// they declared fails.
    Extension,
}

impl Level {
    /// The catalogue's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::ImplDefined => "impl-defined",
            Level::Authoring => "authoring",
            Level::Extension => "extension",
        }
    }
}

/// Who can break a requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Party {
    /// The EventSource (user agent or library).
    Client,
    /// The HTTP server.
    Server,
    /// The bytes of a stream.
    Stream,
}

impl Party {
    /// The catalogue's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Client => "client",
            Party::Server => "server",
            Party::Stream => "stream",
        }
    }
}

/// One entry of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Stable id, e.g. `PARSE-EOL-CR-SPLIT`.
    pub id: String,
    /// Page and fragment under `https://html.spec.whatwg.org/multipage/`; for an extension, the
    /// full URL of the document that defines it.
    pub anchor: String,
    /// How binding it is.
    pub level: Level,
    /// Who can break it.
    pub binds: Vec<Party>,
    /// What it asks for, in our words.
    pub summary: String,
    /// Where the text is unclear or implementations differ, and what we decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambiguity: Option<String>,
}

impl Requirement {
    /// The link to the standard's text.
    pub fn url(&self) -> String {
        if self.anchor.starts_with("https://") {
            self.anchor.clone()
        } else {
            format!("https://html.spec.whatwg.org/multipage/{}", self.anchor)
        }
    }

    /// Whether a client can break it.
    pub fn binds_client(&self) -> bool {
        self.binds.contains(&Party::Client)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    requirement: Vec<Requirement>,
}

/// Reads and checks the catalogue: ids unique and well-formed, every field filled.
pub fn load(path: &Path) -> Result<Vec<Requirement>, LoadError> {
    let text = crate::read(path)?;
    let invalid = |reason: String| LoadError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let file: File = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let mut seen = BTreeSet::new();
    for r in &file.requirement {
        if !is_id(&r.id) {
            return Err(invalid(format!(
                "id {:?} must be upper-case letters, digits and dashes",
                r.id
            )));
        }
        if !seen.insert(r.id.as_str()) {
            return Err(invalid(format!("id {} appears twice", r.id)));
        }
        let extension = r.level == Level::Extension;
        if extension != r.anchor.starts_with("https://") || !r.anchor.contains('#') {
            return Err(invalid(format!(
                "{} anchor {:?} must be page.html#fragment of the standard (an extension: the \
                 https:// URL of the document that defines it, with a fragment)",
                r.id, r.anchor
            )));
        }
        if extension != r.id.starts_with("EXT-") {
            return Err(invalid(format!(
                "{}: extensions, and only they, have ids starting EXT-",
                r.id
            )));
        }
        if r.binds.is_empty() || r.summary.trim().is_empty() {
            return Err(invalid(format!("{} needs binds and a summary", r.id)));
        }
    }
    Ok(file.requirement)
}

/// Requirement ids look like `PARSE-EOL-CR-SPLIT`.
pub fn is_id(s: &str) -> bool {
    s.len() >= 3
        && s.contains('-')
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_id("PARSE-EOL-CR"));
        assert!(is_id("A-1"));
        assert!(!is_id("parse-eol"));
        assert!(!is_id("NODASH"));
        assert!(!is_id("-A"));
    }
}
