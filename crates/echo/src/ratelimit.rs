//! Anti-reflection: a per-source token bucket on UDP replies.
//!
//! UDP has no handshake, so anyone can send a datagram with a forged source address; an echo
//! server would then "reply" to a victim. Two rules keep netlab's server useless for that:
//! a reply is never larger than its request (echo sends back the same bytes, and duplicates from
//! impairment are paid for below), and each source IP may receive at most `rate` replies per
//! second after an initial `burst`. Replies over the limit are silently not sent and counted.
//! Pure logic: time is passed in, so tests need no clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::EchoError;

/// The limit per source IP.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RateLimit {
    /// Replies per second, refilled continuously.
    pub rate: f64,
    /// Replies that may go out at once after a quiet period.
    pub burst: f64,
}

impl Default for RateLimit {
    /// 1,000 replies/s with a burst of 100: plenty for `ping`, far too little to flood anyone.
    fn default() -> Self {
        RateLimit {
            rate: 1000.0,
            burst: 100.0,
        }
    }
}

/// The sensible range of both numbers. Below it, refilling one token takes longer than any
/// server runs; above it, there is no limit left to speak of. Outside it (or not a number,
/// `inf` say) the arithmetic of the buckets stops meaning anything.
const RATE_RANGE: (f64, f64) = (0.001, 1e9);
const BURST_RANGE: (f64, f64) = (1.0, 1e9);

impl RateLimit {
    /// Rejects values the limiter cannot honour: not finite, or outside the sensible range.
    pub fn validate(&self) -> Result<(), EchoError> {
        for (name, v, (lo, hi), unit) in [
            ("--rate", self.rate, RATE_RANGE, "replies per second"),
            ("--burst", self.burst, BURST_RANGE, "replies"),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(EchoError::InvalidConfig(format!(
                    "{name} is a number of {unit} from {lo} to {hi:e}, not {v}"
                )));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Buckets for every source seen recently.
#[derive(Debug)]
pub struct Limiter {
    limit: RateLimit,
    buckets: HashMap<IpAddr, Bucket>,
}

/// Above this many sources, full buckets are forgotten, so spoofed sources cannot grow the map
/// without bound.
const MAX_TRACKED_SOURCES: usize = 4096;

impl Limiter {
    pub fn new(limit: RateLimit) -> Self {
        Limiter {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// Takes one token for `source` at time `now`; false means "do not reply".
    pub fn allow(&mut self, source: IpAddr, now: Instant) -> bool {
        if self.buckets.len() >= MAX_TRACKED_SOURCES && !self.buckets.contains_key(&source) {
            self.forget_full(now);
        }
        let limit = self.limit;
        let bucket = self.buckets.entry(source).or_insert(Bucket {
            tokens: limit.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.rate).min(limit.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn forget_full(&mut self, now: Instant) {
        let limit = self.limit;
        // How long an empty bucket takes to fill. Validation keeps it finite; the fallback keeps
        // a limiter built without validation from panicking on an absurd limit.
        let refill = Duration::try_from_secs_f64(limit.burst / limit.rate).unwrap_or(Duration::MAX);
        self.buckets
            .retain(|_, b| now.saturating_duration_since(b.last) < refill);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let mut limiter = Limiter::new(RateLimit {
            rate: 100.0,
            burst: 10.0,
        });
        let ip: IpAddr = [127, 0, 0, 1].into();
        let t0 = Instant::now();
        let sent = (0..50).filter(|_| limiter.allow(ip, t0)).count();
        assert_eq!(sent, 10, "only the burst goes out at once");
        // 100 ms later, 100/s has refilled 10 tokens.
        let t1 = t0 + Duration::from_millis(100);
        let sent = (0..50).filter(|_| limiter.allow(ip, t1)).count();
        assert_eq!(sent, 10);
        // Another source has its own bucket.
        assert!(limiter.allow([127, 0, 0, 2].into(), t1));
    }

    /// 4,096 sources fill the table; the next one makes the limiter forget full buckets, which
    /// computed `burst / rate` as a Duration and panicked when that was infinite or huge.
    #[test]
    fn absurd_limits_never_panic_when_the_table_fills() {
        for (rate, burst) in [
            (1000.0, f64::INFINITY),
            (1e-300, 1e300),
            (f64::NAN, 100.0),
            (0.0, 1.0),
        ] {
            let mut limiter = Limiter::new(RateLimit { rate, burst });
            let t0 = Instant::now();
            for i in 0..=MAX_TRACKED_SOURCES as u32 {
                limiter.allow(IpAddr::from(i.to_be_bytes()), t0);
            }
        }
    }

    #[test]
    fn only_finite_sensible_limits_are_accepted() {
        let check = |rate, burst| RateLimit { rate, burst }.validate();
        assert!(check(1000.0, 100.0).is_ok());
        assert!(check(0.001, 1e9).is_ok());
        for (rate, burst) in [
            (1000.0, f64::INFINITY),
            (1e-300, 1e300),
            (f64::NAN, 100.0),
            (1000.0, 0.5),
            (0.0, 100.0),
            (-5.0, 100.0),
        ] {
            let e = check(rate, burst).unwrap_err();
            assert!(e.is_usage(), "{rate} {burst}: {e}");
        }
        assert_eq!(
            check(1000.0, f64::INFINITY).unwrap_err().to_string(),
            "invalid setting: --burst is a number of replies from 1 to 1e9, not inf"
        );
    }
}
