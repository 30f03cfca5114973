//! Where sessions and reliable logs persist, behind the [`Store`] trait.
//!
//! The core emits [`StoreOp`]s; the transport applies each step's ops before it writes that
//! step's frames, so an event a client may have seen is always on disk first (and if the store
//! fails, nothing of that step is sent: see `Hub::step`). [`MemoryStore`] is the default
//! (shareable, so tests can "restart" a server on the same store); [`RedbStore`] keeps
//! everything in one redb file for `netlab events serve --store PATH`. redb was chosen because
//! it is pure Rust (no C toolchain), ACID with crash-safe commits, maintained, and a single file
//! that a student can delete to start over.
//!
//! A file is not trusted: each record carries a checksum, and a damaged file (truncated, a
//! flipped bit, not a store at all) is refused with [`EventsError::StoreDamaged`], which says
//! how to move it aside, instead of being replayed or crashing the server. A log with a hole in
//! it is never replayed as complete: the hole counts as lost, so a resume from before it gets
//! `recovered: false` (see [`check_log`]).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Mutex, Once};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

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
        let snapshot: Snapshot = g
            .sessions
            .values()
            .map(|s| {
                let log = g
                    .logs
                    .get(&s.token)
                    .map(|l| l.values().cloned().collect())
                    .unwrap_or_default();
                (s.clone(), log)
            })
            .collect();
        Ok(snapshot.into_iter().map(check_log).collect())
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

/// A session's log holds every event after the highest of `confirmed` and `lost_through`, up to
/// `next_seq`. If one is missing (a store bug, or a file edited by hand), a resume from before
/// the hole cannot be complete: count the hole as lost, so that resume says `recovered: false`
/// instead of replaying around it.
pub fn check_log(
    (mut rec, mut log): (SessionRecord, Vec<LogRecord>),
) -> (SessionRecord, Vec<LogRecord>) {
    let before = rec.lost_through;
    let mut expected = rec.confirmed.max(rec.lost_through) + 1;
    for entry in &log {
        if entry.seq > expected {
            rec.lost_through = entry.seq - 1;
        }
        expected = expected.max(entry.seq + 1);
    }
    // The newest events, if the session counted further than its log reaches.
    if rec.next_seq >= expected {
        rec.lost_through = rec.next_seq;
    }
    if rec.lost_through != before {
        tracing::warn!(
            sid = rec.sid,
            lost_through = rec.lost_through,
            "the stored log has a hole: a resume from before it will say recovered: false"
        );
    }
    let floor = rec.confirmed.max(rec.lost_through);
    log.retain(|e| e.seq > floor);
    (rec, log)
}

/// Sessions by token: checksummed JSON records (see [`seal`]). Keys and values are bytes, not
/// `&str`: redb would panic on a stored string that is not UTF-8.
const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
/// Log entries by (token, seq): checksummed JSON records.
const LOG: TableDefinition<(&[u8], u64), &[u8]> = TableDefinition::new("log");

/// What [`RedbStore::open`] found at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// No file: a new store was created.
    NoFile,
    /// An empty file (0 bytes): used as a new store. If it once held a store, that is gone.
    EmptyFile,
    /// A store, reopened.
    Store,
}

/// A store in one redb file.
pub struct RedbStore {
    /// `None` once redb panicked on this file: its state is unknown, so the database is leaked
    /// rather than closed (closing writes to the file, and could panic again).
    db: Option<Database>,
    path: String,
    found: Found,
}

impl RedbStore {
    /// Open the file, creating it (and its tables) if needed. A damaged file, or one that is
    /// not a netlab store, gives [`EventsError::StoreDamaged`].
    pub fn open(path: &Path) -> Result<Self, EventsError> {
        let p = path.display().to_string();
        let found = match std::fs::metadata(path) {
            Ok(m) if m.len() == 0 => Found::EmptyFile,
            Ok(_) => Found::Store,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Found::NoFile,
            Err(e) => return Err(store_error(&p, &e)),
        };
        let db = match inside_redb(|| Database::create(path)) {
            Ok(Ok(db)) => db,
            Ok(Err(e)) => return Err(classify(&p, e.into())),
            Err(panic) => {
                return Err(damaged(
                    &p,
                    format!("redb failed reading it ({})", panic_text(&*panic)),
                ));
            }
        };
        let mut store = RedbStore {
            db: Some(db),
            path: p,
            found,
        };
        store.guarded(|db| {
            let txn = db.begin_write()?;
            txn.open_table(SESSIONS)?;
            txn.open_table(LOG)?;
            txn.commit()?;
            Ok(())
        })?;
        Ok(store)
    }

