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
    bob.send(r#"{"type":"event","ns":"/chat","name":"join","args":["r"],"ack":1}"#)
        .await;
    let joined = bob.recv().await;
    let seen = joined["seq"].as_u64().unwrap();
    bob.recv_type("ack").await;
    bob.send(&format!(
        r#"{{"type":"received","ns":"/chat","seq":{seen}}}"#
    ))
    .await;
    drop(bob);

    let (mut ada, _) = Raw::chat(addr, "ada").await;
    ada.send(r#"{"type":"event","ns":"/chat","name":"join","args":["r"],"ack":1}"#)
        .await;
    ada.recv_type("ack").await;
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
