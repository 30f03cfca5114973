//! Every transport on real loopback sockets, alone and together in one room.

mod support;

use std::net::SocketAddr;

use serde_json::{Value, json};
use support::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// An SSE reader on a raw socket: the request, then `id:`/`data:` pairs as they come.
struct Sse {
    rd: BufReader<TcpStream>,
}

impl Sse {
    async fn open(addr: SocketAddr, room: &str, last_id: Option<u64>) -> Sse {
        let mut s = within("sse connect", TcpStream::connect(addr))
            .await
            .unwrap();
        let last = last_id.map_or(String::new(), |id| format!("last-event-id: {id}\r\n"));
        let req = format!(
            "GET /api/rooms/{room}/events HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\n{last}\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut rd = BufReader::new(s);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            within("sse head", rd.read_line(&mut line)).await.unwrap();
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("content-type: text/event-stream"), "{head}");
        Sse { rd }
    }

    /// The next message event: (id, message object). Chunk sizes and comments are skipped.
    async fn next(&mut self) -> (u64, Value) {
        let mut id = None;
        loop {
            let mut line = String::new();
            let n = within("sse read", self.rd.read_line(&mut line))
                .await
                .unwrap();
            assert!(n > 0, "the SSE stream ended");
            let line = line.trim_end();
            if let Some(v) = line.strip_prefix("id: ") {
                id = Some(v.parse().unwrap());
            } else if let Some(d) = line.strip_prefix("data: ") {
                return (
                    id.expect("id before data"),
                    serde_json::from_str(d).unwrap(),
                );
            }
        }
    }
}

#[tokio::test]
async fn websocket_speaks_the_event_protocol() {
    let s = start().await;
    let mut ws = Client::ws(s.http_addr()).await;
    ws.join_chat("ada", "lobby").await;
    ws.send(&json!({"type":"event","ns":"/chat","name":"message","args":["lobby","hi"],"ack":2}))
        .await;
    let m = ws.recv_event().await;
    assert_eq!(
        m,
        json!({"type":"event","ns":"/chat","name":"message","args":[{"name":"ada","room":"lobby","text":"hi"}],"seq":2})
    );
    assert_eq!(
        ws.recv_event().await,
        json!({"type":"ack","ns":"/chat","id":2,"args":[{"ok":true}]})
    );
    ws.send(&json!({"type":"ping"})).await;
    assert_eq!(ws.recv().await, json!({"type":"pong"}));
    s.shutdown().await;
}

#[tokio::test]
async fn long_polling_speaks_the_event_protocol() {
    let s = start().await;
    let mut p = Client::poll(s.http_addr()).await;
    p.join_chat("pol", "lobby").await;
    p.say("lobby", "over http").await;
    assert_eq!(p.next_text().await, "over http");
    p.send(&json!({"type":"ping"})).await;
    assert_eq!(p.recv().await, json!({"type":"pong"}));
    s.shutdown().await;
}

#[tokio::test]
async fn the_api_posts_lists_and_holds_a_get_until_a_message_arrives() {
    let s = start().await;
    let http = s.http_addr();
    let id = api_post(http, "lobby", "ada", "first").await;
    assert_eq!(
        api_texts(http, "lobby", 0, "").await,
        vec![(id, "first".to_string())]
    );
    assert_eq!(api_texts(http, "lobby", id, "").await, vec![]);
    assert_eq!(api_texts(http, "other", 0, "").await, vec![]);

    // A held GET is answered by a message said on TCP.
    let held = tokio::spawn(async move { api_texts(http, "lobby", id, "&wait=10s").await });
    let mut tcp = Client::tcp(s.tcp_addr()).await;
    tcp.join_chat("nc", "lobby").await;
    tcp.say("lobby", "from tcp").await;
    let got = within("held GET", held).await.unwrap();
    assert_eq!(got, vec![(id + 1, "from tcp".to_string())]);

    // An empty wait ends with an empty list, not an error.
    assert_eq!(
        api_texts(http, "lobby", id + 1, "&wait=200ms").await,
        vec![]
    );
    s.shutdown().await;
}