    /// What was at the path when the store was opened.
    pub fn found(&self) -> Found {
        self.found
    }

    /// One line for whoever starts the server: what the store file was.
    pub fn opening_note(&self) -> String {
        let path = &self.path;
        match self.found {
            Found::NoFile => format!("store {path}: no such file, created a new store"),
            Found::EmptyFile => format!(
                "store {path}: the file was empty (0 bytes), so this is a new store with nothing to restore"
            ),
            Found::Store => {
                format!("store {path}: reopened; its sessions and unconfirmed events are restored")
            }
        }
    }

    /// Run `f` on the database, turning a redb panic into an error: redb trusts its file, and a
    /// damaged one can make it index out of bounds or unwrap a failure.
    ///
    /// Catching works only if nothing panics again while the first panic unwinds (that aborts
    /// the process). What runs then, as read in redb 5.0.0: our table handles and transaction,
    /// and redb's own guards. `WriteTransaction` skips its rollback while unwinding, and redb's
    /// cache guards are written not to panic then. A `Table` relocks the transaction's table
    /// list when dropped, so [`Store::apply`] never has two open (see there). redb's debug-only
    /// page bookkeeping could panic twice (a check that fails under a lock, then a relock with
    /// `unwrap` in a drop), so the root Cargo.toml builds redb without debug assertions. This
    /// is a reading of redb's code, not a proof: no file was found that makes redb panic inside
    /// a write (the server loads, and so reads, every table page before its first write).
    fn guarded<T>(
        &mut self,
        f: impl FnOnce(&Database) -> Result<T, Failure>,
    ) -> Result<T, EventsError> {
        let Some(db) = self.db.as_ref() else {
            return Err(damaged(&self.path, "redb failed on it earlier".into()));
        };
        match inside_redb(|| f(db)) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(Failure::Redb(e))) => Err(classify(&self.path, e)),
            Ok(Err(Failure::Damaged(what))) => Err(damaged(&self.path, what)),
            Err(panic) => {
                std::mem::forget(self.db.take());
                let what = format!("redb failed reading it ({})", panic_text(&*panic));
                Err(damaged(&self.path, what))
            }
        }
    }
}

