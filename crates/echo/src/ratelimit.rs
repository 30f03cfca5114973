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
        let refill = Duration::from_secs_f64(limit.burst / limit.rate.max(f64::MIN_POSITIVE));
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
}
