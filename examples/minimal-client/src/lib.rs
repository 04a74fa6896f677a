//! See `tests/conformance.rs`: the whole example is the test.
