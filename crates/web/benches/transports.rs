//! Benchmark (bounded, about a minute): the same chat over each transport, side by side in one
//! run.
//! 1. Deliveries per second to rooms of 100 and 1,000 clients, WebSocket against TCP lines.
//! 2. Bytes on the wire (TCP payload, both directions, counted at the reader's socket) per
//!    delivered message, for short polling, long-polling (the chat API and the event protocol's
//!    /poll), SSE, WebSocket and TCP.
//! 3. Server memory per idle WebSocket connection at 10,000 connections (TCP beside it).
//!
//! Run: `cargo bench -p netlab-web --bench transports`; copy the output into docs/performance.md
//! ("One chat, every transport"). The server runs in a child process (this binary with
//! NETLAB_WEB_BENCH_SERVER=1) so that its memory can be read from /proc without the clients'.

use std::net::SocketAddr;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use netlab_events::core::{Config, Core};
use netlab_events::limits::Limits;
use netlab_events::server::{Hub, Server, ServerOptions};
use netlab_web::{Web, WebOptions, WebServer};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const ROLE: &str = "NETLAB_WEB_BENCH_SERVER";
/// Every wait of the benchmark gives up after this long (it is bounded, whatever happens).
const LIMIT: Duration = Duration::from_secs(120);

fn main() {
    raise_fd_limit(20_000);
    if std::env::var_os(ROLE).is_some() {
        return run_server();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(600), bench())
            .await
            .expect("the benchmark took more than 10 minutes")
    });
}

fn raise_fd_limit(need: u64) {
    if let Ok((soft, hard)) = rlimit::Resource::NOFILE.get()
        && soft < need
    {
        let _ = rlimit::Resource::NOFILE.set(need.min(hard), hard);
    }
}

/// The child: both listeners around one hub, limits raised for the load; prints its addresses.
fn run_server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut core = Core::new(Config::default());
        let history = netlab_events::chat::install(&mut core);
        let opts = ServerOptions {
            limits: Limits {
                max_connections: 19_000,
                max_per_peer: 19_000,
            },
            ..Default::default()
        };
        let hub = Hub::restored(core, opts).unwrap();
        let any = "127.0.0.1:0".parse().unwrap();
        let tcp = Server::bind_hub(any, hub.clone()).await.unwrap();
        let web_opts = WebOptions {
            max_connections: 19_000,
            ..WebOptions::default()
        };
        let http = WebServer::bind(any, Web::new(hub, history, web_opts))
            .await
            .unwrap();
        println!("{} {}", tcp.local_addr(), http.local_addr());
        // Run until the parent closes our stdin.
        let mut buf = [0u8; 1];
        let _ = tokio::io::stdin().read(&mut buf).await;
    });
}

struct Child2 {
    child: Child,
    tcp: SocketAddr,
    http: SocketAddr,
}

fn spawn_server() -> Child2 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let mut it = line.split_whitespace().map(|a| a.parse().unwrap());
    let (tcp, http) = (it.next().unwrap(), it.next().unwrap());
    Child2 { child, tcp, http }
}

