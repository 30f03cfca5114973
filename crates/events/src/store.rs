//! Where sessions and reliable logs persist, behind the [`Store`] trait.
//!
//! The core emits [`StoreOp`]s; the transport applies each step's ops before it writes that
//! step's frames, so an event a client may have seen is always on disk first. [`MemoryStore`] is
//! the default (shareable, so tests can "restart" a server on the same store); [`RedbStore`]
//! keeps everything in one redb file for `netlab events serve --store PATH`. redb was chosen
//! because it is pure Rust (no C toolchain), ACID with crash-safe commits, maintained, and a
//! single file that a student can delete to start over.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use redb::{Database, ReadableTable, TableDefinition};

use crate::core::{LogRecord, SessionRecord, StoreOp};
use crate::error::EventsError;

/// Everything a store keeps: each session with its unconfirmed log, oldest first.
pub type Snapshot = Vec<(SessionRecord, Vec<LogRecord>)>;

/// A persistent home for sessions and reliable logs.
pub trait Store: Send {
    /// Everything kept, to hand to [`crate::core::Core::restore`] at startup.
    fn load(&mut self) -> Result<Snapshot, EventsError>;
    /// Persist one step's changes atomically.
    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), EventsError>;
}

#[derive(Default)]
struct MemInner {
    sessions: BTreeMap<String, SessionRecord>,
    logs: BTreeMap<String, BTreeMap<u64, LogRecord>>,
}

/// An in-memory store. Clones share the same data, so a test can stop a server and start a new
/// one on the same store to simulate a restart.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<MemInner>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn load(&mut self) -> Result<Snapshot, EventsError> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Ok(g.sessions
            .values()
            .map(|s| {
                let log = g
                    .logs
                    .get(&s.token)
                    .map(|l| l.values().cloned().collect())
                    .unwrap_or_default();
                (s.clone(), log)
            })
            .collect())
    }

    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), EventsError> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for op in ops {
            match op {
                StoreOp::PutSession(s) => {
                    g.sessions.insert(s.token.clone(), s.clone());
                }
                StoreOp::Append { token, entry } => {
                    g.logs
                        .entry(token.clone())
                        .or_default()
                        .insert(entry.seq, entry.clone());
                }
                StoreOp::Forget { token, through } => {
                    if let Some(l) = g.logs.get_mut(token) {
                        l.retain(|seq, _| seq > through);
                    }
                }
                StoreOp::DeleteSession { token } => {
                    g.sessions.remove(token);
                    g.logs.remove(token);
                }
            }
        }
        Ok(())
    }
}

/// Sessions by token, as JSON.
const SESSIONS: TableDefinition<&str, &str> = TableDefinition::new("sessions");
/// Log entries by (token, seq), as JSON.
const LOG: TableDefinition<(&str, u64), &str> = TableDefinition::new("log");

/// A store in one redb file.
pub struct RedbStore {
    db: Database,
    path: String,
}

impl RedbStore {
    /// Open the file, creating it (and its tables) if needed.
    pub fn open(path: &Path) -> Result<Self, EventsError> {
        let p = path.display().to_string();
        let err = |e: &dyn std::fmt::Display| EventsError::Store {
            path: p.clone(),
            message: e.to_string(),
        };
        let db = Database::create(path).map_err(|e| err(&e))?;
        let txn = db.begin_write().map_err(|e| err(&e))?;
        txn.open_table(SESSIONS).map_err(|e| err(&e))?;
        txn.open_table(LOG).map_err(|e| err(&e))?;
        txn.commit().map_err(|e| err(&e))?;
        Ok(RedbStore { db, path: p })
    }

