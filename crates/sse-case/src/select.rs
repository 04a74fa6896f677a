//! Which cases a run takes.

use crate::case::Case;

/// Which cases a run takes: all, or those whose id matches a glob (`*`, `?`) and that check a
/// requirement.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Case id globs; a case matching any is taken (none: every case).
    pub cases: Vec<String>,
    /// Requirement ids; a case checking any is taken (none: every case).
    pub requirements: Vec<String>,
    /// Only this part of the selected cases (a run spread over machines).
    pub shard: Option<Shard>,
}

/// The `index`th of `of` parts of a run (`--shard K/N`, 1-based). The parts are made from the
/// catalogue alone, so they are the same on every machine: the cases are dealt in catalogue
/// order, all the deliveries of one stream (`stream/NAME@...`) to the same part, so a stream's
/// chunking fault is judged within one part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which part, from 1.
    pub index: usize,
    /// How many parts.
    pub of: usize,
}

/// A `--shard` value that is not `K/N` with 1 <= K <= N.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--shard takes K/N with 1 <= K <= N (not {0:?})")]
pub struct BadShard(pub String);

impl std::str::FromStr for Shard {
    type Err = BadShard;

    fn from_str(s: &str) -> Result<Self, BadShard> {
        let bad = || BadShard(s.to_owned());
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let of: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > of {
            return Err(bad());
        }
        Ok(Shard { index, of })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.of)
    }
}

impl Shard {
    /// The ids of the cases of `catalogue` in this part: the shard keys are numbered once, in
    /// catalogue order, and every `of`th falls here.
    fn ids(self, catalogue: &crate::Catalogue) -> std::collections::BTreeSet<&str> {
        let mut key_number = 0;
        let mut previous: Option<&str> = None;
        let mut ids = std::collections::BTreeSet::new();
        for case in &catalogue.cases {
            let key = shard_key(&case.id);
            if previous.is_some_and(|p| p != key) {
                key_number += 1;
            }
            previous = Some(key);
            if key_number % self.of + 1 == self.index {
                ids.insert(case.id.as_str());
            }
        }
        ids
    }
}

/// What keeps cases together in one shard: a stream case's fixture, else the case itself.
fn shard_key(id: &str) -> &str {
    id.split_once('@').map_or(id, |(key, _)| key)
}

impl Selection {
    /// The selected cases of a catalogue, in catalogue order.
    pub fn apply<'a>(&self, catalogue: &'a crate::Catalogue) -> Vec<&'a Case> {
        let part = self.shard.map(|s| s.ids(catalogue));
        catalogue
            .cases
            .iter()
            .filter(|c| self.cases.is_empty() || self.cases.iter().any(|g| glob(g, &c.id)))
            .filter(|c| {
                self.requirements.is_empty()
                    || self.requirements.iter().any(|r| c.checks.contains(r))
            })
            .filter(|c| part.as_ref().is_none_or(|ids| ids.contains(c.id.as_str())))
            .collect()
    }
}

/// Whether `text` matches `pattern`, where `*` is any run of characters and `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic two-pointer match with backtracking to the last star.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_case_once_and_keep_a_stream_together() {
        let catalogue = crate::Catalogue::load_default().expect("catalogue");
        let all = Selection::default().apply(&catalogue);
        let mut seen = std::collections::BTreeMap::new();
        for index in 1..=3 {
            let shard = Selection {
                shard: Some(Shard { index, of: 3 }),
                ..Selection::default()
            };
            let cases = shard.apply(&catalogue);
            assert!(
                cases.len() > all.len() / 5,
                "shard {index}: {}",
                cases.len()
            );
            for c in cases {
                assert!(seen.insert(c.id.clone(), index).is_none(), "{} twice", c.id);
            }
        }
        assert_eq!(seen.len(), all.len());
        let whole = seen["stream/bom-after-blank@whole"];
        assert!(
            seen.iter()
                .filter(|(id, _)| id.starts_with("stream/bom-after-blank@"))
                .all(|(_, s)| *s == whole)
        );
        for bad in ["0/3", "4/3", "1", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!("2/5".parse::<Shard>(), Ok(Shard { index: 2, of: 5 }));
    }
}
