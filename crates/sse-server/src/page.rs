//! The page at `/`: start and stop several EventSources on the demo streams and watch them.

/// The whole page (no external resources).
pub(crate) const INDEX: &str = include_str!("index.html");
