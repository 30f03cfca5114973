//! Every bad input the issue lists, with the status or error frame it gets; the other clients
//! carry on after each.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use netlab_events::core::Config;
use netlab_web::WebOptions;
use serde_json::json;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const MSGS: &str = "/api/rooms/lobby/messages";

#[tokio::test]
async fn the_chat_api_refuses_bad_bodies_and_queries_with_json_errors() {
    let s = start().await;
    let a = s.http_addr();
    let json_ct = [("content-type", "application/json")];
    let r = request(a, "POST", MSGS, &json_ct, b"{\"name\":").await;
    assert_eq!(r.error(400), "invalid_json");
    let r = request(a, "POST", MSGS, &[("content-type", "text/plain")], b"hi").await;
    assert_eq!(r.error(415), "unsupported_media_type");
    let r = request(a, "POST", MSGS, &[], b"{}").await;
    assert_eq!(r.error(415), "unsupported_media_type");
    let r = post_json(a, MSGS, &json!({"name": "ada"})).await;
    assert_eq!(r.error(400), "invalid_message");
    let r = post_json(a, MSGS, &json!({"name": " ", "text": "x"})).await;
    assert_eq!(r.error(400), "invalid_message");
    let r = post_json(a, MSGS, &json!({"name": "x".repeat(33), "text": "x"})).await;
    assert_eq!(r.error(400), "invalid_message");
    let big = json!({"name": "ada", "text": "x".repeat(70 * 1024)});
    let r = post_json(a, MSGS, &big).await;
    assert_eq!(r.error(413), "body_too_large");
    let long_room = format!("/api/rooms/{}/messages", "r".repeat(65));
    assert_eq!(get(a, &long_room).await.error(400), "bad_room");
    assert_eq!(
        get(a, &format!("{MSGS}?after=x")).await.error(400),
        "bad_query"
    );
    assert_eq!(
        get(a, &format!("{MSGS}?after=-1")).await.error(400),
        "bad_query"
    );
    assert_eq!(
        get(a, &format!("{MSGS}?wait=soon")).await.error(400),
        "bad_query"
    );
    let r = request(
        a,
        "GET",
        "/api/rooms/lobby/events",
        &[("last-event-id", "x")],
        b"",
    )
    .await;
    assert_eq!(r.error(400), "bad_last_event_id");
    assert_eq!(get(a, "/nothing/here").await.error(404), "not_found");
    // Nothing accepted was lost, and the API still works.
    assert_eq!(api_post(a, "lobby", "ada", "still fine").await, 1);
    s.shutdown().await;
}

#[tokio::test]
async fn polling_refuses_unknown_connections_and_bad_frames() {
    let s = start().await;
    let a = s.http_addr();
    assert_eq!(get(a, "/poll").await.error(400), "missing_conn");
    assert_eq!(get(a, "/poll?conn=nope").await.error(400), "unknown_conn");
    let r = request(
        a,
        "POST",
        "/poll?conn=nope",
        &[("content-type", "application/x-ndjson")],
        b"{}\n",
    )
    .await;
    assert_eq!(r.error(400), "unknown_conn");

    let mut bystander = Client::poll(a).await;
    bystander.join_chat("bystander", "lobby").await;
    let mut p = Client::poll(a).await;
    let Client::Poll(_, id, _) = &p else {
        unreachable!()
    };
    let path = format!("/poll?conn={}", id.clone());
    let r = request(a, "POST", &path, &[("content-type", "image/png")], b"x").await;
    assert_eq!(r.error(415), "unsupported_media_type");

    // Two GETs at once: whichever comes second is refused at once, the other still answers.
    let spawn_get = |path: String| tokio::spawn(async move { get(a, &path).await });
    let mut one = spawn_get(path.clone());
    let mut two = spawn_get(path.clone());
    let (refused, held) = within("one GET refused", async {
        tokio::select! {
            r = &mut one => (r.unwrap(), two),
            r = &mut two => (r.unwrap(), one),
        }
    })
    .await;
    assert_eq!(refused.error(400), "already_polling");
    p.send(&json!({"type":"ping"})).await;
    let r = within("the held GET", held).await.unwrap();
    assert_eq!(r.text(), "{\"type\":\"pong\"}\n");

    // A bad line: 400 now, the error frame on the next GET, then the connection is gone.
    let r = request(
        a,
        "POST",
        &path,
        &[("content-type", "application/x-ndjson")],
        b"{nope\n",
    )
    .await;
    assert_eq!(r.error(400), "bad_frame");
    let f = p.recv().await;
    assert_eq!(f["type"], "error");
    assert_eq!(f["code"], "invalid_json");
    assert_eq!(get(a, &path).await.error(400), "unknown_conn");
    // The other client carries on.
    bystander.say("lobby", "still here").await;
    assert_eq!(bystander.next_text().await, "still here");
    s.shutdown().await;
}

