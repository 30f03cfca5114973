//! The labs, one module each. A lab module exports `INFO` (its [`LabInfo`]) and a private `run`
//! that drives a [`crate::Session`] through its steps.

use crate::LabInfo;

pub mod lab04;

/// Every lab in order: what `netlab lab list` prints and `netlab lab run N` runs.
pub const ALL: &[LabInfo] = &[lab04::INFO];
