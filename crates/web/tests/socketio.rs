//! socket.io at `/socket.io/`: socket.io's own clients, which no one here wrote (the npm
//! `socket.io-client` 4.x under Node, the PyPI `python-socketio`; `.ci/run` installs both, see
//! tests/socketio/README.md), against a real server on 127.0.0.1:0 that runs the chat and the
//! conformance app on one hub, beside a TCP netlab user in the same room; and socket.io's HTTP
//! refusals checked byte for byte.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use netlab_events::core::{Config as CoreConfig, Core};
use netlab_events::server::{Hub, Server, ServerOptions};
use netlab_events::socketio::{self, conformance};
use netlab_web::{SocketIo, Web, WebOptions, WebServer};
use serde_json::{Value, json};
use support::*;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// The TCP listener and the HTTP one with `/socket.io/`, around one hub holding both apps.
struct Sio {
    tcp: Server,
    http: WebServer,
    sio: SocketIo,
}

impl Sio {
    async fn start() -> Sio {
        let mut core = Core::new(CoreConfig::default());
        let history = netlab_events::chat::install(&mut core);
        conformance::install(&mut core);
        let hub = Hub::restored(core, ServerOptions::default()).unwrap();
        let any = "127.0.0.1:0".parse().unwrap();
        let tcp = Server::bind_hub(any, hub.clone()).await.expect("bind tcp");
        let web = Web::new(hub, history, WebOptions::default());
        let sio = SocketIo::new(
            web.clone(),
            socketio::Config {
                engine: socketio::session::Config {
                    ping_interval: Duration::from_millis(300),
                    ping_timeout: Duration::from_millis(200),
                    max_payload: 1_000_000,
                },
                connect_timeout: Duration::from_secs(1),
            },
        );
        let router = web.router().merge(sio.router());
        let http = WebServer::bind_router(any, web, router)
            .await
            .expect("bind http");
        Sio { tcp, http, sio }
    }

    fn url(&self) -> String {
        format!("http://{}", self.http.local_addr())
    }

    async fn shutdown(self) {
        self.http.shutdown().await;
        self.tcp.shutdown().await;
    }
}

fn scripts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/socketio")
}

/// Whether the client is installed. In CI (`.ci/run` installs them) a missing one fails.
fn installed(client: &str) -> bool {
    let ok = match client {
        "node" => scripts().join("node_modules/socket.io-client").is_dir(),
        _ => std::process::Command::new("python3")
            .args(["-c", "import socketio"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
    };
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{client}'s socket.io client is missing in CI: .ci/run installs it"
        );
        eprintln!(
            "SKIPPED: {client}'s socket.io client is not installed; see tests/socketio/README.md"
        );
    }
    ok
}

/// A client script running, its stdout read line by line.
struct Script {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    what: String,
}

impl Script {
    fn spawn(client: &str, url: &str, scenario: &str, transports: &str) -> Script {
        let (program, file) = match client {
            "node" => ("node", "client.mjs"),
            _ => ("python3", "client.py"),
        };
        let mut child = Command::new(program)
            .arg(scripts().join(file))
            .args([url, scenario, transports])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Script {
            child,
            lines,
            what: format!("{client} {scenario} {transports}"),
        }
    }

    /// The next JSON line; an `{"error":...}` line fails the test with the script's message.
    async fn next(&mut self) -> Value {
        let line = within(&self.what, self.lines.next_line()).await.unwrap();
        let line = line.unwrap_or_else(|| panic!("{}: ended without a result", self.what));
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", self.what));
        assert!(v.get("error").is_none(), "{}: {}", self.what, v["error"]);
        v
    }

    /// Read until `{"step": step}`.
    async fn until_step(&mut self, step: &str) -> Value {
        loop {
            let v = self.next().await;
            if v["step"] == step {
                return v;
            }
        }
    }

    /// Read to the end: every step it printed, then its `done` line, and a zero exit status.
    async fn finish(mut self) -> (Vec<String>, Value) {
        let mut steps = Vec::new();
        let done = loop {
            let v = self.next().await;
            if v["done"] == true {
                break v;
            }
            steps.push(v["step"].as_str().unwrap_or_default().to_string());
        };
        let status = within(&self.what, self.child.wait()).await.unwrap();
        assert!(status.success(), "{}: exit status {status}", self.what);
        (steps, done)
    }
}

const TRANSPORTS: [&str; 3] = ["polling,websocket", "polling", "websocket"];

