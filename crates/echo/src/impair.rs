//! Seeded impairment: drop, delay, jitter, duplicate and reorder datagrams, to teach loss
//! without root (no `tc netem` needed).
//!
//! The decisions for datagram number N depend only on the seed and N: every datagram draws the
//! same four random numbers whatever happens to it, so two runs with the same seed make the same
//! decisions for the same arrival order.

use std::time::Duration;

use serde::Serialize;

use crate::EchoError;

/// SplitMix64: a tiny, well-mixed, deterministic generator (Steele, Lea and Flood, 2014).
/// Not for secrets; exactly what a repeatable experiment needs, with no dependency.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1): the top 53 bits, the precision of an f64.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What to do to datagrams. The default does nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ImpairmentConfig {
    /// Probability (0..=1) that a datagram is dropped.
    pub drop: f64,
    /// Fixed extra delay before the reply.
    pub delay: Duration,
    /// Up to this much more delay, uniform, per datagram.
    pub jitter: Duration,
    /// Probability that the reply is sent twice.
    pub duplicate: f64,
    /// Probability that the reply is held back and sent after the next one.
    pub reorder: f64,
    /// Seed of the generator: same seed, same decisions.
    pub seed: u64,
}

impl ImpairmentConfig {
    /// True when nothing is changed (the server then takes its fast path).
    pub fn is_none(&self) -> bool {
        self.drop == 0.0
            && self.duplicate == 0.0
            && self.reorder == 0.0
            && self.delay.is_zero()
            && self.jitter.is_zero()
    }

    /// Rejects probabilities outside 0..=1.
    pub fn validate(&self) -> Result<(), EchoError> {
        for (name, p) in [
            ("--drop", self.drop),
            ("--duplicate", self.duplicate),
            ("--reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(EchoError::InvalidConfig(format!(
                    "{name} is a probability from 0 to 1 (0.1 means 10%), not {p}"
                )));
            }
        }
        Ok(())
    }
}

/// The fate of one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub drop: bool,
    /// Delay plus this datagram's jitter.
    pub delay: Duration,
    pub duplicate: bool,
    pub reorder: bool,
}

/// Makes the decisions, datagram by datagram.
#[derive(Clone, Debug)]
pub struct Impairer {
    config: ImpairmentConfig,
    rng: SplitMix64,
}

impl Impairer {
    pub fn new(config: ImpairmentConfig) -> Self {
        let rng = SplitMix64::new(config.seed);
        Impairer { config, rng }
    }

    /// The decision for the next datagram. Always draws four numbers (see module docs).
    pub fn decide(&mut self) -> Decision {
        let (d, j, u, r) = (
            self.rng.next_f64(),
            self.rng.next_f64(),
            self.rng.next_f64(),
            self.rng.next_f64(),
        );
        Decision {
            drop: d < self.config.drop,
            delay: self.config.delay + self.config.jitter.mul_f64(j),
            duplicate: u < self.config.duplicate,
            reorder: r < self.config.reorder,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_its_reference_values() {
        // First outputs for seed 1234567, from the reference C implementation.
        let mut rng = SplitMix64::new(1234567);
        assert_eq!(rng.next_u64(), 6457827717110365317);
        assert_eq!(rng.next_u64(), 3203168211198807973);
    }

    #[test]
    fn same_seed_same_decisions_and_rates_hold() {
        let config = ImpairmentConfig {
            drop: 0.1,
            duplicate: 0.05,
            reorder: 0.2,
            jitter: Duration::from_millis(10),
            seed: 42,
            ..Default::default()
        };
        let run = |c: &ImpairmentConfig| {
            let mut imp = Impairer::new(c.clone());
            (0..10_000).map(|_| imp.decide()).collect::<Vec<_>>()
        };
        let a = run(&config);
        assert_eq!(a, run(&config));
        let other = run(&ImpairmentConfig { seed: 43, ..config });
        assert_ne!(a, other);
        let rate = |f: fn(&Decision) -> bool| a.iter().filter(|d| f(d)).count() as f64 / 1e4;
        assert!((rate(|d| d.drop) - 0.1).abs() < 0.015);
        assert!((rate(|d| d.duplicate) - 0.05).abs() < 0.01);
        assert!((rate(|d| d.reorder) - 0.2).abs() < 0.02);
        assert!(a.iter().all(|d| d.delay <= Duration::from_millis(10)));
    }

    #[test]
    fn bad_probabilities_are_usage_errors() {
        let c = ImpairmentConfig {
            drop: 1.5,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().is_usage());
    }
}
