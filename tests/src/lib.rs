//! netlab-tests: end-to-end tests that cross crates. The tests live in `tests/tests/*.rs`; this
//! library holds the helpers they share.