async fn conformance_with(client: &str) {
    if !installed(client) {
        return;
    }
    let s = Sio::start().await;
    for transports in TRANSPORTS {
        let script = Script::spawn(client, &s.url(), "conformance", transports);
        let (steps, done) = script.finish().await;
        let mut want = vec![
            "open",
            "auth",
            "message-back",
            "ack from server",
            "binary",
            "ack from client",
            "second namespace",
        ];
        let last = match transports {
            "polling" => "polling",
            _ => "websocket",
        };
        if transports.contains(',') {
            want.push("upgrade");
        }
        assert_eq!(steps, want, "{client} {transports}");
        assert_eq!(done["transport"], last, "{client} {transports}");
    }
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_socketio_client_passes_the_conformance_scenario_on_every_transport() {
    conformance_with("node").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_socketio_client_passes_the_conformance_scenario_on_every_transport() {
    conformance_with("python").await;
}

async fn chat_with(client: &str) {
    if !installed(client) {
        return;
    }
    let s = Sio::start().await;
    for transports in TRANSPORTS {
        let mut ada = Client::tcp(s.tcp.local_addr()).await;
        ada.join_chat("ada", "lobby").await;
        let mut script = Script::spawn(client, &s.url(), "chat", transports);
        script.until_step("joined").await;
        ada.say("lobby", "hello from tcp").await;
        // The TCP user hears the socket.io client's answer, through the same room.
        let answer = format!("hello from {client}");
        loop {
            let text = ada.next_text().await;
            if text == answer {
                break;
            }
            assert_eq!(text, "hello from tcp", "unexpected message");
        }
        let (steps, _) = script.finish().await;
        assert!(steps.contains(&"heard tcp".to_string()), "{steps:?}");
    }
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_socketio_client_chats_with_a_tcp_user_in_one_room() {
    chat_with("node").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_socketio_client_chats_with_a_tcp_user_in_one_room() {
    chat_with("python").await;
}

async fn recovery_with(client: &str) {
    if !installed(client) {
        return;
    }
    let s = Sio::start().await;
    for transports in TRANSPORTS {
        let mut script = Script::spawn(client, &s.url(), "recovery", transports);
        let recovered = script.until_step("recovered").await;
        assert_eq!(recovered["missed"], json!(["missed 1", "missed 2"]));
        script.finish().await;
    }
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_socketio_client_recovers_a_dropped_connection_with_the_missed_messages() {
    recovery_with("node").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_socketio_client_recovers_a_dropped_connection_with_the_missed_messages() {
    recovery_with("python").await;
}

// ----- raw HTTP: what socket.io's server answers -----------------------------------------------

#[tokio::test]
async fn bad_requests_get_socketio_400s() {
    let s = Sio::start().await;
    let addr = s.http.local_addr();
    let cases = [
        (
            "GET",
            "/socket.io/?EIO=3&transport=polling",
            5,
            "Unsupported protocol version",
        ),
        (
            "GET",
            "/socket.io/?transport=polling",
            5,
            "Unsupported protocol version",
        ),
        (
            "GET",
            "/socket.io/?EIO=4&transport=flash",
            0,
            "Transport unknown",
        ),
        ("GET", "/socket.io/?EIO=4", 0, "Transport unknown"),
        (
            "POST",
            "/socket.io/?EIO=4&transport=polling",
            2,
            "Bad handshake method",
        ),
        (
            "GET",
            "/socket.io/?EIO=4&transport=polling&sid=nope",
            1,
            "Session ID unknown",
        ),
        (
            "POST",
            "/socket.io/?EIO=4&transport=polling&sid=nope",
            1,
            "Session ID unknown",
        ),
        (
            "GET",
            "/socket.io/?EIO=4&transport=websocket",
            3,
            "Bad request",
        ),
    ];
    for (method, path, code, message) in cases {
        let r = request(addr, method, path, &[], b"").await;
        assert_eq!(r.status, 400, "{method} {path}: {}", r.text());
        assert_eq!(
            r.json(),
            json!({"code": code, "message": message}),
            "{method} {path}"
        );
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/json")
        );
    }
    // A live sid with a wrong method.
    let sid = handshake(addr).await["sid"].as_str().unwrap().to_string();
    let r = request(
        addr,
        "PUT",
        &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), json!({"code": 3, "message": "Bad request"}));
    s.shutdown().await;
}

/// A polling handshake; returns its JSON.
async fn handshake(addr: std::net::SocketAddr) -> Value {
    let r = get(addr, "/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/plain; charset=UTF-8")
    );
    let body = r.text();
    let json = body
        .strip_prefix('0')
        .unwrap_or_else(|| panic!("not an open packet: {body}"));
    serde_json::from_str(json).unwrap()
}

fn poll_path(sid: &str) -> String {
    format!("/socket.io/?EIO=4&transport=polling&sid={sid}")
}

#[tokio::test]
async fn a_polling_session_on_the_wire() {
    let s = Sio::start().await;
    let addr = s.http.local_addr();
    let hs = handshake(addr).await;
    assert_eq!(hs["upgrades"], json!(["websocket"]));
    assert_eq!(hs["pingInterval"], 300);
    assert_eq!(hs["pingTimeout"], 200);
    assert_eq!(hs["maxPayload"], 1_000_000);
    let sid = hs["sid"].as_str().unwrap();
    assert_eq!(sid.len(), 20);
    assert_eq!(s.sio.session_count(), 1);
    // CONNECT to /custom with auth, and a binary event, in one POST body.
    let body = b"40/custom,{\"token\":\"t\"}\x1e451-/custom,[\"message\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID";
    let r = request(addr, "POST", &poll_path(sid), &[], body).await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    let r = get(addr, &poll_path(sid)).await;
    let body = r.text();
    let packets: Vec<&str> = body.split('\x1e').collect();
    assert!(packets[0].starts_with("40/custom,{\"pid\":"), "{body:?}");
    assert_eq!(
        &packets[1..],
        [
            r#"42/custom,["auth",{"token":"t"}]"#,
            r#"451-/custom,["message-back",{"_placeholder":true,"num":0}]"#,
            "bAQID"
        ]
    );
    s.shutdown().await;
}

#[tokio::test]
async fn no_connect_within_the_connect_timeout_closes_the_session() {
    let s = Sio::start().await;
    let addr = s.http.local_addr();
    let sid = handshake(addr).await["sid"].as_str().unwrap().to_string();
    // Answer the pings; after 1 s without a CONNECT the server closes: the poll carries `1`.
    let closed = within("connect timeout", async {
        loop {
            let r = get(addr, &poll_path(&sid)).await;
            if r.status != 200 {
                return r.text();
            }
            let body = r.text();
            if body.split('\x1e').any(|p| p == "1") {
                return body;
            }
            assert_eq!(body, "2", "only pings before the close");
            let pong = request(addr, "POST", &poll_path(&sid), &[], b"3").await;
            assert_eq!(pong.status, 200);
        }
    })
    .await;
    assert!(closed.ends_with('1'), "{closed:?}");
    s.shutdown().await;
}
