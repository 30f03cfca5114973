//! Sessions: one per socket (a client in a namespace), kept after a disconnect so that the
//! client can resume, with the reliable log of events it has not confirmed yet.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ConnId;
use super::namespace::Handler;
use crate::frame::Frame;

/// One reliable event waiting for the client's `received`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub seq: u64,
    pub name: String,
    pub args: Vec<Value>,
}

/// The persistent part of a session, as a store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub token: String,
    pub sid: String,
    pub ns: String,
    pub rooms: BTreeSet<String>,
    pub data: Map<String, Value>,
    /// Highest seq assigned so far.
    pub next_seq: u64,
    /// Highest seq the client confirmed (cumulative).
    pub confirmed: u64,
    /// Highest seq dropped from the log before it was confirmed: a resume from below it cannot
    /// be complete, so it is refused with `recovered:false`.
    pub lost_through: u64,
    /// Highest seq of the client's own reliable emits already handled (for deduplication).
    pub client_seq: u64,
}

/// One entry of a socket's log, as the core keeps it in memory.
pub(crate) struct LogEntry {
    pub seq: u64,
    /// The event without its seq: one frame shared by every socket a broadcast reached.
    pub event: Arc<Frame>,
    /// When it was written (for the age bound).
    pub at: Instant,
    /// The bytes it counts ([`entry_bytes`], computed once).
    pub bytes: usize,
}

/// A socket: the live state of a session, attached to a connection or waiting for a resume.
pub(crate) struct Socket {
    pub rec: SessionRecord,
    pub auth: Value,
    pub conn: Option<ConnId>,
    pub detached_at: Option<Instant>,
    /// The log, oldest first.
    pub log: VecDeque<LogEntry>,
    /// What the log holds, in bytes of the frames it would replay (for the byte bounds).
    pub log_bytes: usize,
    /// Handlers added for this socket only (checked before the namespace's).
    pub handlers: HashMap<String, Handler>,
}

impl Socket {
    pub fn new(rec: SessionRecord, auth: Value) -> Self {
        Socket {
            rec,
            auth,
            conn: None,
            detached_at: None,
            log: VecDeque::new(),
            log_bytes: 0,
            handlers: HashMap::new(),
        }
    }

    /// Assign the next seq to `event` (an event frame without a seq) and keep it until it is
    /// confirmed, within the bounds: at most `max_len` entries and `max_bytes` bytes (an entry
    /// counts `bytes`, its frame's size). Older unconfirmed entries pushed out are recorded as
    /// lost (`lost_through`). Returns the seq.
    pub fn append(
        &mut self,
        event: &Arc<Frame>,
        now: Instant,
        bytes: usize,
        max_len: usize,
        max_bytes: usize,
    ) -> u64 {
        self.rec.next_seq += 1;
        let seq = self.rec.next_seq;
        self.push(seq, event.clone(), now, bytes.max(1));
        while self.log.len() > max_len || self.log_bytes > max_bytes {
            self.drop_oldest();
        }
        seq
    }

    /// Keep `event` as entry `seq` at the end of the log (also used to restore a stored log).
    pub fn push(&mut self, seq: u64, event: Arc<Frame>, at: Instant, bytes: usize) {
        self.log_bytes += bytes;
        self.log.push_back(LogEntry {
            seq,
            event,
            at,
            bytes,
        });
    }

    /// Drop the oldest entry; if it was unconfirmed, it is lost. Returns false if empty.
    pub fn drop_oldest(&mut self) -> bool {
        let Some(old) = self.log.pop_front() else {
            return false;
        };
        self.log_bytes = self.log_bytes.saturating_sub(old.bytes);
        if old.seq > self.rec.confirmed {
            self.rec.lost_through = self.rec.lost_through.max(old.seq);
        }
        true
    }

    /// The client has everything up to `seq`: forget those entries. Returns true if it moved.
    pub fn confirm(&mut self, seq: u64) -> bool {
        let seq = seq.min(self.rec.next_seq);
        if seq <= self.rec.confirmed {
            return false;
        }
        self.rec.confirmed = seq;
        while self.log.front().is_some_and(|e| e.seq <= seq) {
            self.drop_oldest();
        }
        true
    }

    /// Apply the age bound. Returns true if anything unconfirmed was lost.
    pub fn expire(&mut self, now: Instant, max_age: Duration) -> bool {
        let before = self.rec.lost_through;
        while self
            .log
            .front()
            .is_some_and(|e| now.saturating_duration_since(e.at) > max_age)
        {
            self.drop_oldest();
        }
        self.rec.lost_through != before
    }

    /// Can a client that has everything up to `seq` be brought up to date from the log?
    pub fn can_resume_from(&self, seq: u64) -> bool {
        seq <= self.rec.next_seq && self.rec.lost_through <= seq
    }
}

/// The bytes a restored log entry counts: its frame on the wire, as a broadcast measures it.
pub fn entry_bytes(ns: &str, r: &LogRecord) -> usize {
    super::event_wire_len(ns, &r.name, &r.args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> Arc<Frame> {
        Arc::new(Frame::event("/", "e", vec![]))
    }

    fn socket() -> Socket {
        Socket::new(
            SessionRecord {
                token: "t".into(),
                sid: "s".into(),
                ns: "/".into(),
                rooms: BTreeSet::new(),
                data: Map::new(),
                next_seq: 0,
                confirmed: 0,
                lost_through: 0,
                client_seq: 0,
            },
            Value::Null,
        )
    }

    #[test]
    fn count_bound_marks_the_loss() {
        let now = Instant::now();
        let mut s = socket();
        for _ in 0..5 {
            s.append(&ev(), now, 1, 3, usize::MAX);
        }
        assert_eq!(s.log.len(), 3);
        assert_eq!(s.rec.lost_through, 2);
        assert!(!s.can_resume_from(1));
        assert!(s.can_resume_from(2));
    }

    #[test]
    fn confirmed_entries_are_not_losses() {
        let now = Instant::now();
        let mut s = socket();
        s.append(&ev(), now, 1, 2, usize::MAX);
        s.append(&ev(), now, 1, 2, usize::MAX);
        assert!(s.confirm(1));
        s.append(&ev(), now, 1, 2, usize::MAX);
        s.append(&ev(), now, 1, 2, usize::MAX);
        assert_eq!(s.rec.lost_through, 2);
        assert!(s.can_resume_from(2));
    }

    #[test]
    fn age_bound_expires_old_entries() {
        let t0 = Instant::now();
        let mut s = socket();
        s.append(&ev(), t0, 1, 10, usize::MAX);
        s.append(&ev(), t0 + Duration::from_secs(5), 1, 10, usize::MAX);
        assert!(s.expire(t0 + Duration::from_secs(8), Duration::from_secs(6)));
        assert_eq!(s.log.len(), 1);
        assert!(!s.can_resume_from(0));
        assert!(s.can_resume_from(1));
    }
}
