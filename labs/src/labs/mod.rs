//! The labs, one module each. A lab module exports `INFO` (its [`LabInfo`]) and a private `run`
//! that drives a [`crate::Session`] through its steps.

use crate::LabInfo;

pub mod lab01;
pub mod lab02;
pub mod lab03;
pub mod lab04;
pub mod lab05;
pub mod lab06;
pub mod lab07;
pub mod lab08;
pub mod lab09;
pub mod lab10;

/// Every lab in order: what `netlab lab list` prints and `netlab lab run N` runs.
pub const ALL: &[LabInfo] = &[
    lab01::INFO,
    lab02::INFO,
    lab03::INFO,
    lab04::INFO,
    lab05::INFO,
    lab06::INFO,
    lab07::INFO,
    lab08::INFO,
    lab09::INFO,
    lab10::INFO,
];