thread_local! {
    /// True while this thread runs redb code under [`inside_redb`].
    static IN_REDB: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` (redb code) and catch a panic in it, without the panic printing to stderr.
///
/// redb trusts its file, and a damaged one can make it panic; the caller turns that panic into
/// a clear [`EventsError::StoreDamaged`]. But Rust's panic hook runs before any unwinding is
/// caught, and the default one prints "thread 'main' panicked at .../redb/src/..." to stderr:
/// what a student would see first is a crash report for a case that is handled. So the first
/// call installs a hook that stays quiet (it logs at debug level only) while this thread is
/// inside `f`, and hands every other panic to the hook that was there before, unchanged. The
/// flag is per thread, so a panic elsewhere at the same moment still prints as usual.
fn inside_redb<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_REDB.with(Cell::get) {
                tracing::debug!("redb panicked (reported as a damaged store): {info}");
            } else {
                previous(info);
            }
        }));
    });
    let was = IN_REDB.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_REDB.with(|c| c.set(was));
    result
}

/// Why a guarded redb call failed: redb said so, or a record is not what was written.
enum Failure {
    Redb(redb::Error),
    Damaged(String),
}

impl<E: Into<redb::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Redb(e.into())
    }
}

/// A record as stored: a CRC-32 (big-endian) of its key and its JSON, then the JSON. redb checks
/// the structure of its pages, not the bytes in them: without this, a flipped bit in a message
/// would be replayed as if it had been sent.
fn seal(key: &[u8], json: &[u8]) -> Vec<u8> {
    let mut out = checksum(key, json).to_be_bytes().to_vec();
    out.extend_from_slice(json);
    out
}

/// The JSON of a sealed record, if its checksum matches.
fn unseal<'a>(key: &[u8], record: &'a [u8]) -> Option<&'a [u8]> {
    let (sum, json) = record.split_first_chunk::<4>()?;
    (u32::from_be_bytes(*sum) == checksum(key, json)).then_some(json)
}

fn checksum(key: &[u8], json: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(key);
    h.update(json);
    h.finalize()
}

/// The bytes a log record's checksum covers besides its JSON: its token and seq.
fn log_key(token: &[u8], seq: u64) -> Vec<u8> {
    [token, &seq.to_be_bytes()].concat()
}

/// Check a record's checksum and parse it; `what` names it in the error.
fn open_record<T: serde::de::DeserializeOwned>(
    key: &[u8],
    record: &[u8],
    what: impl Fn() -> String,
) -> Result<T, Failure> {
    let json = unseal(key, record)
        .ok_or_else(|| Failure::Damaged(format!("{} does not match its checksum", what())))?;
    serde_json::from_slice(json)
        .map_err(|e| Failure::Damaged(format!("{} cannot be read: {e}", what())))
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    // Records are plain data (strings, numbers, JSON values): serializing cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

fn short(token: &[u8]) -> String {
    String::from_utf8_lossy(&token[..token.len().min(8)]).into_owned()
}

fn store_error(path: &str, e: &dyn std::fmt::Display) -> EventsError {
    EventsError::Store {
        path: path.to_string(),
        message: e.to_string(),
    }
}

fn damaged(path: &str, what: String) -> EventsError {
    EventsError::StoreDamaged {
        path: path.to_string(),
        what,
    }
}

/// A damaged file (refuse it) or trouble around it (a full disk, permissions: fix and retry).
fn classify(path: &str, e: redb::Error) -> EventsError {
    use std::io::ErrorKind;
    match e {
        redb::Error::Corrupted(_)
        | redb::Error::TableTypeMismatch(_)
        | redb::Error::TypeDefinitionChanged(_)
        | redb::Error::TableIsMultimap(_) => damaged(path, e.to_string()),
        redb::Error::UpgradeRequired(v) => damaged(
            path,
            format!("it is in redb's file format {v}, written by an older netlab"),
        ),
        redb::Error::Io(io)
            if matches!(io.kind(), ErrorKind::UnexpectedEof | ErrorKind::InvalidData) =>
        {
            damaged(path, format!("it is cut short or not a store ({io})"))
        }
        redb::Error::DatabaseAlreadyOpen => store_error(
            path,
            &"another process has it open (a second `netlab events serve --store` on the same \
              file?); stop that one or choose another file",
        ),
        e => store_error(path, &e),
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".to_string())
}

impl Store for RedbStore {
    fn load(&mut self) -> Result<Snapshot, EventsError> {
        let snapshot = self.guarded(|db| {
            let txn = db.begin_read()?;
            let sessions = txn.open_table(SESSIONS)?;
            let log = txn.open_table(LOG)?;
            let mut out = Vec::new();
            for item in sessions.iter()? {
                let (k, v) = item?;
                let token = k.value();
                let what = || format!("the session {}...", short(token));
                let rec: SessionRecord = open_record(token, v.value(), what)?;
                if rec.token.as_bytes() != token {
                    return Err(Failure::Damaged(format!(
                        "{} is stored under another token",
                        what()
                    )));
                }
                let mut entries = Vec::new();
                for e in log.range((token, 0)..=(token, u64::MAX))? {
                    let (k, v) = e?;
                    let seq = k.value().1;
                    let what = || format!("event {seq} of the session {}...", short(token));
                    let entry: LogRecord = open_record(&log_key(token, seq), v.value(), what)?;
                    if entry.seq != seq {
                        return Err(Failure::Damaged(format!(
                            "{} is stored under another seq",
                            what()
                        )));
                    }
                    entries.push(entry);
                }
                out.push((rec, entries));
            }
            Ok(out)
        })?;
        Ok(snapshot.into_iter().map(check_log).collect())
    }

    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), EventsError> {
        if ops.is_empty() {
            return Ok(());
        }
        // One table open at a time, so that a redb panic cannot turn into an abort: redb's
        // `open_table` holds the transaction's table list locked while it reads the file, and
        // an open `Table` locks that list (with `unwrap`) when it is dropped. Had the second
        // `open_table` panicked on a damaged page with the first table still open, the unwind
        // would drop the first, find the lock poisoned and panic again: a panic while panicking
        // aborts the process, past any `catch_unwind`. Sessions and log entries are in separate
        // tables, so applying one table's ops, then the other's, stores the same thing.
        self.guarded(|db| {
            let txn = db.begin_write()?;
            {
                let mut sessions = txn.open_table(SESSIONS)?;
                for op in ops {
                    match op {
                        StoreOp::PutSession(s) => {
                            let key = s.token.as_bytes();
                            sessions.insert(key, seal(key, &json(s)).as_slice())?;
                        }
                        StoreOp::DeleteSession { token } => {
                            sessions.remove(token.as_bytes())?;
                        }
                        StoreOp::Append { .. } | StoreOp::Forget { .. } => {}
                    }
                }
            }
            {
                let mut log = txn.open_table(LOG)?;
                for op in ops {
                    match op {
                        StoreOp::Append { token, entry } => {
                            let key = token.as_bytes();
                            let record = seal(&log_key(key, entry.seq), &json(entry));
                            log.insert((key, entry.seq), record.as_slice())?;
                        }
                        StoreOp::Forget { token, through } => {
                            remove_range(&mut log, token.as_bytes(), *through)?;
                        }
                        StoreOp::DeleteSession { token } => {
                            remove_range(&mut log, token.as_bytes(), u64::MAX)?;
                        }
                        StoreOp::PutSession(_) => {}
                    }
                }
            }
            txn.commit()?;
            Ok(())
        })
    }
}

fn remove_range(
    log: &mut redb::Table<(&[u8], u64), &[u8]>,
    token: &[u8],
    through: u64,
) -> Result<(), redb::StorageError> {
    log.retain_in((token, 0)..=(token, through), |_, _| false)
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
                StoreOp::PutSession(confirmed(rec("a"), 1)),
                StoreOp::Forget {
                    token: "a".into(),
                    through: 1,
                },
                StoreOp::DeleteSession { token: "b".into() },
            ])
            .unwrap();
        store.load().unwrap()
    }

    /// The session after its client confirmed `seq`.
    fn confirmed(mut r: SessionRecord, seq: u64) -> SessionRecord {
        r.confirmed = seq;
        r
    }

    /// A fresh path in the temp directory for one test.
    fn temp(name: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!(
            "netlab-events-store-{name}-{}.redb",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn memory_and_redb_keep_the_same_things() {
        let expected = vec![(confirmed(rec("a"), 1), vec![entry(2), entry(3)])];
        assert_eq!(exercise(&mut MemoryStore::new()), expected);
        let path = temp("same");
        {
            let mut db = RedbStore::open(&path).unwrap();
            assert_eq!(db.found(), Found::NoFile);
            assert_eq!(exercise(&mut db), expected);
        }
        // Reopening the file finds the same data: this is what survives a server restart.
        let mut again = RedbStore::open(&path).unwrap();
        assert_eq!(again.found(), Found::Store);
        assert_eq!(again.load().unwrap(), expected);
        drop(again);
        std::fs::remove_file(&path).unwrap();
    }

    /// A store file with session "a" and events 1..=3 (texts "hello 1" ...), none confirmed.
    fn sample_file(name: &str) -> (std::path::PathBuf, Vec<u8>) {
        let path = temp(name);
        let mut db = RedbStore::open(&path).unwrap();
        let mut ops = vec![StoreOp::PutSession(rec("a"))];
        for seq in 1..=3 {
            ops.push(StoreOp::Append {
                token: "a".into(),
                entry: LogRecord {
                    seq,
                    name: "message".into(),
                    args: vec![json!(format!("hello {seq}"))],
                },
            });
        }
        db.apply(&ops).unwrap();
        drop(db);
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes)
    }

    /// Open and load, as `netlab events serve --store` does at start.
    fn open_and_load(path: &Path) -> Result<Snapshot, EventsError> {
        RedbStore::open(path)?.load()
    }

    fn assert_damaged(r: Result<Snapshot, EventsError>, why: &str) {
        match r {
            Err(e @ EventsError::StoreDamaged { .. }) => {
                let text = e.to_string();
                assert!(text.contains("Move it aside (mv "), "{why}: {text}");
            }
            other => panic!("{why}: expected StoreDamaged, got {other:?}"),
        }
    }

    #[test]
    fn a_truncated_file_is_refused_not_a_panic() {
        // redb 2 panicked in its page manager for any cut from 511 bytes on.
        let (path, full) = sample_file("cut");
        let mut cuts: Vec<usize> = (1..full.len()).step_by(389).collect();
        cuts.extend([511, 512, 4096, full.len() - 1]);
        for cut in cuts {
            std::fs::write(&path, &full[..cut]).unwrap();
            assert_damaged(open_and_load(&path), &format!("cut to {cut} bytes"));
        }
        std::fs::remove_file(&path).unwrap();
    }

    /// The file with the first byte of `needle` changed by `change`.
    fn tamper(full: &[u8], needle: &[u8], change: impl Fn(u8) -> u8) -> Vec<u8> {
        let at = full
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("the text is in the file");
        let mut bytes = full.to_vec();
        bytes[at] = change(bytes[at]);
        bytes
    }

    #[test]
    fn a_changed_record_is_detected_not_replayed() {
        let (path, full) = sample_file("flip");
        // A flipped low bit: "hello 2" becomes "hello 3", which was replayed as if sent.
        std::fs::write(&path, tamper(&full, b"2\"]", |b| b ^ 1)).unwrap();
        let e = open_and_load(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "store {p} cannot be used: event 2 of the session a... does not match its \
                 checksum. Move it aside (mv {p} {p}.damaged) and start again with a new store; \
                 clients that resume then get recovered: false and resync",
                p = path.display()
            )
        );
        // A high bit set: not UTF-8 any more, which panicked in an unwrap.
        std::fs::write(&path, tamper(&full, b"hello 3", |b| b | 0x80)).unwrap();
        assert_damaged(open_and_load(&path), "high bit");
        // The session record itself.
        std::fs::write(&path, tamper(&full, b"lobby", |b| b ^ 4)).unwrap();
        assert_damaged(open_and_load(&path), "session record");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn flipped_bits_anywhere_never_panic() {
        // Whatever redb makes of a damaged page, the store answers with a result.
        let (path, full) = sample_file("bits");
        for bit in (0..full.len() * 8).step_by(4099) {
            let mut bytes = full.clone();
            bytes[bit / 8] ^= 1 << (bit % 8);
            std::fs::write(&path, &bytes).unwrap();
            match open_and_load(&path) {
                Ok(snapshot) => assert!(snapshot.len() <= 1, "bit {bit}"),
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_store_is_refused_and_left_alone() {
        let path = temp("text");
        let text = b"these are my lecture notes, not a store\n".repeat(100);
        std::fs::write(&path, &text).unwrap();
        assert_damaged(open_and_load(&path), "a text file");
        assert_eq!(std::fs::read(&path).unwrap(), text);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_file_already_open_says_so() {
        let path = temp("twice");
        let first = RedbStore::open(&path).unwrap();
        let Err(e) = RedbStore::open(&path) else {
            panic!("opened twice");
        };
        assert!(e.to_string().contains("another process has it open"), "{e}");
        drop(first);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn an_empty_file_is_a_new_store_and_says_so() {
        let path = temp("empty");
        std::fs::write(&path, b"").unwrap();
        let mut db = RedbStore::open(&path).unwrap();
        assert_eq!(db.found(), Found::EmptyFile);
        assert_eq!(
            db.opening_note(),
            format!(
                "store {}: the file was empty (0 bytes), so this is a new store with nothing to restore",
                path.display()
            )
        );
        assert_eq!(db.load().unwrap(), vec![]);
        drop(db);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_hole_in_a_log_counts_as_lost() {
        let mut store = MemoryStore::new();
        let mut ops = vec![StoreOp::PutSession(rec("a"))];
        for seq in [1, 2, 4, 5] {
            ops.push(StoreOp::Append {
                token: "a".into(),
                entry: entry(seq),
            });
        }
        store.apply(&ops).unwrap();
        let (r, log) = store.load().unwrap().remove(0);
        // Event 3 is missing: a client that has 2 cannot be brought up to date.
        assert_eq!(r.lost_through, 3);
        assert_eq!(log, vec![entry(4), entry(5)]);

        // The session counted to 7 but its log stops at 5: 6 and 7 are missing.
        let mut at7 = rec("a");
        at7.next_seq = 7;
        let (r, log) = check_log((at7, vec![entry(4), entry(5)]));
        assert_eq!((r.lost_through, log), (7, vec![]));

        // A complete log is left alone.
        let mut at2 = confirmed(rec("a"), 1);
        at2.next_seq = 3;
        let (r, log) = check_log((at2, vec![entry(2), entry(3)]));
        assert_eq!((r.lost_through, log.len()), (0, 2));
    }
}
