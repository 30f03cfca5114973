//! Every kind of bad input gets an error frame with a code, then a close; other clients carry on.

mod support;

use std::time::Duration;

use netlab_events::core::Config;
use support::{Raw, start};

/// Send `bytes` on a fresh connection; expect `error` with `code`, then EOF. Meanwhile a second
/// client, connected before, must still be served afterwards.
async fn refused(cfg: Config, bytes: &[u8], code: &str) {
    let server = start(cfg).await;
    let (mut bystander, _) = Raw::chat(server.local_addr(), "bob").await;
    let mut bad = Raw::connect(server.local_addr()).await;
    bad.send_bytes(bytes).await;
    let e = bad.recv_type("error").await;
    assert_eq!(e["code"], code, "{e}");
    assert!(!e["message"].as_str().unwrap().is_empty());
    bad.expect_eof().await;
    bystander.send(r#"{"type":"ping"}"#).await;
    bystander.recv_type("pong").await;
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_json() {
    refused(Config::default(), b"{\"type\":\"event\",\n", "invalid_json").await;
}

#[tokio::test]
async fn missing_type() {
    refused(Config::default(), b"{\"ns\":\"/chat\"}\n", "missing_type").await;
}

#[tokio::test]
async fn unknown_type() {
    refused(Config::default(), b"{\"type\":\"shout\"}\n", "unknown_type").await;
}

#[tokio::test]
async fn not_an_object() {
    refused(Config::default(), b"[\"type\",\"ping\"]\n", "not_an_object").await;
}

#[tokio::test]
async fn event_before_connect() {
    refused(
        Config::default(),
        b"{\"type\":\"event\",\"ns\":\"/chat\",\"name\":\"message\",\"args\":[]}\n",
        "not_connected",
    )
    .await;
}

#[tokio::test]
async fn unknown_namespace() {
    refused(
        Config::default(),
        b"{\"type\":\"connect\",\"ns\":\"/nope\"}\n",
        "unknown_namespace",
    )
    .await;
}

#[tokio::test]
async fn bad_ack_id_that_is_not_a_number() {
    refused(
        Config::default(),
        b"{\"type\":\"connect\"}\n{\"type\":\"event\",\"name\":\"x\",\"ack\":\"seven\"}\n",
        "bad_ack_id",
    )
    .await;
}

#[tokio::test]
async fn bad_ack_id_that_does_not_increase() {
    refused(
        Config::default(),
        b"{\"type\":\"connect\"}\n{\"type\":\"event\",\"name\":\"x\",\"ack\":3}\n{\"type\":\"event\",\"name\":\"x\",\"ack\":3}\n",
        "bad_ack_id",
    )
    .await;
}

#[tokio::test]
async fn oversized_frame() {
    let cfg = Config {
        max_frame_bytes: 1024,
        ..Config::default()
    };
    let mut line = vec![b'{'; 4096];
    line.push(b'\n');
    refused(cfg, &line, "frame_too_large").await;
}

#[tokio::test]
async fn oversized_line_that_never_ends() {
    let cfg = Config {
        max_frame_bytes: 1024,
        ..Config::default()
    };
    refused(cfg, &[b' '; 8192], "frame_too_large").await;
}

#[tokio::test]
async fn bytes_that_are_not_utf8() {
    refused(
        Config::default(),
        b"{\"type\":\"ping\xff\xfe\"}\n",
        "not_utf8",
    )
    .await;
}

#[tokio::test]
async fn server_only_frame_from_a_client() {
    refused(
        Config::default(),
        b"{\"type\":\"connected\",\"sid\":\"x\",\"session\":\"y\"}\n",
        "unexpected_frame",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn slowloris_line_that_never_ends() {
    support::paused();
    let cfg = Config {
        ping_timeout: Duration::from_secs(20),
        ..Config::default()
    };
    let server = start(cfg).await;
    let mut bad = Raw::connect(server.local_addr()).await;
    let t0 = tokio::time::Instant::now();
    // A few bytes, never a newline: the partial line times out after ping_timeout.
    bad.send_bytes(b"{\"type\":").await;
    let e = bad.recv_type("error").await;
    assert_eq!(e["code"], "frame_timeout");
    assert!(t0.elapsed() >= Duration::from_secs(20));
    bad.expect_eof().await;
    server.shutdown().await;
}