    fn err(&self, e: impl std::fmt::Display) -> EventsError {
        EventsError::Store {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    fn json<T: serde::Serialize>(&self, v: &T) -> Result<String, EventsError> {
        serde_json::to_string(v).map_err(|e| self.err(e))
    }
}

impl Store for RedbStore {
    fn load(&mut self) -> Result<Snapshot, EventsError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let sessions = txn.open_table(SESSIONS).map_err(|e| self.err(e))?;
        let log = txn.open_table(LOG).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for item in sessions.iter().map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let rec: SessionRecord = serde_json::from_str(v.value()).map_err(|e| self.err(e))?;
            let token = k.value();
            let mut entries = Vec::new();
            for e in log
                .range((token, 0)..=(token, u64::MAX))
                .map_err(|e| self.err(e))?
            {
                let (_, v) = e.map_err(|e| self.err(e))?;
                entries.push(serde_json::from_str(v.value()).map_err(|e| self.err(e))?);
            }
            out.push((rec, entries));
        }
        Ok(out)
    }

    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), EventsError> {
        if ops.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut sessions = txn.open_table(SESSIONS).map_err(|e| self.err(e))?;
            let mut log = txn.open_table(LOG).map_err(|e| self.err(e))?;
            for op in ops {
                match op {
                    StoreOp::PutSession(s) => {
                        let v = self.json(s)?;
                        sessions
                            .insert(s.token.as_str(), v.as_str())
                            .map_err(|e| self.err(e))?;
                    }
                    StoreOp::Append { token, entry } => {
                        let v = self.json(entry)?;
                        log.insert((token.as_str(), entry.seq), v.as_str())
                            .map_err(|e| self.err(e))?;
                    }
                    StoreOp::Forget { token, through } => {
                        remove_range(&mut log, token, *through).map_err(|e| self.err(e))?;
                    }
                    StoreOp::DeleteSession { token } => {
                        sessions.remove(token.as_str()).map_err(|e| self.err(e))?;
                        remove_range(&mut log, token, u64::MAX).map_err(|e| self.err(e))?;
                    }
                }
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }
}

fn remove_range(
    log: &mut redb::Table<(&str, u64), &str>,
    token: &str,
    through: u64,
) -> Result<(), redb::StorageError> {
    let keys: Vec<u64> = log
        .range((token, 0)..=(token, through))?
        .map(|e| e.map(|(k, _)| k.value().1))
        .collect::<Result<_, _>>()?;
    for seq in keys {
        log.remove((token, seq))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(token: &str) -> SessionRecord {
        SessionRecord {
            token: token.into(),
            sid: "sid".into(),
            ns: "/chat".into(),
            rooms: ["sid".to_string(), "lobby".to_string()]
                .into_iter()
                .collect(),
            data: serde_json::Map::new(),
            next_seq: 0,
            confirmed: 0,
            lost_through: 0,
            client_seq: 4,
        }
    }

    fn entry(seq: u64) -> LogRecord {
        LogRecord {
            seq,
            name: "m".into(),
            args: vec![json!(seq)],
        }
    }

    fn exercise(store: &mut dyn Store) -> Snapshot {
        store
            .apply(&[
                StoreOp::PutSession(rec("a")),
                StoreOp::PutSession(rec("b")),
                StoreOp::Append {
                    token: "a".into(),
                    entry: entry(1),
                },
                StoreOp::Append {
                    token: "a".into(),
                    entry: entry(2),
                },
                StoreOp::Append {
                    token: "a".into(),
                    entry: entry(3),
                },
                StoreOp::Append {
                    token: "b".into(),
                    entry: entry(1),
                },
                StoreOp::Forget {
                    token: "a".into(),
                    through: 1,
                },
                StoreOp::DeleteSession { token: "b".into() },
            ])
            .unwrap();
        store.load().unwrap()
    }

    #[test]
    fn memory_and_redb_keep_the_same_things() {
        let expected = vec![(rec("a"), vec![entry(2), entry(3)])];
        assert_eq!(exercise(&mut MemoryStore::new()), expected);
        let dir = std::env::temp_dir().join(format!("netlab-events-store-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        {
            let mut db = RedbStore::open(&dir).unwrap();
            assert_eq!(exercise(&mut db), expected);
        }
        // Reopening the file finds the same data: this is what survives a server restart.
        let mut again = RedbStore::open(&dir).unwrap();
        assert_eq!(again.load().unwrap(), expected);
        drop(again);
        std::fs::remove_file(&dir).unwrap();
    }
}