impl Child2 {
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Child2 {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

async fn bench() {
    println!(
        "machine: {} cores; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    // NETLAB_WEB_BENCH_PART=bytes (or deliveries, memory) runs one part only.
    let part = std::env::var("NETLAB_WEB_BENCH_PART").unwrap_or_default();
    let run = |name: &str| part.is_empty() || part == name;
    let server = spawn_server();
    if run("deliveries") {
        println!("\n## deliveries per second (one sender, every member receives every message)");
        println!("| room | messages | TCP lines | WebSocket |");
        println!("|---:|---:|---:|---:|");
        for (n, m) in [(100usize, 300usize), (1000, 100)] {
            let tcp = deliveries(&server, false, n, m).await;
            let ws = deliveries(&server, true, n, m).await;
            println!("| {n} | {m} | {tcp:.0}/s | {ws:.0}/s |");
        }
    }
    if run("bytes") {
        println!("\n## bytes on the wire per delivered message (40 messages, one every 100 ms)");
        println!("| transport | bytes received | bytes sent | per message |");
        println!("|---|---:|---:|---:|");
        bytes_per_message(&server).await;
    }
    drop(server);
    if run("memory") {
        println!("\n## server memory per idle connection, 10,000 connections");
        memory().await;
    }
}

// ----- 1. deliveries per second ----------------------------------------------------------------

/// A reader of the event protocol over TCP lines or WebSocket that counts chat messages.
#[allow(clippy::too_many_arguments)]
async fn member(
    server_tcp: SocketAddr,
    server_http: SocketAddr,
    ws: bool,
    room: String,
    name: String,
    m: usize,
    joined: Arc<tokio::sync::Semaphore>,
    done: Arc<tokio::sync::Semaphore>,
) {
    let connect = json!({"type":"connect","ns":"/chat","auth":{"name":name}}).to_string();
    let join = json!({"type":"event","ns":"/chat","name":"join","args":[room],"ack":1}).to_string();
    let mut seen = 0usize;
    let mut acked = false;
    let mut on = |text: &str| {
        if !acked && text.contains("\"type\":\"ack\"") {
            acked = true;
            joined.add_permits(1);
        } else if text.contains("\"name\":\"message\"") {
            seen += 1;
        }
        seen == m
    };
    if ws {
        let (mut s, _) = tokio_tungstenite::connect_async(format!("ws://{server_http}/ws"))
            .await
            .unwrap();
        s.send(Message::text(connect)).await.unwrap();
        s.send(Message::text(join)).await.unwrap();
        while let Some(Ok(msg)) = s.next().await {
            if let Message::Text(t) = msg
                && on(t.as_str())
            {
                break;
            }
        }
    } else {
        let s = TcpStream::connect(server_tcp).await.unwrap();
        let (rd, mut wr) = s.into_split();
        wr.write_all(format!("{connect}\n{join}\n").as_bytes())
            .await
            .unwrap();
        let mut lines = BufReader::new(rd).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            if on(&l) {
                break;
            }
        }
    }
    done.add_permits(1);
}

async fn deliveries(server: &Child2, ws: bool, n: usize, m: usize) -> f64 {
    let room = format!("r{n}{ws}");
    let joined = Arc::new(tokio::sync::Semaphore::new(0));
    let done = Arc::new(tokio::sync::Semaphore::new(0));
    for i in 0..n {
        tokio::spawn(member(
            server.tcp,
            server.http,
            ws,
            room.clone(),
            format!("m{i}"),
            m,
            joined.clone(),
            done.clone(),
        ));
        if i % 100 == 99 {
            // Connect in waves so that the accept backlog is never the bottleneck.
            tokio::time::timeout(LIMIT, joined.acquire_many(100))
                .await
                .unwrap()
                .unwrap()
                .forget();
        }
    }
    let rest = (n % 100) as u32;
    tokio::time::timeout(LIMIT, joined.acquire_many(rest))
        .await
        .unwrap()
        .unwrap()
        .forget();
    // The sender: TCP lines, joined too (it hears its own messages; drained in the background).
    let s = TcpStream::connect(server.tcp).await.unwrap();
    let (rd, mut wr) = s.into_split();
    let mut lines = BufReader::new(rd).lines();
    let setup = format!(
        "{}\n{}\n",
        json!({"type":"connect","ns":"/chat","auth":{"name":"sender"}}),
        json!({"type":"event","ns":"/chat","name":"join","args":[room],"ack":1})
    );
    wr.write_all(setup.as_bytes()).await.unwrap();
    while let Ok(Some(l)) = lines.next_line().await {
        if l.contains("\"type\":\"ack\"") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let t0 = Instant::now();
    let mut batch = String::new();
    for i in 0..m {
        batch.push_str(&json!({"type":"event","ns":"/chat","name":"message","args":[room, format!("message {i}")]}).to_string());
        batch.push('\n');
    }
    wr.write_all(batch.as_bytes()).await.unwrap();
    tokio::time::timeout(LIMIT, done.acquire_many(n as u32))
        .await
        .expect("all delivered")
        .unwrap()
        .forget();
    let secs = t0.elapsed().as_secs_f64();
    drop(wr);
    (n * m) as f64 / secs
}

// ----- 2. bytes per delivered message ----------------------------------------------------------

/// A TCP stream that counts the bytes it reads and writes (its TCP payload).
struct Counted {
    inner: TcpStream,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl Counted {
    async fn connect(addr: SocketAddr) -> (Counted, Arc<AtomicU64>, Arc<AtomicU64>) {
        let (r, w) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let inner = TcpStream::connect(addr).await.unwrap();
        (
            Counted {
                inner,
                read: r.clone(),
                written: w.clone(),
            },
            r,
            w,
        )
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.read
            .fetch_add((buf.filled().len() - before) as u64, Ordering::Relaxed);
        r
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &r {
            self.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One keep-alive HTTP/1.1 exchange: the status and the body (content-length or none).
async fn exchange(s: &mut BufReader<Counted>, req: &str) -> (u16, String) {
    let t0 = Instant::now();
    s.get_mut().write_all(req.as_bytes()).await.unwrap();
    let mut status = 0;
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        s.read_line(&mut line).await.unwrap();
        assert!(
            !line.is_empty(),
            "the server closed the connection after {req:?} ({:?} later)",
            t0.elapsed()
        );
        if status == 0 {
            status = line[9..12].parse().unwrap();
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

const K: usize = 40;

async fn bytes_per_message(server: &Child2) {
    let (tcp, http) = (server.tcp, server.http);
    let room = "bytes";
    let gate = Arc::new(tokio::sync::Barrier::new(7));
    let mut readers = Vec::new();
    type Reader = Pin<Box<dyn std::future::Future<Output = (&'static str, u64, u64)> + Send>>;
    let connect =
        |name: &str| json!({"type":"connect","ns":"/chat","auth":{"name":name}}).to_string();
    let join = json!({"type":"event","ns":"/chat","name":"join","args":[room],"ack":1}).to_string();

    // TCP lines.
    let (g, c, j) = (gate.clone(), connect("tcp"), join.clone());
    readers.push(Box::pin(async move {
        let (s, r, w) = Counted::connect(tcp).await;
        let mut s = BufReader::new(s);
        s.get_mut()
            .write_all(format!("{c}\n{j}\n").as_bytes())
            .await
            .unwrap();
        let mut line = String::new();
        while !line.contains("\"type\":\"ack\"") {
            line.clear();
            s.read_line(&mut line).await.unwrap();
        }
        g.wait().await;
        let (r0, w0) = (r.load(Ordering::Relaxed), w.load(Ordering::Relaxed));
        let mut n = 0;
        while n < K {
            line.clear();
            s.read_line(&mut line).await.unwrap();
            if line.contains("\"name\":\"message\"") {
                n += 1;
            }
        }
        (
            "TCP lines",
            r.load(Ordering::Relaxed) - r0,
            w.load(Ordering::Relaxed) - w0,
        )
    }) as Reader);

    // WebSocket.
    let (g, c, j) = (gate.clone(), connect("ws"), join.clone());
    readers.push(Box::pin(async move {
        let (s, r, w) = Counted::connect(http).await;
        let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{http}/ws"), s)
            .await
            .unwrap();
        ws.send(Message::text(c)).await.unwrap();
        ws.send(Message::text(j)).await.unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if m.to_text().unwrap_or("").contains("\"type\":\"ack\"") {
                break;
            }
        }
        g.wait().await;
        let (r0, w0) = (r.load(Ordering::Relaxed), w.load(Ordering::Relaxed));
        let mut n = 0;
        while n < K {
            let m = ws.next().await.unwrap().unwrap();
            if m.to_text().unwrap_or("").contains("\"name\":\"message\"") {
                n += 1;
            }
        }
        (
            "WebSocket",
            r.load(Ordering::Relaxed) - r0,
            w.load(Ordering::Relaxed) - w0,
        )
    }));

    // The event protocol over long-polling (/poll), one keep-alive connection for GETs.
    let (g, c, j) = (gate.clone(), connect("poll"), join.clone());
    readers.push(Box::pin(async move {
        let (s, r, w) = Counted::connect(http).await;
        let mut s = BufReader::new(s);
        let host = format!("host: {http}\r\n");
        let (_, open) = exchange(&mut s, &format!("POST /poll HTTP/1.1\r\n{host}content-length: 0\r\n\r\n")).await;
        let id = serde_json::from_str::<serde_json::Value>(&open).unwrap()["conn"].as_str().unwrap().to_string();
        let body = format!("{c}\n{j}\n");
        exchange(&mut s, &format!("POST /poll?conn={id} HTTP/1.1\r\n{host}content-type: application/x-ndjson\r\ncontent-length: {}\r\n\r\n{body}", body.len())).await;
        let get = format!("GET /poll?conn={id} HTTP/1.1\r\n{host}\r\n");
        loop { let (_, b) = exchange(&mut s, &get).await; if b.contains("\"type\":\"ack\"") { break; } }
        g.wait().await;
        let (r0, w0) = (r.load(Ordering::Relaxed), w.load(Ordering::Relaxed));
        let mut n = 0;
        while n < K { let (_, b) = exchange(&mut s, &get).await; n += b.matches("\"name\":\"message\"").count(); }
        ("long-polling, event protocol (/poll)", r.load(Ordering::Relaxed) - r0, w.load(Ordering::Relaxed) - w0)
    }));

    // SSE.
    let g = gate.clone();
    readers.push(Box::pin(async move {
        let (s, r, w) = Counted::connect(http).await;
        let mut s = BufReader::new(s);
        // The room is new: from the start is from now.
        let req = format!("GET /api/rooms/{room}/events HTTP/1.1\r\nhost: {http}\r\n\r\n");
        s.get_mut().write_all(req.as_bytes()).await.unwrap();
        let mut line = String::new();
        while line != "\r\n" {
            line.clear();
            s.read_line(&mut line).await.unwrap();
        }
        g.wait().await;
        let (r0, w0) = (r.load(Ordering::Relaxed), w.load(Ordering::Relaxed));
        let mut n = 0;
        while n < K {
            line.clear();
            s.read_line(&mut line).await.unwrap();
            if line.starts_with("data: ") {
                n += 1;
            }
        }
        (
            "SSE",
            r.load(Ordering::Relaxed) - r0,
            w.load(Ordering::Relaxed) - w0,
        )
    }));

    // The chat API: long-polling (wait=30s) and short polling (every 250 ms).
    for (label, wait) in [
        ("long-polling, chat API (wait=30s)", true),
        ("short polling, chat API (every 250 ms)", false),
    ] {
        let g = gate.clone();
        readers.push(Box::pin(async move {
            let (s, r, w) = Counted::connect(http).await;
            let mut s = BufReader::new(s);
            let get = |after: u64| format!("GET /api/rooms/{room}/messages?after={after}{} HTTP/1.1\r\nhost: {http}\r\n\r\n", if wait { "&wait=30s" } else { "" });
            // Where to start: the newest id (asked without wait=, which would hold it).
            let now = format!("GET /api/rooms/{room}/messages?after={} HTTP/1.1\r\nhost: {http}\r\n\r\n", u64::MAX / 2);
            let (_, b) = exchange(&mut s, &now).await;
            let mut last = serde_json::from_str::<serde_json::Value>(&b).unwrap()["newest"].as_u64().unwrap();
            g.wait().await;
            let (r0, w0) = (r.load(Ordering::Relaxed), w.load(Ordering::Relaxed));
            let mut n = 0;
            while n < K {
                let (_, b) = exchange(&mut s, &get(last)).await;
                let v: serde_json::Value = serde_json::from_str(&b).unwrap();
                for m in v["messages"].as_array().unwrap() { last = m["id"].as_u64().unwrap(); n += 1; }
                if !wait { tokio::time::sleep(Duration::from_millis(250)).await; }
            }
            (label, r.load(Ordering::Relaxed) - r0, w.load(Ordering::Relaxed) - w0)
        }));
    }
    let tasks: Vec<_> = readers.into_iter().map(tokio::spawn).collect();
    // The sender: the API, one message every 100 ms, once every reader is in place.
    gate.wait().await;
    let (s, _, _) = Counted::connect(http).await;
    let mut s = BufReader::new(s);
    for i in 0..K {
        let body = json!({"name":"sender","text":format!("message number {i}")}).to_string();
        let req = format!(
            "POST /api/rooms/{room}/messages HTTP/1.1\r\nhost: {http}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        exchange(&mut s, &req).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in tasks {
        let (label, read, written) = tokio::time::timeout(LIMIT, t).await.unwrap().unwrap();
        println!(
            "| {label} | {read} | {written} | {:.0} |",
            (read + written) as f64 / K as f64
        );
    }
}

// ----- 3. memory per idle connection -----------------------------------------------------------

async fn memory() {
    const N: usize = 10_000;
    println!("| transport | server RSS before | with {N} idle connections | per connection |");
    println!("|---|---:|---:|---:|");
    for ws in [false, true] {
        let server = spawn_server();
        // Warm up allocator and runtime with a few connections first, then measure.
        let before = server.rss_kib();
        let mut held = Vec::with_capacity(N);
        let mut wss = Vec::with_capacity(if ws { N } else { 0 });
        for _ in 0..N {
            if ws {
                let (mut s, _) = tokio::time::timeout(
                    LIMIT,
                    tokio_tungstenite::connect_async(format!("ws://{}/ws", server.http)),
                )
                .await
                .unwrap()
                .unwrap();
                let _hello = s.next().await;
                wss.push(s);
            } else {
                let s = TcpStream::connect(server.tcp).await.unwrap();
                let mut rd = BufReader::new(s);
                let mut hello = String::new();
                rd.read_line(&mut hello).await.unwrap();
                held.push(rd);
            }
        }
        let after = server.rss_kib();
        let label = if ws { "WebSocket" } else { "TCP lines" };
        println!(
            "| {label} | {} KiB | {} KiB | {:.1} KiB |",
            before,
            after,
            (after - before) as f64 / N as f64
        );
        drop(held);
        drop(wss);
    }
}
