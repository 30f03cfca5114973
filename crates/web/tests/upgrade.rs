//! The upgrade from long-polling to WebSocket: frames sent during the switch, in both
//! directions, arrive once each and in order.

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::*;
use tokio_tungstenite::tungstenite::Message;

/// Messages the TCP client says while the poller switches.
const N: usize = 300;

fn frames(r: &Resp) -> Vec<Value> {
    match r.status {
        200 => r
            .text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        204 => Vec::new(),
        s => panic!("GET /poll answered {s}: {}", r.text()),
    }
}

#[tokio::test]
async fn frames_sent_during_the_upgrade_arrive_once_each_in_order() {
    let s = start().await;
    let http = s.http_addr();
    let mut poll = Client::poll(http).await;
    poll.join_chat("switcher", "room").await;
    let Client::Poll(_, id, queue) = &poll else {
        unreachable!()
    };
    assert!(queue.is_empty());
    let id = id.clone();

    let mut tcp = Client::tcp(s.tcp_addr()).await;
    tcp.join_chat("talker", "room").await;
    let talker = tokio::spawn(async move {
        for i in 0..N {
            tcp.say("room", &format!("t{i}")).await;
            if i % 10 == 0 {
                tokio::task::yield_now().await;
            }
        }
        tcp
    });

    let mut got: Vec<Value> = Vec::new();
    let poll_path = format!("/poll?conn={id}");
    // Poll until the talk is under way, so the switch happens in the middle of it.
    while !got.iter().any(|f| f["args"][0]["text"] == "t20") {
        got.extend(frames(&get(http, &poll_path).await));
    }
    // A GET is in flight when the WebSocket opens; it must be answered at once.
    let in_flight = tokio::spawn(async move { get(http, &poll_path).await });
    let (mut ws, _) = within(
        "ws upgrade",
        tokio_tungstenite::connect_async(format!("ws://{http}/ws?conn={id}")),
    )
    .await
    .unwrap();
    got.extend(frames(
        &within("the GET in flight", in_flight).await.unwrap(),
    ));
    // Sent by POST during the switch, then by the WebSocket after it.
    for text in ["p1", "p2"] {
        let body = json!({"type":"event","ns":"/chat","name":"message","args":["room", text]});
        let r = request(
            http,
            "POST",
            &format!("/poll?conn={id}"),
            &[("content-type", "application/x-ndjson")],
            format!("{body}\n").as_bytes(),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.text());
    }
    within(
        "send upgrade",
        ws.send(Message::text(r#"{"type":"upgrade"}"#)),
    )
    .await
    .unwrap();
    for text in ["w1", "w2"] {
        let body = json!({"type":"event","ns":"/chat","name":"message","args":["room", text]});
        within("ws send", ws.send(Message::text(body.to_string())))
            .await
            .unwrap();
    }
    // After the switch, polling is refused.
    let after = get(http, &format!("/poll?conn={id}")).await;
    assert_eq!(after.error(400), "upgraded");

    let texts = |got: &[Value]| -> Vec<String> {
        got.iter()
            .filter(|f| f["name"] == "message")
            .map(|f| f["args"][0]["text"].as_str().unwrap().to_string())
            .collect()
    };
    while texts(&got).len() < N + 4 {
        match within("ws read", ws.next()).await {
            Some(Ok(Message::Text(t))) => got.push(serde_json::from_str(t.as_str()).unwrap()),
            other => panic!("expected a frame, got {other:?}"),
        }
    }
    within("talker", talker).await.unwrap();

    // Every reliable event of the session, numbered 1, 2, 3, ... with no gap and no repeat.
    let seqs: Vec<u64> = got.iter().filter_map(|f| f["seq"].as_u64()).collect();
    let want: Vec<u64> = (seqs[0]..seqs[0] + seqs.len() as u64).collect();
    assert_eq!(seqs, want, "seq numbers across the switch");
    // The talker's messages in order, once each; ours in the order we sent them.
    let all = texts(&got);
    let talk: Vec<&String> = all.iter().filter(|t| t.starts_with('t')).collect();
    assert_eq!(talk.len(), N);
    assert!(talk.iter().enumerate().all(|(i, t)| **t == format!("t{i}")));
    let ours: Vec<&String> = all.iter().filter(|t| !t.starts_with('t')).collect();
    assert_eq!(ours, ["p1", "p2", "w1", "w2"]);
    s.shutdown().await;
}

#[tokio::test]
async fn a_websocket_that_never_says_upgrade_leaves_the_connection_polling() {
    let opts = netlab_web::WebOptions {
        upgrade_timeout: std::time::Duration::from_millis(200),
        ..Default::default()
    };
    let s = start_with(Default::default(), opts).await;
    let http = s.http_addr();
    let mut poll = Client::poll(http).await;
    let Client::Poll(_, id, _) = &poll else {
        unreachable!()
    };
    let id = id.clone();
    let (mut ws, _) = within(
        "ws upgrade",
        tokio_tungstenite::connect_async(format!("ws://{http}/ws?conn={id}")),
    )
    .await
    .unwrap();
    // A second WebSocket for the same connection is refused while the first one upgrades.
    let second = tokio_tungstenite::connect_async(format!("ws://{http}/ws?conn={id}")).await;
    assert!(second.is_err(), "a second upgrade was accepted");
    match within("close", ws.next()).await {
        Some(Ok(Message::Close(Some(c)))) => assert!(c.reason.contains("upgrade"), "{c:?}"),
        other => panic!("expected a close, got {other:?}"),
    }
    poll.join_chat("still polling", "lobby").await;
    s.shutdown().await;
}
