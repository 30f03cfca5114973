//! The client library against a real server: namespaces, emits and acks both ways, reconnect,
//! the offline buffer, resume with replay, and reliable emits that run the handler once.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use netlab_events::client::{Backoff, Client, ClientOptions, Incoming, Lifecycle, Socket, Status};
use netlab_events::core::Config;
use serde_json::{Value, json};
use support::{Raw, T, start};

fn fast_opts() -> ClientOptions {
    ClientOptions {
        backoff: Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_millis(400),
            ..Backoff::default()
        },
        seed: 42,
        ..ClientOptions::default()
    }
}

type Seen = Arc<Mutex<Vec<Incoming>>>;

fn record(sock: &Socket, name: &str) -> Seen {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    sock.on(name, move |ev| s.lock().unwrap().push(ev.clone()));
    seen
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let r = tokio::time::timeout(T, async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(r.is_ok(), "timed out waiting until {what}");
}

fn texts(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|e| e.args[0]["text"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn auth_namespaces_emit_ack_on_any() {
    let server = start(Config::default()).await;
    let client = Client::connect(server.local_addr(), fast_opts());
    let chat = client.socket("/chat", json!({"name": "ada"}));
    let root = client.socket("/", Value::Null);
    let any: Seen = Arc::default();
    let a = any.clone();
    chat.on_any(move |ev| a.lock().unwrap().push(ev.clone()));
    let messages = record(&chat, "message");
    assert!(matches!(
        chat.connected(T).await.unwrap(),
        Status::Connected {
            recovered: false,
            ..
        }
    ));
    assert!(matches!(
        root.connected(T).await.unwrap(),
        Status::Connected { .. }
    ));
    let reply = chat
        .emit_with_ack("join", vec![json!("r")], T)
        .await
        .unwrap();
    assert_eq!(reply, [json!({"ok": true, "room": "r"})]);
    chat.emit("message", vec![json!("r"), json!("hello")])
        .await
        .unwrap();
    wait_until("the message comes back", || {
        !messages.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(texts(&messages), ["hello"]);
    let names: Vec<String> = any.lock().unwrap().iter().map(|e| e.name.clone()).collect();
    assert_eq!(names, ["joined", "message"], "on_any sees every event");
    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn middleware_refusal_reaches_the_client() {
    let server = start(Config::default()).await;
    let client = Client::connect(server.local_addr(), fast_opts());
    let mut life = client.lifecycle();
    let chat = client.socket("/chat", Value::Null);
    let err = chat.connected(T).await.unwrap_err().to_string();
    assert!(err.contains("display name"), "{err}");
    let ev = tokio::time::timeout(T, async {
        loop {
            if let Lifecycle::ConnectError { message, .. } = life.recv().await.unwrap() {
                return message;
            }
        }
    })
    .await
    .unwrap();
    assert!(ev.contains("display name"));
    server.shutdown().await;
}

#[tokio::test]
async fn client_acks_a_server_question_and_ack_timeouts_resolve() {
    let server = start(Config::default()).await;
    let client = Client::connect(server.local_addr(), fast_opts());
    let chat = client.socket("/chat", json!({"name": "ada"}));
    chat.on("question", |ev| {
        let x = ev.args[0].as_i64().unwrap();
        ev.ack.as_ref().unwrap().send(vec![json!(x * 2)]);
    });
    let Status::Connected { sid, .. } = chat.connected(T).await.unwrap() else {
        panic!()
    };
    let r = server
        .handle()
        .emit_with_ack(&sid, "question", vec![json!(21)], T)
        .await;
    assert_eq!(r, Ok(vec![json!(42)]));
    // An event the server never acks: the client's wait ends with a timeout error.
    let r = chat
        .emit_with_ack("nobody-handles-this", vec![], Duration::from_millis(200))
        .await;
    assert!(
        matches!(r, Err(netlab_events::EventsError::AckTimeout(_))),
        "{r:?}"
    );
    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn reconnect_replays_exactly_the_missed_reliable_events() {
    let server = start(Config::default()).await;
    let addr = server.local_addr();
    let client = Client::connect(addr, fast_opts());
    let mut life = client.lifecycle();
    let bob = client.socket("/chat", json!({"name": "bob"}));
    let got = record(&bob, "message");
    bob.connected(T).await.unwrap();
    bob.emit_with_ack("join", vec![json!("r")], T)
        .await
        .unwrap();
    let (mut ada, _) = Raw::chat(addr, "ada").await;
    ada.send(r#"{"type":"event","ns":"/chat","name":"join","args":["r"]}"#)
        .await;
    ada.send(r#"{"type":"event","ns":"/chat","name":"message","args":["r","before"]}"#)
        .await;
    wait_until("bob has the first message", || texts(&got) == ["before"]).await;

    // Bob's connection drops; while the server knows him to be away, ada talks.
    client.simulate_drop("test: network down");
    let h = server.handle();
    wait_until("the server sees bob gone", || {
        h.with(|c, _| c.connection_count()) == 1
    })
    .await;
    for t in ["missed 1", "missed 2", "missed 3"] {
        ada.send(&format!(
            r#"{{"type":"event","ns":"/chat","name":"message","args":["r","{t}"]}}"#
        ))
        .await;
    }
    // A default-delivery broadcast while he is away is lost: at most once.
    h.with(|c, now| {
        c.of("/chat", now)
            .to("r")
            .emit("message", vec![json!({"text": "default"})])
    });

    wait_until("bob is back", || {
        matches!(bob.status(), Status::Connected { .. })
    })
    .await;
    assert!(matches!(
        bob.status(),
        Status::Connected {
            recovered: true,
            ..
        }
    ));
    wait_until("replay done", || texts(&got).len() >= 4).await;
    ada.send(r#"{"type":"event","ns":"/chat","name":"message","args":["r","after"]}"#)
        .await;
    wait_until("live again", || texts(&got).len() >= 5).await;
    assert_eq!(
        texts(&got),
        ["before", "missed 1", "missed 2", "missed 3", "after"]
    );

    // The lifecycle told the story with reasons.
    let mut story = Vec::new();
    while let Ok(ev) = life.try_recv() {
        story.push(ev);
    }
    assert!(
        story.contains(&Lifecycle::Disconnected {
            reason: "test: network down".into()
        }),
        "{story:?}"
    );
    assert!(
        story
            .iter()
            .any(|e| matches!(e, Lifecycle::Reconnecting { attempt: 1, .. }))
    );
    assert!(story.iter().any(|e| matches!(
        e,
        Lifecycle::Connected {
            recovered: true,
            ..
        }
    )));
    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn offline_buffer_is_flushed_on_reconnect() {
    let server = start(Config::default()).await;
    let addr = server.local_addr();
    let (mut ada, _) = Raw::chat(addr, "ada").await;
    ada.send(r#"{"type":"event","ns":"/chat","name":"join","args":["r"],"ack":1}"#)
        .await;
    ada.recv_type("ack").await;
    let client = Client::connect(
        addr,
        ClientOptions {
            offline_buffer: 2,
            ..fast_opts()
        },
    );
    let bob = client.socket("/chat", json!({"name": "bob"}));
    bob.connected(T).await.unwrap();
    bob.emit_with_ack("join", vec![json!("r")], T)
        .await
        .unwrap();
    client.simulate_drop("test");
    wait_until("bob is away", || {
        matches!(bob.status(), Status::Disconnected(_))
    })
    .await;
    bob.emit("message", vec![json!("r"), json!("queued 1")])
        .await
        .unwrap();
    bob.emit("message", vec![json!("r"), json!("queued 2")])
        .await
        .unwrap();
    let full = bob
        .emit("message", vec![json!("r"), json!("queued 3")])
        .await;
    assert!(
        matches!(full, Err(netlab_events::EventsError::OfflineBufferFull(2))),
        "{full:?}"
    );
    bob.emit_volatile("message", vec![json!("r"), json!("volatile")])
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let f = ada.recv().await;
        if f["name"] == "message" {
            seen.push(f["args"][0]["text"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(seen, ["queued 1", "queued 2"]);
    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn reliable_client_emits_survive_a_drop_and_run_once() {
    let mut core = netlab_events::core::Core::new(Config::default());
    let count = Arc::new(Mutex::new(Vec::<Value>::new()));
    let c = count.clone();
    core.namespace("/").on("tick", move |_, ev| {
        c.lock().unwrap().push(ev.args[0].clone())
    });
    let server = support::start_core(core).await;
    let client = Client::connect(server.local_addr(), fast_opts());
    let root = client.socket("/", Value::Null);
    root.connected(T).await.unwrap();
    root.emit_reliable("tick", vec![json!(1)]).await.unwrap();
    // Dropped right after sending: the server may or may not have seen it; the client retries.
    client.simulate_drop("test");
    root.emit_reliable("tick", vec![json!(2)]).await.unwrap();
    wait_until("both handled", || count.lock().unwrap().len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        *count.lock().unwrap(),
        [json!(1), json!(2)],
        "each handled exactly once"
    );
    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn retried_reliable_emit_is_deduplicated_by_seq_on_the_wire() {
    let mut core = netlab_events::core::Core::new(Config::default());
    let count = Arc::new(Mutex::new(0));
    let c = count.clone();
    core.namespace("/")
        .on("tick", move |_, _| *c.lock().unwrap() += 1);
    let server = support::start_core(core).await;
    let mut a = Raw::connect(server.local_addr()).await;
    a.send(r#"{"type":"connect"}"#).await;
    let session = a.recv().await["session"].as_str().unwrap().to_string();
    a.send(r#"{"type":"event","name":"tick","seq":1}"#).await;
    assert_eq!(a.recv().await, json!({"type":"received","ns":"/","seq":1}));
    drop(a);
    // As if the `received` had been lost: resume and send the same seq again.
    let mut b = Raw::connect(server.local_addr()).await;
    b.send(&format!(
        r#"{{"type":"connect","resume":{{"session":"{session}","seq":0}}}}"#
    ))
    .await;
    assert_eq!(b.recv().await["recovered"], true);
    b.send(r#"{"type":"event","name":"tick","seq":1}"#).await;
    assert_eq!(b.recv().await, json!({"type":"received","ns":"/","seq":1}));
    assert_eq!(*count.lock().unwrap(), 1);
    assert_eq!(server.handle().with(|c, _| c.stats().duplicates_ignored), 1);
    server.shutdown().await;
}

/// A handler that panics is logged and the client carries on: the other handlers of the event
/// run, later events arrive, and the connection stays up.
#[tokio::test]
async fn a_panicking_handler_does_not_take_the_client_down() {
    let server = start(Config::default()).await;
    let client = Client::connect(server.local_addr(), fast_opts());
    let chat = client.socket("/chat", json!({"name": "ada"}));
    chat.on("message", |ev| {
        if ev.args[0]["text"] == "boom" {
            panic!("a handler bug");
        }
    });
    let any: Seen = Arc::default();
    let a = any.clone();
    chat.on_any(move |ev| a.lock().unwrap().push(ev.clone()));
    chat.connected(T).await.unwrap();
    chat.emit_with_ack("join", vec![json!("r")], T)
        .await
        .unwrap();
    for text in ["boom", "after"] {
        chat.emit_with_ack("message", vec![json!("r"), json!(text)], T)
            .await
            .unwrap();
    }
    wait_until("both messages reached on_any", || {
        texts(&any).iter().filter(|t| !t.is_empty()).count() == 2
    })
    .await;
    assert_eq!(
        texts(&any)
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>(),
        ["boom", "after"]
    );
    assert!(matches!(chat.status(), Status::Connected { .. }));
    client.close().await;
    server.shutdown().await;
}

/// A frame type this client does not know (from a later server) is skipped, not a reason to
/// drop the connection: the server here is a raw socket that sends one between two frames the
/// client knows. Before, the client closed the link ("bad frame from server") and reconnected.
#[tokio::test]
async fn an_unknown_frame_type_from_the_server_is_skipped() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (s, _) = tokio::time::timeout(T, listener.accept())
            .await
            .unwrap()
            .unwrap();
        let (rd, mut wr) = s.into_split();
        let mut rd = BufReader::new(rd);
        wr.write_all(concat!(
            r#"{"type":"hello","version":1,"ping_interval_ms":25000,"ping_timeout_ms":20000,"max_frame_bytes":1048576}"#,
            "\n"
        ).as_bytes())
        .await
        .unwrap();
        let mut connect = String::new();
        tokio::time::timeout(T, rd.read_line(&mut connect))
            .await
            .unwrap()
            .unwrap();
        assert!(connect.contains(r#""type":"connect""#), "{connect}");
        wr.write_all(
            concat!(
                r#"{"type":"connected","ns":"/","sid":"s","session":"t","recovered":false}"#,
                "\n",
                r#"{"type":"a_frame_from_the_future","ns":"/","what":"news"}"#,
                "\n",
                r#"{"type":"event","ns":"/","name":"hi","args":["after it"]}"#,
                "\n",
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        // Hold the connection open until the client leaves.
        let mut rest = String::new();
        let _ = tokio::time::timeout(T, rd.read_line(&mut rest)).await;
    });
    let client = Client::connect(addr, fast_opts());
    let mut life = client.lifecycle();
    let root = client.socket("/", Value::Null);
    let seen = record(&root, "hi");
    root.connected(T).await.unwrap();
    wait_until("the event after the unknown frame", || {
        !seen.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(seen.lock().unwrap()[0].args, [json!("after it")]);
    while let Ok(l) = life.try_recv() {
        assert!(
            !matches!(l, Lifecycle::Disconnected { .. }),
            "the client dropped the link: {l:?}"
        );
    }
    client.close().await;
    tokio::time::timeout(T, server).await.unwrap().unwrap();
}
