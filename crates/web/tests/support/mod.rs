//! Shared helpers for netlab-web's tests: the TCP and HTTP listeners on 127.0.0.1:0 around one
//! hub, and small clients that speak real bytes (raw HTTP/1.1, WebSocket, TCP lines, /poll),
//! with a timeout on every await.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use netlab_events::core::{Config, Core};
use netlab_events::server::{Hub, Server, ServerOptions};
use netlab_web::{Web, WebOptions, WebServer};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_tungstenite::tungstenite::Message;

/// Every await in these tests gives up after this long.
pub const T: Duration = Duration::from_secs(10);

pub async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(T, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Both listeners around one hub, as `netlab events serve` runs them.
pub struct Both {
    pub tcp: Server,
    pub http: WebServer,
}

impl Both {
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp.local_addr()
    }
    pub fn http_addr(&self) -> SocketAddr {
        self.http.local_addr()
    }
    pub async fn shutdown(self) {
        self.http.shutdown().await;
        self.tcp.shutdown().await;
    }
}

pub async fn start() -> Both {
    start_with(Config::default(), WebOptions::default()).await
}

pub async fn start_with(cfg: Config, opts: WebOptions) -> Both {
    start_limited(cfg, opts, ServerOptions::default()).await
}

/// With the hub's own options (its connection limits, say).
pub async fn start_limited(cfg: Config, opts: WebOptions, hub_opts: ServerOptions) -> Both {
    let mut core = Core::new(cfg);
    let history = netlab_events::chat::install(&mut core);
    let hub = Hub::restored(core, hub_opts).unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let tcp = Server::bind_hub(any, hub.clone()).await.expect("bind tcp");
    let http = WebServer::bind(any, Web::new(hub, history, opts))
        .await
        .expect("bind http");
    Both { tcp, http }
}

// ----- raw HTTP/1.1 ---------------------------------------------------------------------------

/// A response as read off the socket.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
    /// The JSON error code of a refusal, asserting its status.
    pub fn error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{}{}", self.head, self.text());
        let v = self.json();
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        v["error"].as_str().unwrap().to_string()
    }
}

/// Send `raw` bytes (a whole request, `Connection: close`) and read the response to its end.
pub async fn raw(addr: SocketAddr, raw: &[u8]) -> Resp {
    within("raw http", async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(raw).await.unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        parse_response(&out)
    })
    .await
}

