//! Each attack of issue 18 against the event server, reproduced over loopback against a real
//! server on port 0: the attacker gets a clear error (or nothing it can abuse), and a bystander
//! connected before is still served afterwards.

mod support;

use netlab_events::core::{Config, Core};
use support::{Raw, start};

/// A second connection resumes the live session of the first with seq u64::MAX. Before the fix
/// this deleted the session under the first connection, whose next event panicked its reader:
/// no error frame, and a hang until the ping timeout.
#[tokio::test]
async fn resuming_a_live_session_with_seq_max_does_not_break_its_owner() {
    let server = start(Config::default()).await;
    let addr = server.local_addr();
    let (mut ada, connected) = Raw::chat(addr, "ada").await;
    let token = connected["session"].as_str().unwrap().to_string();
    ada.send(r#"{"type":"event","ns":"/chat","name":"join","args":["lobby"],"ack":1}"#)
        .await;
    ada.recv_type("ack").await;

    let mut eve = Raw::connect(addr).await;
    eve.send(&format!(
        r#"{{"type":"connect","ns":"/chat","auth":{{"name":"eve"}},"resume":{{"session":"{token}","seq":18446744073709551615}}}}"#
    ))
    .await;
    let c = eve.recv_type("connected").await;
    assert_eq!(c["recovered"], false, "{c}");
    assert_ne!(c["sid"], connected["sid"]);

    // Ada's session is untouched: her message, her confirmation, and another join all work.
    ada.send(r#"{"type":"event","ns":"/chat","name":"message","args":["lobby","hi"],"ack":2}"#)
        .await;
    let m = ada.recv_type("event").await;
    assert_eq!(m["args"][0]["text"], "hi", "{m}");
    assert_eq!(ada.recv_type("ack").await["args"][0]["ok"], true);
    let seq = m["seq"].as_u64().unwrap();
    ada.send(&format!(
        r#"{{"type":"received","ns":"/chat","seq":{seq}}}"#
    ))
    .await;
    ada.send(r#"{"type":"event","ns":"/chat","name":"join","args":["den"],"ack":3}"#)
        .await;
    assert_eq!(ada.recv_type("ack").await["args"][0]["room"], "den");
    server.shutdown().await;
}

/// A valid resume of a live session takes it over: the old connection hears why, over a clean
/// `disconnect` frame, and is not closed.
#[tokio::test]
async fn a_valid_resume_takes_a_live_session_over_and_tells_the_old_connection() {
    let server = start(Config::default()).await;
    let addr = server.local_addr();
    let (mut old, connected) = Raw::chat(addr, "ada").await;
    let token = connected["session"].as_str().unwrap();
    let mut new = Raw::connect(addr).await;
    new.send(&format!(
        r#"{{"type":"connect","ns":"/chat","auth":{{"name":"ada"}},"resume":{{"session":"{token}","seq":0}}}}"#
    ))
    .await;
    let c = new.recv_type("connected").await;
    assert_eq!(c["recovered"], true, "{c}");
    assert_eq!(c["sid"], connected["sid"]);
    let d = old.recv_type("disconnect").await;
    assert_eq!(d["reason"], "session resumed by another connection", "{d}");
    old.send(r#"{"type":"ping"}"#).await;
    old.recv_type("pong").await;
    server.shutdown().await;
}

/// A handler that panics: its connection gets `internal_error` and is closed; a bystander is
/// served, and so is a new client of the same namespace.
#[tokio::test]
async fn a_panicking_handler_closes_only_its_connection_with_an_error_frame() {
    let mut core = Core::new(Config::default());
    netlab_events::chat::install(&mut core);
    let ns = core.namespace("/boom");
    ns.on("boom", |_, _| panic!("a handler bug"));
    ns.on("fine", |ctx, _| {
        ctx.ack(vec![]);
    });
    let server = support::start_core(core).await;
    let addr = server.local_addr();
    let (mut bystander, _) = Raw::chat(addr, "bob").await;

    let mut bad = Raw::connect(addr).await;
    bad.send(r#"{"type":"connect","ns":"/boom"}"#).await;
    bad.recv_type("connected").await;
    bad.send(r#"{"type":"event","ns":"/boom","name":"boom","args":[1]}"#)
        .await;
    let e = bad.recv_type("error").await;
    assert_eq!(e["code"], "internal_error", "{e}");
    bad.expect_eof().await;

    bystander.send(r#"{"type":"ping"}"#).await;
    bystander.recv_type("pong").await;
    let mut next = Raw::connect(addr).await;
    next.send(r#"{"type":"connect","ns":"/boom"}"#).await;
    next.recv_type("connected").await;
    next.send(r#"{"type":"event","ns":"/boom","name":"fine","ack":1}"#)
        .await;
    next.recv_type("ack").await;
    server.shutdown().await;
}
