//! Shared helpers for the integration tests: a real server on 127.0.0.1:0 and a raw client that
//! speaks bytes, with a timeout on every await.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use netlab_events::core::{Config, Core};
use netlab_events::server::{Server, ServerOptions};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Every await in these tests gives up after this long.
pub const T: Duration = Duration::from_secs(10);

/// The limit when tokio's clock is paused: time jumps to the next timer whenever the runtime is
/// idle, so the limit must lie beyond every server timer (an hour of virtual time costs nothing).
pub const T_PAUSED: Duration = Duration::from_secs(3600);

thread_local! {
    static PAUSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Call first in a `start_paused` test (those run on one thread, so a thread-local suffices).
pub fn paused() {
    PAUSED.with(|p| p.set(true));
}

fn limit() -> Duration {
    if PAUSED.with(|p| p.get()) {
        T_PAUSED
    } else {
        T
    }
}

pub async fn start(cfg: Config) -> Server {
    start_with(cfg, ServerOptions::default()).await
}

pub async fn start_with(cfg: Config, opts: ServerOptions) -> Server {
    let mut core = Core::new(cfg);
    netlab_events::chat::install(&mut core);
    Server::bind("127.0.0.1:0".parse().unwrap(), core, opts)
        .await
        .expect("bind")
}

/// A server around `core` (no chat app), on 127.0.0.1:0.
pub async fn start_core(core: Core) -> Server {
    Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        core,
        ServerOptions::default(),
    )
    .await
    .expect("bind")
}

/// Record the disconnect reasons the application hears on namespace `ns`.
pub fn disconnect_reasons(
    core: &mut Core,
    ns: &str,
) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    let reasons = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let r = reasons.clone();
    core.namespace(ns)
        .on_disconnect(move |_, why| r.lock().unwrap().push(why.to_string()));
    reasons
}

pub struct Raw {
    pub rd: BufReader<OwnedReadHalf>,
    pub wr: OwnedWriteHalf,
}

impl Raw {
    /// Connect and read the hello line.
    pub async fn connect(addr: SocketAddr) -> Raw {
        let s = tokio::time::timeout(limit(), TcpStream::connect(addr))
            .await
            .expect("connect timeout")
            .expect("connect");
        let (rd, wr) = s.into_split();
        let mut raw = Raw {
            rd: BufReader::new(rd),
            wr,
        };
        let hello = raw.recv().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        raw
    }

    pub async fn send_bytes(&mut self, b: &[u8]) {
        tokio::time::timeout(limit(), self.wr.write_all(b))
            .await
            .expect("write timeout")
            .expect("write");
    }

    pub async fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\n").as_bytes()).await;
    }

    /// The next line, raw.
    pub async fn recv_line(&mut self) -> String {
        let mut line = String::new();
        let n = tokio::time::timeout(limit(), self.rd.read_line(&mut line))
            .await
            .expect("read timeout")
            .expect("read");
        assert!(n > 0, "connection closed while a frame was expected");
        line
    }

    pub async fn recv(&mut self) -> Value {
        let line = self.recv_line().await;
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    /// Skip frames until one of type `kind` arrives (pings, say).
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let v = self.recv().await;
            if v["type"] == kind {
                return v;
            }
        }
    }

    pub async fn expect_eof(&mut self) {
        let mut line = String::new();
        let n = tokio::time::timeout(limit(), self.rd.read_line(&mut line))
            .await
            .expect("no EOF in time")
            .unwrap_or(0);
        assert_eq!(n, 0, "expected the server to close, got {line:?}");
    }

    /// Join `room` on `/chat` (ack id 1) and wait for the ack; returns the seq of the socket's
    /// own `joined` event.
    pub async fn join(&mut self, room: &str) -> u64 {
        self.send(&format!(
            r#"{{"type":"event","ns":"/chat","name":"join","args":["{room}"],"ack":1}}"#
        ))
        .await;
        let joined = self.recv_type("event").await;
        assert_eq!(joined["name"], "joined", "{joined}");
        let ack = self.recv_type("ack").await;
        assert_eq!(ack["args"][0]["ok"], true, "{ack}");
        joined["seq"].as_u64().expect("joined is reliable")
    }

    /// Confirm every reliable event on `/chat` up to `seq`.
    pub async fn confirm(&mut self, seq: u64) {
        self.send(&format!(
            r#"{{"type":"received","ns":"/chat","seq":{seq}}}"#
        ))
        .await;
    }

    /// Connect to `/chat` with a display name; returns the connected frame.
    pub async fn chat(addr: SocketAddr, name: &str) -> (Raw, Value) {
        let mut raw = Raw::connect(addr).await;
        raw.send(&format!(
            r#"{{"type":"connect","ns":"/chat","auth":{{"name":"{name}"}}}}"#
        ))
        .await;
        let c = raw.recv().await;
        assert_eq!(c["type"], "connected", "{c}");
        (raw, c)
    }
}
