//! A server restart with `--store` loses no reliable event: the session, its rooms and its
//! unconfirmed log come back from the redb file, and the client resumes with `recovered:true`.

mod support;

use netlab_events::core::Config;
use netlab_events::server::ServerOptions;
use netlab_events::store::RedbStore;
use serde_json::json;
use support::{Raw, start_with};

fn store(path: &std::path::Path) -> ServerOptions {
    ServerOptions {
        store: Some(Box::new(RedbStore::open(path).expect("open store"))),
        ..ServerOptions::default()
    }
}

#[tokio::test]
async fn restart_with_store_replays_every_unconfirmed_event() {
    let path =
        std::env::temp_dir().join(format!("netlab-events-restart-{}.redb", std::process::id()));
    let _ = std::fs::remove_file(&path);

    let server = start_with(Config::default(), store(&path)).await;
    let addr = server.local_addr();
    let (mut bob, c) = Raw::chat(addr, "bob").await;
    let session = c["session"].as_str().unwrap().to_string();
    let sid = c["sid"].as_str().unwrap().to_string();
    let seen = bob.join("r").await;
    bob.confirm(seen).await;
    drop(bob);

    let (mut ada, _) = Raw::chat(addr, "ada").await;
    ada.join("r").await;
    for t in ["one", "two", "three"] {
        ada.send(&format!(
            r#"{{"type":"event","ns":"/chat","name":"message","args":["r","{t}"]}}"#
        ))
        .await;
    }
    // Wait until ada has her own copies back: the server has processed (and stored) all three.
    let mut n = 0;
    while n < 3 {
        if ada.recv().await["name"] == "message" {
            n += 1;
        }
    }
    server.shutdown().await;

    // A new server process, same port, same file.
    let server = start_with_addr(addr, &path).await;
    let mut bob = Raw::connect(addr).await;
    bob.send(&format!(
        r#"{{"type":"connect","ns":"/chat","auth":{{"name":"bob"}},"resume":{{"session":"{session}","seq":{seen}}}}}"#
    ))
    .await;
    let c = bob.recv().await;
    assert_eq!(c["recovered"], true, "{c}");
    assert_eq!(c["sid"], sid.as_str());
    let mut texts = Vec::new();
    // Bob was away for ada's `joined` and the three messages: exactly those are replayed.
    let joined = bob.recv().await;
    assert_eq!(joined["name"], "joined");
    assert_eq!(joined["args"][0]["name"], "ada");
    for _ in 0..3 {
        let m = bob.recv().await;
        texts.push(m["args"][0]["text"].clone());
    }
    assert_eq!(texts, [json!("one"), json!("two"), json!("three")]);
    // Rooms came back too: a new message in r reaches bob.
    let (mut cy, _) = Raw::chat(addr, "cy").await;
    cy.send(r#"{"type":"event","ns":"/chat","name":"join","args":["r"]}"#)
        .await;
    cy.send(r#"{"type":"event","ns":"/chat","name":"message","args":["r","live"]}"#)
        .await;

    let m = bob.recv_type("event").await;
    assert_eq!(m["name"], "joined");
    let m = bob.recv_type("event").await;
    assert_eq!(m["args"][0]["text"], "live");
    server.shutdown().await;
    std::fs::remove_file(&path).unwrap();
}

async fn start_with_addr(
    addr: std::net::SocketAddr,
    path: &std::path::Path,
) -> netlab_events::server::Server {
    let mut core = netlab_events::core::Core::new(Config::default());
    netlab_events::chat::install(&mut core);
    netlab_events::server::Server::bind(addr, core, store(path))
        .await
        .expect("rebind the same port")
}

/// A stored log with a hole (event 3 of 2..=5 missing) is never replayed as complete: a client
/// that has 1 gets `recovered: false`, one that has 3 gets 4 and 5 with `recovered: true`.
#[tokio::test]
async fn a_hole_in_the_stored_log_is_never_recovered_true() {
    use netlab_events::core::{LogRecord, SessionRecord, StoreOp};
    use netlab_events::store::{MemoryStore, Store};

    let session = |token: &str, sid: &str| SessionRecord {
        token: token.into(),
        sid: sid.into(),
        ns: "/chat".into(),
        rooms: [sid.to_string(), "r".to_string()].into_iter().collect(),
        data: [("name".to_string(), json!("bob"))].into_iter().collect(),
        next_seq: 5,
        confirmed: 1,
        lost_through: 0,
        client_seq: 0,
    };
    let mut store = MemoryStore::new();
    let mut ops = vec![
        StoreOp::PutSession(session("t1", "s1")),
        StoreOp::PutSession(session("t2", "s2")),
    ];
    for token in ["t1", "t2"] {
        for seq in [2, 4, 5] {
            ops.push(StoreOp::Append {
                token: token.into(),
                entry: LogRecord {
                    seq,
                    name: "message".into(),
                    args: vec![json!({"name":"ada","room":"r","text":format!("m{seq}")})],
                },
            });
        }
    }
    store.apply(&ops).unwrap();
    let opts = ServerOptions {
        store: Some(Box::new(store)),
        ..ServerOptions::default()
    };
    let server = start_with(Config::default(), opts).await;
    let resume = |token: &str, seq: u64| {
        format!(
            r#"{{"type":"connect","ns":"/chat","auth":{{"name":"bob"}},"resume":{{"session":"{token}","seq":{seq}}}}}"#
        )
    };
    let mut from_1 = Raw::connect(server.local_addr()).await;
    from_1.send(&resume("t1", 1)).await;
    let c = from_1.recv().await;
    assert_eq!(c["recovered"], false, "{c}");

    let mut from_3 = Raw::connect(server.local_addr()).await;
    from_3.send(&resume("t2", 3)).await;
    let c = from_3.recv().await;
    assert_eq!(c["recovered"], true, "{c}");
    for seq in [4, 5] {
        assert_eq!(from_3.recv().await["seq"], seq);
    }
    server.shutdown().await;
}