#[tokio::test]
async fn a_held_poll_ends_at_its_timeout_with_204() {
    let opts = WebOptions {
        poll_wait: Duration::from_millis(200),
        ..Default::default()
    };
    let s = start_with(Config::default(), opts).await;
    let a = s.http_addr();
    let mut p = Client::poll(a).await;
    let Client::Poll(_, id, _) = &mut p else {
        unreachable!()
    };
    let r = get(a, &format!("/poll?conn={id}")).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    s.shutdown().await;
}

/// An upgrade request with the given extra headers (the key and version are ours to break).
async fn ws_handshake(a: std::net::SocketAddr, path: &str, headers: &str) -> Resp {
    let req = format!(
        "GET {path} HTTP/1.1\r\nhost: {a}\r\nconnection: Upgrade\r\nupgrade: websocket\r\n{headers}\r\n"
    );
    within("handshake", async {
        let mut s = TcpStream::connect(a).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = vec![0u8; 4096];
        let mut n = 0;
        while !out[..n].windows(4).any(|w| w == b"\r\n\r\n") || !head_and_body_done(&out[..n]) {
            let k = s.read(&mut out[n..]).await.unwrap();
            if k == 0 {
                break;
            }
            n += k;
        }
        parse_response(&out[..n])
    })
    .await
}

/// A 101 has no body; an error has a content-length body.
fn head_and_body_done(b: &[u8]) -> bool {
    let Some(i) = b.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&b[..i]).to_ascii_lowercase();
    match head.lines().find_map(|l| l.strip_prefix("content-length:")) {
        Some(n) => b.len() - i - 4 >= n.trim().parse::<usize>().unwrap(),
        None => true,
    }
}

#[tokio::test]
async fn bad_websocket_handshakes_get_400_never_a_panic() {
    let s = start().await;
    let a = s.http_addr();
    let good_key = "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let v13 = "sec-websocket-version: 13\r\n";
    let r = ws_handshake(a, "/ws", v13).await;
    assert_eq!(r.error(400), "bad_websocket_handshake");
    let r = ws_handshake(a, "/ws", &format!("{v13}sec-websocket-key: short\r\n")).await;
    assert_eq!(r.error(400), "bad_websocket_key");
    let r = ws_handshake(
        a,
        "/ws",
        &format!("{good_key}sec-websocket-version: 12\r\n"),
    )
    .await;
    assert_eq!(r.error(400), "bad_websocket_handshake");
    let r = ws_handshake(a, "/ws", good_key).await;
    assert_eq!(r.error(400), "bad_websocket_handshake");
    let r = ws_handshake(a, "/ws?conn=nope", &format!("{good_key}{v13}")).await;
    assert_eq!(r.error(400), "unknown_conn");
    let r = ws_handshake(a, "/ws", &format!("{good_key}{v13}")).await;
    assert_eq!(r.status, 101, "{}", r.head);
    s.shutdown().await;
}

#[tokio::test]
async fn cross_site_pages_are_refused_unless_allowed() {
    let opts = WebOptions {
        allow_origins: vec!["http://class.test:8000".into()],
        ..Default::default()
    };
    let s = start_with(Config::default(), opts).await;
    let a = s.http_addr();
    let hs = "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n";
    let r = ws_handshake(a, "/ws", &format!("{hs}origin: http://evil.test\r\n")).await;
    assert_eq!(r.error(403), "origin_not_allowed");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("--allow-origin http://evil.test")
    );
    let r = request(a, "POST", "/poll", &[("origin", "http://evil.test")], b"").await;
    assert_eq!(r.error(403), "origin_not_allowed");
    let r = request(
        a,
        "POST",
        MSGS,
        &[
            ("origin", "https://evil.test"),
            ("content-type", "application/json"),
        ],
        br#"{"name":"e","text":"x"}"#,
    )
    .await;
    assert_eq!(r.error(403), "origin_not_allowed");
    for ok in [
        "http://class.test:8000",
        &format!("http://{a}"),
        "http://localhost:3000",
    ] {
        let r = ws_handshake(a, "/ws", &format!("{hs}origin: {ok}\r\n")).await;
        assert_eq!(r.status, 101, "{ok}: {}", r.head);
    }
    s.shutdown().await;
}

