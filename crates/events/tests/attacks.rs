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

/// Issue 18, item 3, the poison message: a `message` just under `max_frame_bytes` whose
/// broadcast (wrapped with name and room) is over it. Before the fix every client in the room
/// refused the frame, dropped, resumed, got it replayed, and refused it again, forever. Now the
/// sender hears why, and a library client in the room never loses its connection.
#[tokio::test]
async fn a_poison_message_is_refused_to_its_sender_and_nobody_loops() {
    use netlab_events::client::{Client, ClientOptions, Lifecycle};
    use serde_json::json;

    let server = start(Config::default()).await;
    let addr = server.local_addr();
    let client = Client::connect(
        addr,
        ClientOptions {
            seed: 1,
            ..ClientOptions::default()
        },
    );
    let mut life = client.lifecycle();
    let chat = client.socket("/chat", json!({"name": "lis"}));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    chat.on("message", move |ev| {
        s.lock().unwrap().push(ev.args[0]["text"].clone());
    });
    chat.connected(support::T).await.unwrap();
    chat.emit_with_ack("join", vec![json!("lobby")], support::T)
        .await
        .unwrap();

    let (mut sender, _) = Raw::chat(addr, "eve").await;
    sender
        .send(r#"{"type":"event","ns":"/chat","name":"join","args":["lobby"],"ack":1}"#)
        .await;
    sender.recv_type("ack").await;
    // The line is just under 1 MiB, so the server accepts it; its broadcast would not fit.
    let max = netlab_events::codec::DEFAULT_MAX_FRAME_BYTES;
    let head = r#"{"type":"event","ns":"/chat","name":"message","args":["lobby",""#;
    let tail = r#""],"ack":2}"#;
    let text = "p".repeat(max - head.len() - tail.len() - 10);
    sender.send(&format!("{head}{text}{tail}")).await;
    let ack = sender.recv_type("ack").await;
    assert_eq!(ack["args"][0]["ok"], false, "{}", &ack.to_string()[..200]);
    let error = ack["args"][0]["error"].as_str().unwrap();
    assert!(error.contains("max_frame_bytes"), "{error}");

    // The room still works, and the listener got it without ever reconnecting.
    sender
        .send(r#"{"type":"event","ns":"/chat","name":"message","args":["lobby","after"],"ack":3}"#)
        .await;
    assert_eq!(sender.recv_type("ack").await["args"][0]["ok"], true);
    tokio::time::timeout(support::T, async {
        while !seen.lock().unwrap().contains(&json!("after")) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the listener got the next message");
    while let Ok(ev) = life.try_recv() {
        assert!(
            !matches!(ev, Lifecycle::Disconnected { .. }),
            "the listener was disconnected: {ev:?}"
        );
    }
    client.close().await;
    server.shutdown().await;
}

/// Issue 18, item 3, the same poison message from a sender that asked for no ack. Before, the
/// refusal was only logged: the sender's next frame was simply answered as if nothing had
/// happened. Now a `refused` frame comes first, naming the event and the reason, and the
/// connection stays open.
#[tokio::test]
async fn a_poison_message_without_an_ack_gets_a_refused_frame() {
    let server = start(Config::default()).await;
    let addr = server.local_addr();
    let (mut sender, _) = Raw::chat(addr, "eve").await;
    sender.join("lobby").await;
    let max = netlab_events::codec::DEFAULT_MAX_FRAME_BYTES;
    let head = r#"{"type":"event","ns":"/chat","name":"message","args":["lobby",""#;
    let tail = r#""]}"#;
    let text = "p".repeat(max - head.len() - tail.len() - 10);
    sender.send(&format!("{head}{text}{tail}")).await;
    sender.send(r#"{"type":"ping"}"#).await;
    let refused = sender.recv().await;
    assert_eq!(refused["type"], "refused", "{refused}");
    assert_eq!(refused["ns"], "/chat");
    assert_eq!(refused["name"], "message");
    assert_eq!(refused["code"], "too_large");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("max_frame_bytes"), "{message}");
    assert_eq!(sender.recv().await["type"], "pong");
    // Still connected, still in the room.
    sender
        .send(r#"{"type":"event","ns":"/chat","name":"message","args":["lobby","after"],"ack":2}"#)
        .await;
    assert_eq!(sender.recv_type("event").await["args"][0]["text"], "after");
    assert_eq!(sender.recv_type("ack").await["args"][0]["ok"], true);
    server.shutdown().await;
}

/// The library client sends a message that fits the limit the client checks but not once the
/// server wraps it: the application hears `Lifecycle::Refused` and the link stays up.
#[tokio::test]
async fn the_library_client_hears_a_refusal_and_stays_connected() {
    use netlab_events::client::{Client, ClientOptions, Lifecycle};
    use serde_json::json;

    let server = start(Config::default()).await;
    let client = Client::connect(
        server.local_addr(),
        ClientOptions {
            seed: 2,
            ..ClientOptions::default()
        },
    );
    let mut life = client.lifecycle();
    let chat = client.socket("/chat", json!({"name": "a-longer-display-name"}));
    chat.connected(support::T).await.unwrap();
    chat.emit_with_ack("join", vec![json!("lobby")], support::T)
        .await
        .unwrap();
    // The most the client lets through: its frame with the largest seq and ack id fits exactly.
    let max = netlab_events::codec::DEFAULT_MAX_FRAME_BYTES;
    let empty = r#"{"type":"event","ns":"/chat","name":"message","args":["lobby",""],"seq":18446744073709551615}"#;
    let text = "q".repeat(max - empty.len() - r#","ack":18446744073709551615"#.len());
    chat.emit("message", vec![json!("lobby"), json!(text)])
        .await
        .expect("the client's own size check lets it through");
    let refusal = tokio::time::timeout(support::T, async {
        loop {
            match life.recv().await.unwrap() {
                Lifecycle::Refused {
                    ns,
                    name,
                    code,
                    message,
                } => break (ns, name, code, message),
                Lifecycle::Disconnected { reason } => panic!("disconnected: {reason}"),
                _ => {}
            }
        }
    })
    .await
    .expect("a refusal within the timeout");
    assert_eq!(
        (&refusal.0[..], &refusal.1[..], &refusal.2[..]),
        ("/chat", "message", "too_large")
    );
    assert!(refusal.3.contains("max_frame_bytes"), "{}", refusal.3);
    let reply = chat
        .emit_with_ack("message", vec![json!("lobby"), json!("after")], support::T)
        .await
        .unwrap();
    assert_eq!(reply[0]["ok"], true);
    client.close().await;
    server.shutdown().await;
}

/// Issue 18, item 3: a handler's ack reply too long for the client. Before, it was not sent and
/// the sender waited until its own timeout; now it gets `ok:false` with the reason at once.
#[tokio::test]
async fn an_ack_reply_over_the_limit_is_answered_ok_false() {
    use serde_json::json;

    let mut core = Core::new(Config::default());
    core.namespace("/").on("fetch", |ctx, _| {
        ctx.ack(vec![json!(
            "y".repeat(netlab_events::codec::DEFAULT_MAX_FRAME_BYTES)
        )]);
    });
    let server = support::start_core(core).await;
    let mut raw = Raw::connect(server.local_addr()).await;
    raw.send(r#"{"type":"connect","ns":"/"}"#).await;
    raw.recv_type("connected").await;
    raw.send(r#"{"type":"event","ns":"/","name":"fetch","ack":1}"#)
        .await;
    raw.send(r#"{"type":"ping"}"#).await;
    let ack = raw.recv().await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["id"], 1);
    assert_eq!(ack["args"][0]["ok"], false, "{ack}");
    assert_eq!(ack["args"][0]["code"], "too_large");
    let error = ack["args"][0]["error"].as_str().unwrap();
    assert!(error.contains("max_frame_bytes"), "{error}");
    assert_eq!(raw.recv().await["type"], "pong");
    server.shutdown().await;
}

/// Issue 18, item 5: 1,100 pings in one burst used to overflow the 1,024-frame send queue and
/// end the connection silently. Now the server reads no more from a client whose own replies
/// are piling up, so every ping gets its pong.
#[tokio::test]
async fn a_burst_of_1100_pings_gets_1100_pongs() {
    let server = start(Config::default()).await;
    let mut c = Raw::connect(server.local_addr()).await;
    c.send_bytes("{\"type\":\"ping\"}\n".repeat(1100).as_bytes())
        .await;
    for i in 0..1100 {
        let f = c.recv().await;
        assert_eq!(f["type"], "pong", "frame {i}: {f}");
    }
    c.send(r#"{"type":"ping"}"#).await;
    c.recv_type("pong").await;
    server.shutdown().await;
}

/// Issue 18, item 5: joins are limited per socket (256 rooms by default, its own included),
/// and the refusal says why; a bystander's round trip is unaffected.
#[tokio::test]
async fn joins_past_the_room_limit_are_refused_with_a_reason() {
    let server = start(Config::default()).await;
    let addr = server.local_addr();
    let (mut bystander, _) = Raw::chat(addr, "bob").await;
    let (mut c, _) = Raw::chat(addr, "eve").await;
    let mut burst = String::new();
    for i in 1..=300 {
        burst.push_str(&format!(
            "{{\"type\":\"event\",\"ns\":\"/chat\",\"name\":\"join\",\"args\":[\"r{i}\"],\"ack\":{i}}}\n"
        ));
    }
    c.send_bytes(burst.as_bytes()).await;
    let mut refused = 0;
    for _ in 1..=300 {
        let ack = c.recv_type("ack").await;
        if ack["args"][0]["ok"] == false {
            refused += 1;
            let error = ack["args"][0]["error"].as_str().unwrap();
            assert!(error.contains("leave one first"), "{error}");
        }
    }
    assert_eq!(refused, 300 - 255, "255 rooms joined beside its own");
    bystander.send(r#"{"type":"ping"}"#).await;
    bystander.recv_type("pong").await;
    server.shutdown().await;
}

/// Connect from a chosen loopback address (all of 127.0.0.0/8 is this machine on Linux).
async fn connect_from(from: &str, to: std::net::SocketAddr) -> Raw {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let s = tokio::time::timeout(support::T, sock.connect(to))
        .await
        .expect("connect timeout")
        .expect("connect");
    let (rd, wr) = s.into_split();
    Raw {
        rd: tokio::io::BufReader::new(rd),
        wr,
    }
}

/// Issue 18, item 7: a connection limit in all and per address. At the limit a new connection
/// gets an `error` frame naming it, then a close; a slot freed is a slot usable again.
#[tokio::test]
async fn connections_over_the_limits_get_an_error_frame_and_are_closed() {
    use netlab_events::limits::Limits;
    use netlab_events::server::ServerOptions;
    let opts = ServerOptions {
        limits: Limits {
            max_connections: 3,
            max_per_peer: 2,
        },
        ..ServerOptions::default()
    };
    let server = support::start_with(Config::default(), opts).await;
    let addr = server.local_addr();
    let mut first = connect_from("127.0.0.1", addr).await;
    assert_eq!(first.recv().await["type"], "hello");
    let mut second = connect_from("127.0.0.1", addr).await;
    assert_eq!(second.recv().await["type"], "hello");
    // A third from the same address: the per-address limit.
    let mut third = connect_from("127.0.0.1", addr).await;
    let e = third.recv().await;
    assert_eq!(e["code"], "too_many_connections_from_address", "{e}");
    third.expect_eof().await;
    // Another address still gets in, up to the total.
    let mut other = connect_from("127.0.0.2", addr).await;
    assert_eq!(other.recv().await["type"], "hello");
    let mut over = connect_from("127.0.0.3", addr).await;
    let e = over.recv().await;
    assert_eq!(e["code"], "too_many_connections", "{e}");
    assert!(e["message"].as_str().unwrap().contains("--max-connections"));
    over.expect_eof().await;
    // Everyone admitted is served; and a freed slot is taken again.
    first.send(r#"{"type":"ping"}"#).await;
    first.recv_type("pong").await;
    drop(second);
    let mut again = None;
    for _ in 0..100 {
        let mut c = connect_from("127.0.0.1", addr).await;
        if c.recv().await["type"] == "hello" {
            again = Some(c);
            break;
        }
        // The server may not have seen the close yet.
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(again.is_some(), "the freed slot was never available");
    server.shutdown().await;
}

/// Issue 18, item 4 over the wire: one sender of large messages to a room of absent members.
/// The logs stay within their byte bounds, and a member who comes back hears honestly that it
/// missed something (`recovered: false`) instead of the server holding everything.
#[tokio::test]
async fn large_messages_to_absent_members_stay_within_the_byte_bounds() {
    let cfg = Config {
        max_frame_bytes: 4096,
        log_max_bytes: 8192,
        total_log_bytes: 20_000,
        ..Config::default()
    };
    let server = start(cfg).await;
    let addr = server.local_addr();
    let mut tokens = Vec::new();
    for i in 0..5 {
        let (mut m, c) = Raw::chat(addr, &format!("m{i}")).await;
        m.send(r#"{"type":"event","ns":"/chat","name":"join","args":["r"],"ack":1}"#)
            .await;
        m.recv_type("ack").await;
        tokens.push(c["session"].as_str().unwrap().to_string());
    }
    let (mut sender, _) = Raw::chat(addr, "flood").await;
    sender
        .send(r#"{"type":"event","ns":"/chat","name":"join","args":["r"],"ack":1}"#)
        .await;
    sender.recv_type("ack").await;
    let text = "b".repeat(3000);
    for id in 2..32 {
        sender
            .send(&format!(
                r#"{{"type":"event","ns":"/chat","name":"message","args":["r","{text}"],"ack":{id}}}"#
            ))
            .await;
        assert_eq!(sender.recv_type("ack").await["args"][0]["ok"], true);
        let (_, logged) = server.handle().with(|c, _| c.held_bytes());
        assert!(logged <= 20_000, "logs hold {logged} bytes");
    }
    let mut back = Raw::connect(addr).await;
    back.send(&format!(
        r#"{{"type":"connect","ns":"/chat","auth":{{"name":"m0"}},"resume":{{"session":"{}","seq":1}}}}"#,
        tokens[0]
    ))
    .await;
    let c = back.recv_type("connected").await;
    assert_eq!(c["recovered"], false, "{c}");
    server.shutdown().await;
}
