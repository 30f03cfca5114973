//! The store's promise: an event a client may have seen is on disk first. When the store
//! refuses a write (a full disk, say), nothing of that step may reach any client: the server
//! tells every client `store_failed`, closes, stops accepting, and says why.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use netlab_events::EventsError;
use netlab_events::core::{Config, StoreOp};
use netlab_events::server::ServerOptions;
use netlab_events::store::{MemoryStore, Snapshot, Store};
use support::{Raw, T, start_with};

/// A store that works until told to fail, then refuses every write as a full disk would.
struct FailingStore {
    inner: MemoryStore,
    fail: Arc<AtomicBool>,
}

impl Store for FailingStore {
    fn load(&mut self) -> Result<Snapshot, EventsError> {
        self.inner.load()
    }

    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), EventsError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(EventsError::Store {
                path: "failing.redb".into(),
                message: "No space left on device (os error 28)".into(),
            });
        }
        self.inner.apply(ops)
    }
}

#[tokio::test]
async fn a_failed_store_write_sends_nothing_and_stops_the_server() {
    let fail = Arc::new(AtomicBool::new(false));
    let mut inner = MemoryStore::new();
    let store = FailingStore {
        inner: inner.clone(),
        fail: fail.clone(),
    };
    let opts = ServerOptions {
        store: Some(Box::new(store)),
        ..ServerOptions::default()
    };
    let server = start_with(Config::default(), opts).await;
    let addr = server.local_addr();

    let (mut ada, _) = Raw::chat(addr, "ada").await;
    let (mut bob, _) = Raw::chat(addr, "bob").await;
    for (raw, name) in [(&mut ada, "ada"), (&mut bob, "bob")] {
        raw.send(r#"{"type":"event","ns":"/chat","name":"join","args":["r"],"ack":1}"#)
            .await;
        let ack = raw.recv_type("ack").await;
        assert_eq!(ack["args"][0]["ok"], true, "{name}: {ack}");
    }
    // Bob joined after ada, so ada hears bob's `joined`.
    let joined = ada.recv_type("event").await;
    assert_eq!(joined["name"], "joined");
    let stored_before = inner.load().unwrap();

    // The disk fills up; ada's message (reliable, to ada and bob) cannot be stored.
    fail.store(true, Ordering::SeqCst);
    ada.send(r#"{"type":"event","ns":"/chat","name":"message","args":["r","lost?"],"ack":2}"#)
        .await;

    // Neither gets the message, nor ada her ack: each gets the error, then the close.
    for raw in [&mut ada, &mut bob] {
        let line = raw.recv_line().await;
        assert_eq!(
            line,
            "{\"type\":\"error\",\"code\":\"store_failed\",\"message\":\"the server could not \
             write to its store, so it stopped rather than send events a restart would lose; \
             reconnect with your session once it is back\"}\n"
        );
        raw.expect_eof().await;
    }
    assert_eq!(inner.load().unwrap(), stored_before, "nothing half-written");

    // The server says why it stopped, and takes no new clients.
    let why = tokio::time::timeout(T, server.failure())
        .await
        .expect("the server reports its failure");
    assert!(matches!(&why, EventsError::Stopped(m) if m.contains("No space left")));
    assert!(
        why.to_string().contains("move the store file aside"),
        "{why}"
    );
    let refused = tokio::time::timeout(T, async {
        loop {
            match tokio::net::TcpStream::connect(addr).await {
                Err(e) => return e,
                // The listener may still be closing: its backlog can take one more.
                Ok(_) => tokio::task::yield_now().await,
            }
        }
    })
    .await
    .expect("the listener closes");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    server.shutdown().await;
}