#[tokio::test]
async fn a_bad_websocket_message_gets_an_error_frame_and_a_close_others_carry_on() {
    let cfg = Config {
        max_frame_bytes: 1024,
        ..Config::default()
    };
    let s = start_with(cfg, WebOptions::default()).await;
    let a = s.http_addr();
    let mut other = Client::ws(a).await;
    other.join_chat("other", "lobby").await;
    let cases: [(Message, &str); 4] = [
        (Message::text("{nope"), "invalid_json"),
        (Message::text(r#"{"type":"shout"}"#), "unknown_type"),
        (Message::binary(vec![1u8, 2, 3]), "binary_message"),
        (
            Message::text(format!(
                r#"{{"type":"event","name":"{}"}}"#,
                "x".repeat(2000)
            )),
            "frame_too_large",
        ),
    ];
    for (msg, code) in cases {
        let (mut ws, _) = within(
            "connect",
            tokio_tungstenite::connect_async(format!("ws://{a}/ws")),
        )
        .await
        .unwrap();
        let hello = within("hello", ws.next()).await.unwrap().unwrap();
        assert!(hello.to_text().unwrap().contains("\"hello\""));
        within("send", ws.send(msg)).await.unwrap();
        let err = within("error frame", ws.next()).await.unwrap().unwrap();
        let v: serde_json::Value = serde_json::from_str(err.to_text().unwrap()).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["code"].as_str()),
            (Some("error"), Some(code)),
            "{v}"
        );
        match within("close", ws.next()).await {
            Some(Ok(Message::Close(Some(c)))) => assert_eq!(c.code, CloseCode::Policy, "{c:?}"),
            other => panic!("{code}: expected a close frame, got {other:?}"),
        }
    }
    other.say("lobby", "unbothered").await;
    assert_eq!(other.next_text().await, "unbothered");
    s.shutdown().await;
}

#[tokio::test]
async fn slow_and_half_open_requests_are_cut_off_and_others_are_served() {
    let opts = WebOptions {
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let s = start_with(Config::default(), opts).await;
    let a = s.http_addr();
    // 500 half-open requests: headers that never end.
    let mut half = Vec::new();
    for _ in 0..500 {
        let mut c = within("connect", TcpStream::connect(a)).await.unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n").await.unwrap();
        half.push(c);
    }
    // Served meanwhile.
    assert_eq!(get(a, "/").await.status, 200);
    // Each is closed by the server after the header timeout.
    for mut c in half {
        let mut buf = Vec::new();
        let _ = within("half-open closed", c.read_to_end(&mut buf)).await;
    }
    // A body that never completes: 408.
    let r = within("slow body", async {
        let mut c = TcpStream::connect(a).await.unwrap();
        let head = format!("POST {MSGS} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{{\"name\"");
        c.write_all(head.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out).await;
        parse_response(&out)
    })
    .await;
    assert_eq!(r.error(408), "body_timeout");
    s.shutdown().await;
}

#[tokio::test]
async fn past_the_connection_and_poll_limits_a_clear_refusal() {
    let opts = WebOptions {
        max_connections: 3,
        max_polls: 1,
        ..Default::default()
    };
    let s = start_with(Config::default(), opts).await;
    let a = s.http_addr();
    let _p = Client::poll(a).await;
    let r = request(a, "POST", "/poll", &[], b"").await;
    assert_eq!(r.error(503), "too_many_polls");
    let mut socks = Vec::new();
    for _ in 0..3 {
        socks.push(Client::ws(a).await);
    }
    let r = get(a, "/").await;
    assert_eq!(r.error(503), "too_many_connections");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    // The accepted ones carry on; closing one frees its place.
    socks[0].join_chat("still", "lobby").await;
    drop(socks.pop());
    let mut status = 0;
    for _ in 0..200 {
        status = get(a, "/").await.status;
        if status == 200 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(status, 200);
    s.shutdown().await;
}

/// The hub's connection limits count every transport: TCP, WebSocket and /poll together.
#[tokio::test]
async fn the_hub_limits_hold_across_transports() {
    let hub_opts = netlab_events::server::ServerOptions {
        limits: netlab_events::limits::Limits {
            max_connections: 2,
            max_per_peer: 2,
        },
        ..Default::default()
    };
    let s = start_limited(Config::default(), WebOptions::default(), hub_opts).await;
    let a = s.http_addr();
    let mut tcp = Client::tcp(s.tcp_addr()).await;
    let mut ws = Client::ws(a).await;
    let r = request(a, "POST", "/poll", &[], b"").await;
    assert_eq!(r.error(503), "too_many_connections");
    let hs = "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n";
    let r = ws_handshake(a, "/ws", hs).await;
    assert_eq!(r.error(503), "too_many_connections");
    // The two admitted carry on.
    tcp.join_chat("tcp", "lobby").await;
    ws.join_chat("ws", "lobby").await;
    tcp.say("lobby", "both still here").await;
    assert_eq!(ws.next_text().await, "both still here");
    s.shutdown().await;
}

/// A polling client that does not answer the heartbeat is closed like a TCP one, and its next
/// GET says so (with the reason) instead of an empty answer.
#[tokio::test]
async fn a_poller_that_ignores_pings_is_told_its_connection_closed() {
    let cfg = Config {
        ping_interval: Duration::from_millis(100),
        ping_timeout: Duration::from_millis(100),
        ..Config::default()
    };
    let s = start_with(cfg, WebOptions::default()).await;
    let a = s.http_addr();
    let mut p = Client::poll(a).await;
    assert_eq!(p.recv().await, json!({"type":"ping"}));
    let Client::Poll(_, id, _) = &p else {
        unreachable!()
    };
    let r = get(a, &format!("/poll?conn={id}")).await;
    assert_eq!(r.error(400), "closed");
    assert!(r.text().contains("ping timeout"), "{}", r.text());
    s.shutdown().await;
}