pub fn parse_response(out: &[u8]) -> Resp {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {:?}", String::from_utf8_lossy(out)));
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head[9..12].parse().unwrap();
    let mut body = out[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Resp { status, head, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&b[..i]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
    out
}

/// A request with a body and `Connection: close`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes).await
}

pub async fn get(addr: SocketAddr, path: &str) -> Resp {
    request(addr, "GET", path, &[], b"").await
}

pub async fn post_json(addr: SocketAddr, path: &str, body: &Value) -> Resp {
    let body = serde_json::to_vec(body).unwrap();
    request(
        addr,
        "POST",
        path,
        &[("content-type", "application/json")],
        &body,
    )
    .await
}

/// POST a chat message through the API; returns its id.
pub async fn api_post(addr: SocketAddr, room: &str, name: &str, text: &str) -> u64 {
    let r = post_json(
        addr,
        &format!("/api/rooms/{room}/messages"),
        &json!({"name": name, "text": text}),
    )
    .await;
    assert_eq!(r.status, 201, "{}{}", r.head, r.text());
    r.json()["id"].as_u64().unwrap()
}

/// The texts of the messages after `after` (with `wait`, held).
pub async fn api_texts(addr: SocketAddr, room: &str, after: u64, wait: &str) -> Vec<(u64, String)> {
    let r = get(
        addr,
        &format!("/api/rooms/{room}/messages?after={after}{wait}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_u64().unwrap(),
                m["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

// ----- event-protocol clients over each transport -------------------------------------------

/// One event-protocol client, whatever carries its frames.
pub enum Client {
    Tcp(BufReader<OwnedReadHalf>, OwnedWriteHalf),
    Ws(Box<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>>),
    Poll(SocketAddr, String, std::collections::VecDeque<Value>),
}

impl Client {
    pub async fn tcp(addr: SocketAddr) -> Client {
        let s = within("tcp connect", TcpStream::connect(addr))
            .await
            .unwrap();
        let (rd, wr) = s.into_split();
        let mut c = Client::Tcp(BufReader::new(rd), wr);
        assert_eq!(c.recv().await["type"], "hello");
        c
    }

    pub async fn ws(addr: SocketAddr) -> Client {
        let (ws, _) = within(
            "ws connect",
            tokio_tungstenite::connect_async(format!("ws://{addr}/ws")),
        )
        .await
        .unwrap();
        let mut c = Client::Ws(Box::new(ws));
        assert_eq!(c.recv().await["type"], "hello");
        c
    }

    pub async fn poll(addr: SocketAddr) -> Client {
        let r = request(addr, "POST", "/poll", &[], b"").await;
        assert_eq!(r.status, 200, "{}", r.text());
        let id = r.json()["conn"].as_str().unwrap().to_string();
        let mut c = Client::Poll(addr, id, Default::default());
        assert_eq!(c.recv().await["type"], "hello");
        c
    }

    /// Send one frame.
    pub async fn send(&mut self, frame: &Value) {
        let text = frame.to_string();
        match self {
            Client::Tcp(_, wr) => within("tcp write", wr.write_all(format!("{text}\n").as_bytes()))
                .await
                .unwrap(),
            Client::Ws(ws) => within("ws send", ws.send(Message::text(text)))
                .await
                .unwrap(),
            Client::Poll(addr, id, _) => {
                let r = request(
                    *addr,
                    "POST",
                    &format!("/poll?conn={id}"),
                    &[("content-type", "application/x-ndjson")],
                    format!("{text}\n").as_bytes(),
                )
                .await;
                assert_eq!(r.status, 204, "{}", r.text());
            }
        }
    }

    /// The next frame from the server.
    pub async fn recv(&mut self) -> Value {
        match self {
            Client::Tcp(rd, _) => {
                let mut line = String::new();
                let n = within("tcp read", rd.read_line(&mut line)).await.unwrap();
                assert!(n > 0, "the server closed the connection");
                serde_json::from_str(&line).unwrap()
            }
            Client::Ws(ws) => loop {
                match within("ws read", ws.next()).await {
                    Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    other => panic!("expected a text message, got {other:?}"),
                }
            },
            Client::Poll(addr, id, queue) => loop {
                if let Some(v) = queue.pop_front() {
                    return v;
                }
                let r = get(*addr, &format!("/poll?conn={id}")).await;
                match r.status {
                    200 => {
                        for line in r.text().lines() {
                            queue.push_back(serde_json::from_str(line).unwrap());
                        }
                    }
                    204 => {}
                    s => panic!("GET /poll answered {s}: {}", r.text()),
                }
            },
        }
    }

    /// The next frame that is not a ping (answering pings) or a confirmation.
    pub async fn recv_event(&mut self) -> Value {
        loop {
            let f = self.recv().await;
            match f["type"].as_str() {
                Some("ping") => self.send(&json!({"type":"pong"})).await,
                _ => return f,
            }
        }
    }

    /// Connect to /chat as `name` and join `room`; returns the session token.
    pub async fn join_chat(&mut self, name: &str, room: &str) -> String {
        self.send(&json!({"type":"connect","ns":"/chat","auth":{"name":name}}))
            .await;
        let c = self.recv_event().await;
        assert_eq!(c["type"], "connected", "{c}");
        self.send(&json!({"type":"event","ns":"/chat","name":"join","args":[room],"ack":1}))
            .await;
        // Our own `joined`, then the ack.
        let j = self.recv_event().await;
        assert_eq!(j["name"], "joined", "{j}");
        let a = self.recv_event().await;
        assert_eq!(a["type"], "ack", "{a}");
        c["session"].as_str().unwrap().to_string()
    }

    pub async fn say(&mut self, room: &str, text: &str) {
        self.send(&json!({"type":"event","ns":"/chat","name":"message","args":[room, text]}))
            .await;
    }

    /// The text of the next chat message (skipping joins).
    pub async fn next_text(&mut self) -> String {
        loop {
            let f = self.recv_event().await;
            if f["type"] == "event" && f["name"] == "message" {
                return f["args"][0]["text"].as_str().unwrap().to_string();
            }
        }
    }
}
