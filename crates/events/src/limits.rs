//! Connection limits, and what the accept loop does when the process runs out of descriptors.
//!
//! Every transport asks [`Admission::admit`] (through [`crate::server::Hub::admit`]) before it
//! serves a connection, so the limits hold across TCP, WebSocket and long-polling alike: at most
//! [`Limits::max_connections`] in all and [`Limits::max_per_peer`] from one IP address. A refused
//! connection gets one `error` frame saying which limit and what to do, then a close.
//!
//! The default total stays below the process's descriptor limit (`ulimit -n`): each connection
//! holds one descriptor, so a limit above it would be reached as `accept` failing with EMFILE
//! ("too many open files") instead of as a clear refusal. Should descriptors run out anyway
//! (other files, a lower limit set later), [`AcceptBackoff`] makes the accept loop wait, longer
//! each time up to a second, and log once per interval, instead of retrying at full speed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::frame::Frame;

/// Descriptors kept back from the connection limit for everything else the server opens: the
/// listener, the store, stdio, tokio's own.
const FD_RESERVE: u64 = 64;

/// The default total when the descriptor limit allows it.
const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The default per address. Everything on this machine is one address (127.0.0.1), so this only
/// stops one program from taking every slot; raise it for load tests.
pub const DEFAULT_MAX_PER_PEER: usize = 256;

/// How many connections a server takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub max_per_peer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: default_max_connections(),
            max_per_peer: DEFAULT_MAX_PER_PEER,
        }
    }
}

/// 1024, or less if the descriptor limit (minus a reserve) is lower.
pub fn default_max_connections() -> usize {
    match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, _)) => {
            let room = soft.saturating_sub(FD_RESERVE).max(1);
            DEFAULT_MAX_CONNECTIONS.min(usize::try_from(room).unwrap_or(usize::MAX))
        }
        Err(_) => DEFAULT_MAX_CONNECTIONS,
    }
}

/// Why a connection was not admitted: the `error` frame it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn frame(&self) -> Frame {
        Frame::Error {
            code: self.code.to_string(),
            message: self.message.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_peer: HashMap<IpAddr, usize>,
}

/// The live counts behind the limits. Cheap to share; see [`Admission::admit`].
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    counts: Arc<Mutex<Counts>>,
}

impl Admission {
    pub fn new(limits: Limits) -> Self {
        Admission {
            limits,
            counts: Arc::default(),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Connections admitted and not yet released.
    pub fn open(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    /// Take a slot for a connection from `peer`; it is given back when the permit is dropped.
    pub fn admit(&self, peer: IpAddr) -> Result<Permit, Refusal> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let Limits {
            max_connections,
            max_per_peer,
        } = self.limits;
        if c.total >= max_connections {
            return Err(Refusal {
                code: "too_many_connections",
                message: format!(
                    "the server has {max_connections} connections, its limit (--max-connections); try again later"
                ),
            });
        }
        let mine = c.per_peer.get(&peer).copied().unwrap_or(0);
        if mine >= max_per_peer {
            return Err(Refusal {
                code: "too_many_connections_from_address",
                message: format!(
                    "{peer} has {mine} connections open, the limit per address (--max-connections-per-peer); close one first"
                ),
            });
        }
        c.total += 1;
        *c.per_peer.entry(peer).or_default() += 1;
        Ok(Permit {
            counts: self.counts.clone(),
            peer,
        })
    }
}

/// A connection's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit {
    counts: Arc<Mutex<Counts>>,
    peer: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_peer.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                c.per_peer.remove(&self.peer);
            }
        }
    }
}

/// The accept loop's answer to `accept` failing (out of descriptors, usually): wait 10 ms,
/// doubling up to 1 s while it keeps failing, and log at most once per 5 s. The connections
/// that wait meanwhile stay in the listen backlog and are accepted when descriptors free up.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    delay: Duration,
    /// Failures since the last success.
    failures: u64,
    /// Failures since the server started (for tests and the curious).
    pub total_failures: u64,
    last_log: Option<Instant>,
}

impl AcceptBackoff {
    const MIN: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);
    const LOG_EVERY: Duration = Duration::from_secs(5);

    /// `accept` failed at `now`: how long to wait, and whether to log this one.
    pub fn failed(&mut self, now: Instant) -> (Duration, bool) {
        self.failures += 1;
        self.total_failures += 1;
        self.delay = (self.delay * 2).clamp(Self::MIN, Self::MAX);
        let log = self
            .last_log
            .is_none_or(|t| now.saturating_duration_since(t) >= Self::LOG_EVERY);
        if log {
            self.last_log = Some(now);
        }
        (self.delay, log)
    }

    /// `accept` worked: back to normal. Returns the failures in the run that just ended.
    pub fn succeeded(&mut self) -> u64 {
        self.delay = Duration::ZERO;
        self.last_log = None;
        std::mem::take(&mut self.failures)
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u64 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_in_total_and_per_address_and_free_on_drop() {
        let a = Admission::new(Limits {
            max_connections: 3,
            max_per_peer: 2,
        });
        let one: IpAddr = "127.0.0.1".parse().unwrap();
        let two: IpAddr = "127.0.0.2".parse().unwrap();
        let p1 = a.admit(one).unwrap();
        let _p2 = a.admit(one).unwrap();
        let r = a.admit(one).unwrap_err();
        assert_eq!(r.code, "too_many_connections_from_address");
        assert!(r.message.contains("127.0.0.1 has 2"), "{}", r.message);
        let _p3 = a.admit(two).unwrap();
        assert_eq!(a.admit(two).unwrap_err().code, "too_many_connections");
        assert_eq!(a.open(), 3);
        drop(p1);
        assert_eq!(a.open(), 2);
        a.admit(one).unwrap();
    }

    #[test]
    fn the_default_stays_below_the_descriptor_limit() {
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let max = default_max_connections() as u64;
        assert!(
            max <= 1024 && max < soft.max(2),
            "{max} vs ulimit -n {soft}"
        );
    }

    #[test]
    fn accept_failures_back_off_to_a_second_and_log_once_per_interval() {
        let mut b = AcceptBackoff::default();
        let t0 = Instant::now();
        let mut waits = Vec::new();
        let mut logged = 0;
        for i in 0..12 {
            let (d, log) = b.failed(t0 + Duration::from_millis(i * 100));
            waits.push(d.as_millis());
            logged += usize::from(log);
        }
        assert_eq!(waits[..8], [10, 20, 40, 80, 160, 320, 640, 1000]);
        assert_eq!(waits[11], 1000);
        assert_eq!(logged, 1, "one log line in 1.1 s of failures");
        assert!(b.failed(t0 + Duration::from_secs(6)).1);
        assert_eq!(b.succeeded(), 13);
        assert_eq!(
            b.failed(t0 + Duration::from_secs(7)),
            (Duration::from_millis(10), true)
        );
        assert_eq!(b.total_failures, 14);
    }
}
