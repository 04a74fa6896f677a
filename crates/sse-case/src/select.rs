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
}

impl Selection {
    /// The selected cases of a catalogue, in catalogue order.
    pub fn apply<'a>(&self, catalogue: &'a crate::Catalogue) -> Vec<&'a Case> {
        catalogue
            .cases
            .iter()
            .filter(|c| self.cases.is_empty() || self.cases.iter().any(|g| glob(g, &c.id)))
            .filter(|c| {
                self.requirements.is_empty()
                    || self.requirements.iter().any(|r| c.checks.contains(r))
            })
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
