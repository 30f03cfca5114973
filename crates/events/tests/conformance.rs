//! Conformance over raw TCP bytes: every frame type, exactly as a student would type it in `nc`.

mod support;

use std::time::Duration;

use netlab_events::core::Config;
use serde_json::json;
use support::{Raw, T, start};

#[tokio::test]
async fn hello_is_the_first_line_with_the_exact_bytes() {
    let server = start(Config::default()).await;
    let s = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let mut raw = Raw {
        rd: tokio::io::BufReader::new(s.into_split().0),
        wr: tokio::net::TcpStream::connect(server.local_addr())
            .await
            .unwrap()
            .into_split()
            .1,
    };
    assert_eq!(
        raw.recv_line().await,
        "{\"type\":\"hello\",\"version\":1,\"ping_interval_ms\":25000,\"ping_timeout_ms\":20000,\"max_frame_bytes\":1048576}\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn connect_connected_event_ack_received_disconnect() {
    let server = start(Config::default()).await;
    let (mut a, connected) = Raw::chat(server.local_addr(), "ada").await;
    let sid = connected["sid"].as_str().unwrap().to_string();
    assert_eq!(connected["ns"], "/chat");
    assert_eq!(connected["recovered"], false);
    assert_eq!(connected["session"].as_str().unwrap().len(), 32);
    a.send(r#"{"type":"event","ns":"/chat","name":"join","args":["lobby"],"ack":1}"#)
        .await;
    // The room hears `joined` (reliable: it carries a seq), then the ack comes back.
    assert_eq!(
        a.recv_line().await,
        "{\"type\":\"event\",\"ns\":\"/chat\",\"name\":\"joined\",\"args\":[{\"name\":\"ada\",\"room\":\"lobby\"}],\"seq\":1}\n"
    );
    assert_eq!(
        a.recv_line().await,
        "{\"type\":\"ack\",\"ns\":\"/chat\",\"id\":1,\"args\":[{\"ok\":true,\"room\":\"lobby\"}]}\n"
    );
    a.send(r#"{"type":"received","ns":"/chat","seq":1}"#).await;
    a.send(r#"{"type":"event","ns":"/chat","name":"message","args":["lobby","hi"],"ack":2}"#)
        .await;
    let m = a.recv().await;
    assert_eq!(
        m,
        json!({"type":"event","ns":"/chat","name":"message","args":[{"name":"ada","room":"lobby","text":"hi"}],"seq":2})
    );
    assert_eq!(
        a.recv().await,
        json!({"type":"ack","ns":"/chat","id":2,"args":[{"ok":true}]})
    );
    // The server side sees the session's own room and the joined room.
    let rooms = server.handle().with(|c, _| c.rooms_of(&sid));
    assert_eq!(
        rooms,
        [sid.clone(), "lobby".to_string()]
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    a.send(r#"{"type":"disconnect","ns":"/chat"}"#).await;
    // After leaving, an event on /chat is an event before connect.
    a.send(r#"{"type":"event","ns":"/chat","name":"message","args":[]}"#)
        .await;
    assert_eq!(a.recv().await["code"], "not_connected");
    a.expect_eof().await;
    assert!(
        server.handle().with(|c, _| c.rooms_of(&sid)).is_empty(),
        "session ended"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn connect_error_carries_the_middleware_reason() {
    let server = start(Config::default()).await;
    let mut a = Raw::connect(server.local_addr()).await;
    a.send(r#"{"type":"connect","ns":"/chat"}"#).await;
    let e = a.recv().await;
    assert_eq!(e["type"], "connect_error");
    assert_eq!(e["ns"], "/chat");
    assert!(e["message"].as_str().unwrap().contains("display name"));
    // Still open: the main namespace accepts anyone, and "ns" may be left out for "/".
    a.send(r#"{"type":"connect"}"#).await;
    let c = a.recv().await;
    assert_eq!(
        (c["type"].as_str(), c["ns"].as_str()),
        (Some("connected"), Some("/"))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn several_namespaces_share_one_connection() {
    let server = start(Config::default()).await;
    let (mut a, _) = Raw::chat(server.local_addr(), "ada").await;
    a.send(r#"{"type":"connect","ns":"/"}"#).await;
    assert_eq!(a.recv().await["ns"], "/");
    a.send(r#"{"type":"event","ns":"/chat","name":"join","args":["r"],"ack":1}"#)
        .await;
    assert_eq!(a.recv_type("ack").await["ns"], "/chat");
    server.shutdown().await;
}

#[tokio::test]
async fn client_ping_gets_pong_and_server_ack_round_trip() {
    let server = start(Config::default()).await;
    let (mut a, c) = Raw::chat(server.local_addr(), "ada").await;
    a.send(r#"{"type":"ping"}"#).await;
    assert_eq!(a.recv_line().await, "{\"type\":\"pong\"}\n");
    let sid = c["sid"].as_str().unwrap().to_string();
    let h = server.handle();
    let asked = tokio::spawn(async move {
        h.emit_with_ack(
            &sid,
            "question",
            vec![json!(6), json!(7)],
            Duration::from_secs(5),
        )
        .await
    });
    let ev = a.recv().await;
    assert_eq!(
        ev,
        json!({"type":"event","ns":"/chat","name":"question","args":[6,7],"ack":1})
    );
    a.send(r#"{"type":"ack","ns":"/chat","id":1,"args":[42]}"#)
        .await;
    let answer = tokio::time::timeout(T, asked).await.unwrap().unwrap();
    assert_eq!(answer, Ok(vec![json!(42)]));
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn server_ack_times_out_when_the_client_never_answers() {
    support::paused();
    let server = start(Config::default()).await;
    let (mut a, c) = Raw::chat(server.local_addr(), "ada").await;
    let sid = c["sid"].as_str().unwrap().to_string();
    let h = server.handle();
    let asked = tokio::spawn(async move {
        h.emit_with_ack(&sid, "question", vec![], Duration::from_secs(3))
            .await
    });
    assert_eq!(a.recv().await["ack"], 1);
    let r = tokio::time::timeout(T, asked).await.unwrap().unwrap();
    assert_eq!(r, Err(netlab_events::core::AckError::Timeout));
    // A late ack is ignored, and the connection carries on.
    a.send(r#"{"type":"ack","ns":"/chat","id":1,"args":[]}"#)
        .await;
    a.send(r#"{"type":"ping"}"#).await;
    a.recv_type("pong").await;
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn heartbeat_first_ping_after_one_interval_then_close_on_missing_pong() {
    support::paused();
    let cfg = Config {
        ping_interval: Duration::from_secs(25),
        ping_timeout: Duration::from_secs(20),
        ..Config::default()
    };
    let mut core = netlab_events::core::Core::new(cfg);
    let reasons = support::disconnect_reasons(&mut core, "/");
    let server = support::start_core(core).await;
    let mut a = Raw::connect(server.local_addr()).await;
    a.send(r#"{"type":"connect"}"#).await;
    a.recv().await;
    // With a paused clock, time jumps to the next timer whenever the runtime is idle, and a
    // loopback write may take a moment to become readable: allow one sweep tick (1 s) of slack.
    let within = |secs: u64, want: u64| (want..=want + 1).contains(&secs);
    let t0 = tokio::time::Instant::now();
    assert_eq!(a.recv().await["type"], "ping");
    let first = t0.elapsed().as_secs();
    assert!(
        within(first, 25) || within(first + 1, 25),
        "first ping after one interval, not at once: {first}"
    );
    let t1 = tokio::time::Instant::now();
    a.send(r#"{"type":"pong"}"#).await;
    assert_eq!(a.recv().await["type"], "ping");
    assert!(within(t1.elapsed().as_secs(), 25), "{:?}", t1.elapsed());
    // No pong this time: closed after the ping timeout.
    let t2 = tokio::time::Instant::now();
    a.expect_eof().await;
    assert!(within(t2.elapsed().as_secs(), 20), "{:?}", t2.elapsed());
    assert_eq!(*reasons.lock().unwrap(), ["ping timeout"]);
    server.shutdown().await;
}

#[tokio::test]
async fn server_side_disconnect_and_shutdown_send_disconnect_frames() {
    let server = start(Config::default()).await;
    let (mut a, c) = Raw::chat(server.local_addr(), "ada").await;
    let sid = c["sid"].as_str().unwrap().to_string();
    server
        .handle()
        .with(|core, now| core.disconnect_socket(&sid, "kicked by the teacher", now));
    assert_eq!(
        a.recv_line().await,
        "{\"type\":\"disconnect\",\"ns\":\"/chat\",\"reason\":\"kicked by the teacher\"}\n"
    );
    // The connection stays: the main namespace can still be joined.
    a.send(r#"{"type":"connect"}"#).await;
    assert_eq!(a.recv().await["type"], "connected");
    server.shutdown().await;
    assert_eq!(
        a.recv().await,
        json!({"type":"disconnect","ns":"/","reason":"server shutting down"})
    );
    a.expect_eof().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_with_send_buffer_full() {
    let cfg = Config {
        send_queue: 8,
        ..Config::default()
    };
    let mut core = netlab_events::core::Core::new(cfg);
    let reasons = support::disconnect_reasons(&mut core, "/");
    let server = support::start_core(core).await;
    let mut a = Raw::connect(server.local_addr()).await;
    a.send(r#"{"type":"connect"}"#).await;
    let sid = a.recv().await["sid"].as_str().unwrap().to_string();
    // The client reads nothing more. 64 KiB events fill the kernel's buffers, then the writer
    // stalls, then the queue of 8 fills: the server gives up on this client.
    let big = json!("x".repeat(64 * 1024));
    let h = server.handle();
    let deadline = tokio::time::Instant::now() + T;
    while reasons.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never disconnected");
        h.with(|c, now| {
            c.emit_to(
                &sid,
                netlab_events::core::Delivery::Default,
                "flood",
                vec![big.clone()],
                now,
            )
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(*reasons.lock().unwrap(), ["send buffer full"]);
    server.shutdown().await;
}
