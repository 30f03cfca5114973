//! The TCP idle timeout, kept off the hot path.
//!
//! A timer per connection that is polled on every read costs measurably at the tail with many
//! busy connections (docs/performance.md, "Echo"). Instead each connection only bumps a counter
//! of its reads, and the accept loop sweeps every [`sweep_period`]: a connection whose counter
//! has not moved for the idle timeout is aborted, which closes its socket. A connection is thus
//! closed between `idle` and `idle + sweep_period` after its last read.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::{AbortHandle, Id};
use tokio::time::Instant;

/// How often to sweep for an idle limit: a quarter of it, between 10 ms and 1 s.
pub fn sweep_period(idle: Duration) -> Duration {
    (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

/// A connection's read counter, bumped by the connection task (its only writer).
#[derive(Debug, Default)]
pub struct Activity(AtomicU64);

impl Activity {
    /// Notes one read. Relaxed: the sweeper only needs to see that the value moved, eventually.
    pub fn touch(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

struct Watched {
    activity: Arc<Activity>,
    seen: u64,
    since: Instant,
    abort: AbortHandle,
}

/// The connections being watched, owned by the accept loop.
pub struct IdleWatch {
    limit: Duration,
    watched: HashMap<Id, Watched>,
}

impl IdleWatch {
    pub fn new(limit: Duration) -> Self {
        IdleWatch {
            limit,
            watched: HashMap::new(),
        }
    }

    /// Starts watching a connection task.
    pub fn watch(&mut self, activity: Arc<Activity>, abort: AbortHandle, now: Instant) {
        let seen = activity.0.load(Ordering::Relaxed);
        let watched = Watched {
            activity,
            seen,
            since: now,
            abort,
        };
        self.watched.insert(watched.abort.id(), watched);
    }

    /// Stops watching a task that ended.
    pub fn forget(&mut self, id: Id) {
        self.watched.remove(&id);
    }

    /// Aborts every connection idle for the limit; returns how many.
    pub fn sweep(&mut self, now: Instant) -> u64 {
        let limit = self.limit;
        let before = self.watched.len();
        self.watched.retain(|_, w| {
            let reads = w.activity.0.load(Ordering::Relaxed);
            if reads != w.seen {
                (w.seen, w.since) = (reads, now);
                return true;
            }
            if now.saturating_duration_since(w.since) < limit {
                return true;
            }
            w.abort.abort();
            false
        });
        (before - self.watched.len()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn only_connections_without_reads_for_the_limit_are_aborted() {
        let mut watch = IdleWatch::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let quiet = tokio::spawn(std::future::pending::<()>());
        let busy = tokio::spawn(std::future::pending::<()>());
        let busy_activity = Arc::new(Activity::default());
        watch.watch(Arc::default(), quiet.abort_handle(), t0);
        watch.watch(busy_activity.clone(), busy.abort_handle(), t0);
        assert_eq!(watch.sweep(t0 + Duration::from_secs(9)), 0);
        busy_activity.touch();
        assert_eq!(
            watch.sweep(t0 + Duration::from_secs(10)),
            1,
            "the quiet one"
        );
        assert!(quiet.await.unwrap_err().is_cancelled());
        // The busy one read at 10 s: its clock restarted then.
        assert_eq!(watch.sweep(t0 + Duration::from_secs(19)), 0);
        assert_eq!(watch.sweep(t0 + Duration::from_secs(20)), 1);
        assert!(busy.await.unwrap_err().is_cancelled());
    }
}