#[tokio::test]
async fn sse_streams_and_resumes_after_last_event_id() {
    let s = start().await;
    let http = s.http_addr();
    let mut sse = Sse::open(http, "lobby", None).await;
    let a = api_post(http, "lobby", "ada", "one").await;
    let b = api_post(http, "lobby", "ada", "two").await;
    assert_eq!(sse.next().await.0, a);
    let (id, m) = sse.next().await;
    assert_eq!((id, m["text"].as_str().unwrap()), (b, "two"));
    drop(sse);
    // Said while the stream was away: the reconnect with Last-Event-ID gets exactly these.
    let c = api_post(http, "lobby", "bob", "three").await;
    let d = api_post(http, "lobby", "bob", "four").await;
    let mut again = Sse::open(http, "lobby", Some(b)).await;
    assert_eq!(again.next().await.0, c);
    assert_eq!(again.next().await.0, d);
    s.shutdown().await;
}

/// One room, five ways in: a message from each reaches each of the others, in order.
#[tokio::test]
async fn a_message_from_every_transport_reaches_every_other_in_order() {
    let s = start().await;
    let http = s.http_addr();
    let mut tcp = Client::tcp(s.tcp_addr()).await;
    let mut ws = Client::ws(http).await;
    let mut poll = Client::poll(http).await;
    tcp.join_chat("tcp", "mix").await;
    ws.join_chat("ws", "mix").await;
    poll.join_chat("poll", "mix").await;
    let mut sse = Sse::open(http, "mix", None).await;

    tcp.say("mix", "from tcp").await;
    ws.say("mix", "from ws").await;
    poll.say("mix", "from poll").await;
    api_post(http, "mix", "api", "from the api").await;
    let want = ["from tcp", "from ws", "from poll", "from the api"];

    for (who, c) in [("tcp", &mut tcp), ("ws", &mut ws), ("poll", &mut poll)] {
        let mut got = Vec::new();
        while got.len() < want.len() {
            got.push(c.next_text().await);
        }
        assert_eq!(got, want, "what {who} received");
    }
    let mut got = Vec::new();
    for _ in 0..want.len() {
        got.push(sse.next().await.1["text"].as_str().unwrap().to_string());
    }
    assert_eq!(got, want, "what SSE received");
    let api: Vec<String> = api_texts(http, "mix", 0, "")
        .await
        .into_iter()
        .map(|m| m.1)
        .collect();
    assert_eq!(api, want, "what the API lists");
    s.shutdown().await;
}

/// A WebSocket client that drops and resumes gets the reliable messages said meanwhile.
#[tokio::test]
async fn a_websocket_session_resumes_with_nothing_lost() {
    let s = start().await;
    let mut ws = Client::ws(s.http_addr()).await;
    let session = ws.join_chat("ada", "lobby").await;
    let mut tcp = Client::tcp(s.tcp_addr()).await;
    tcp.join_chat("bob", "lobby").await;
    // ada saw bob join (seq 2), confirms it, then her connection drops.
    let j = ws.recv_event().await;
    assert_eq!(
        (j["name"].as_str(), j["seq"].as_u64()),
        (Some("joined"), Some(2))
    );
    ws.send(&json!({"type":"received","ns":"/chat","seq":2}))
        .await;
    drop(ws);
    tcp.say("lobby", "while you were away").await;
    tcp.say("lobby", "and again").await;
    assert_eq!(tcp.next_text().await, "while you were away");
    assert_eq!(tcp.next_text().await, "and again");

    let mut back = Client::ws(s.http_addr()).await;
    back.send(&json!({"type":"connect","ns":"/chat","auth":{"name":"ada"},"resume":{"session":session,"seq":2}}))
        .await;
    let c = back.recv_event().await;
    assert_eq!(c["recovered"], true, "{c}");
    assert_eq!(back.next_text().await, "while you were away");
    assert_eq!(back.next_text().await, "and again");
    s.shutdown().await;
}
