//! Verdicts: what an implementation observably did, held against what a case expects. The
//! expectation comes from the case's reviewed golden trace; every finding names the rule that
//! broke and is never graver than that rule's level. Pure: it reads cases and runs, and needs no
//! runtime, socket or HTTP stack.

mod blame;
pub mod checked;
pub mod escape;
pub mod evidence;
pub mod expect;
pub mod judge;
pub mod judged;
pub mod run;

pub use expect::Expectation;
pub use judge::{Context, Outcome, Timing, Verdict, judge};
pub use run::Run;
