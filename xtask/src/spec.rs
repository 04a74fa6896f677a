//! Loads and validates `spec/requirements.toml`, the requirement catalogue.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// How binding a requirement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Level {
    Must,
    Should,
    ImplDefined,
    Authoring,
}

impl Level {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::ImplDefined => "impl-defined",
            Level::Authoring => "authoring",
        }
    }
}

/// Who can break a requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Party {
    Client,
    Server,
    Stream,
}

/// One entry of the catalogue.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Requirement {
    pub(crate) id: String,
    pub(crate) anchor: String,
    pub(crate) level: Level,
    pub(crate) binds: Vec<Party>,
    pub(crate) summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ambiguity: Option<String>,
}

impl Requirement {
    /// The link to the standard's text.
    pub(crate) fn url(&self) -> String {
        format!("https://html.spec.whatwg.org/multipage/{}", self.anchor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    requirement: Vec<Requirement>,
}

/// Reads and checks the catalogue: ids unique and well-formed, every field filled.
pub(crate) fn load(root: &Path) -> Result<Vec<Requirement>> {
    let path = root.join("spec/requirements.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let catalogue: Catalogue =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut seen = BTreeSet::new();
    for r in &catalogue.requirement {
        if !is_id(&r.id) {
            bail!(
                "{}: id {:?} must be upper-case letters, digits and dashes",
                path.display(),
                r.id
            );
        }
        if !seen.insert(r.id.as_str()) {
            bail!("{}: id {} appears twice", path.display(), r.id);
        }
        if !r.anchor.contains(".html#") {
            bail!(
                "{}: {} anchor {:?} must be page.html#fragment",
                path.display(),
                r.id,
                r.anchor
            );
        }
        if r.binds.is_empty() || r.summary.trim().is_empty() {
            bail!("{}: {} needs binds and a summary", path.display(), r.id);
        }
    }
    Ok(catalogue.requirement)
}

/// Requirement ids look like `PARSE-EOL-CR-SPLIT`.
pub(crate) fn is_id(s: &str) -> bool {
    s.len() >= 3
        && s.contains('-')
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}
