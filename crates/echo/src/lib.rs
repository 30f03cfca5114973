//! netlab-echo: TCP and UDP echo servers and clients.
//!
//! # Modules
//! (filled in as modules land)
