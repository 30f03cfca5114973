//! netlab-labs: the lab engine and the numbered lab binaries.
//!
//! # Modules
//! (filled in as modules land)
