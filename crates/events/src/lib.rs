//! netlab-events: the tiny event protocol.
//!
//! # Modules
//! (filled in as modules land)
