//! Benchmark (bounded, a minute or two): one sender broadcasting to a room of 100 and of 1,000
//! TCP clients (delivered events/s, p50/p99 latency), default vs reliable delivery, and server
//! memory per idle connection at 10,000 connections.
//!
//! Run: `cargo bench -p netlab-events --bench broadcast`. Results go to stdout; copy them into
//! docs/performance.md ("Events"). The server runs in a child process (this same binary, with
//! NETLAB_EVENTS_BENCH_SERVER=1) so that its memory can be read from /proc without the clients'.
//!
//! Method: the sender keeps at most WINDOW events in flight, counted against the last client to
//! join (a closed loop: the server's queues never fill, so nobody is disconnected by
//! backpressure and the figures are sustainable rates, not bursts). Each event carries the send
//! time; each client records `now - sent` for every delivery.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use netlab_events::core::{Config, Core, Delivery};
use netlab_events::limits::Limits;
use netlab_events::server::{Server, ServerOptions};
use netlab_events::store::{RedbStore, Store};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Events in flight in the throughput runs (enough to keep every queue busy, far below the
/// server's send queue, so nobody is disconnected by backpressure).
const WINDOW: u64 = 200;
/// Events in flight in the latency runs: one, so latency is delivery time, not queueing time.
const LATENCY_WINDOW: u64 = 1;
const ROLE: &str = "NETLAB_EVENTS_BENCH_SERVER";
/// Set (to a file path) for the run where the child keeps its sessions in a redb store.
const STORE: &str = "NETLAB_EVENTS_BENCH_STORE";

fn main() {
    if std::env::var_os(ROLE).is_some() {
        return run_server();
    }
    raise_fd_limit(25_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("events benchmark (server in a child process; clients and sender in this one)");
    println!(
        "| room | delivery | in flight | events sent | deliveries | delivered events/s | p50 | p99 |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    let mut rates = Vec::new();
    let runs = [
        (100usize, 3000u64, WINDOW),
        (1000, 600, WINDOW),
        (100, 300, LATENCY_WINDOW),
        (1000, 100, LATENCY_WINDOW),
    ];
    for (room, events, window) in runs {
        for delivery in [Delivery::Default, Delivery::Reliable] {
            let server = spawn_server();
            let r = rt.block_on(broadcast(server.addr, room, events, delivery, window));
            println!(
                "| {room} | {:?} | {window} | {events} | {} | {:.0} | {:.2} ms | {:.2} ms |",
                delivery, r.deliveries, r.rate, r.p50_ms, r.p99_ms
            );
            if window == WINDOW {
                rates.push((room, delivery, r));
            }
        }
    }
    // Reliable with the redb store: every core step is one transaction, written before the
    // frames go out.
    let path =
        std::env::temp_dir().join(format!("netlab-events-bench-{}.redb", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let server = spawn_server_with(Some(&path));
    let r = rt.block_on(broadcast(
        server.addr,
        100,
        1000,
        Delivery::Reliable,
        WINDOW,
    ));
    drop(server);
    let _ = std::fs::remove_file(&path);
    println!(
        "| 100 | Reliable + redb store | {WINDOW} | 1000 | {} | {:.0} | {:.2} ms | {:.2} ms |",
        r.deliveries, r.rate, r.p50_ms, r.p99_ms
    );
    for room in [100, 1000] {
        let get = |d| {
            rates
                .iter()
                .find(|(r, dd, _)| *r == room && *dd == d)
                .map(|x| &x.2)
                .unwrap()
        };
        let (d, r) = (get(Delivery::Default), get(Delivery::Reliable));
        println!(
            "room {room}: reliable/default throughput ratio {:.2}",
            r.rate / d.rate
        );
    }
    let server = spawn_server();
    idle_memory(&server, 10_000);
}

struct Result {
    deliveries: u64,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// The child process: a server with a `/bench` namespace, its port on the first line of stdout.
fn run_server() {
    raise_fd_limit(25_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut core = Core::new(Config {
            send_queue: 4096,
            ..Config::default()
        });
        let ns = core.namespace("/bench");
        ns.on("join", |ctx, _| {
            ctx.join("room");
            ctx.ack(vec![]);
        });
        ns.on("say", |ctx, ev| {
            let d = if ev.args.get(1) == Some(&json!("reliable")) {
                Delivery::Reliable
            } else {
                Delivery::Default
            };
            ctx.to("room")
                .delivery(d)
                .emit("said", vec![ev.args[0].clone()]);
        });
        let store = std::env::var_os(STORE).map(|p| {
            Box::new(RedbStore::open(std::path::Path::new(&p)).unwrap()) as Box<dyn Store>
        });
        let opts = ServerOptions {
            store,
            // Every bench client comes from 127.0.0.1: lift the limits for the load.
            limits: Limits {
                max_connections: 100_000,
                max_per_peer: 100_000,
            },
            ..ServerOptions::default()
        };
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), core, opts)
            .await
            .unwrap();
        println!("{}", server.local_addr());
        // Run until the parent closes our stdin.
        tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            let _ = std::io::stdin().read_line(&mut s);
        })
        .await
        .unwrap();
    });
}

struct ServerProc {
    child: Child,
    addr: SocketAddr,
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn spawn_server() -> ServerProc {
    spawn_server_with(None)
}

fn spawn_server_with(store: Option<&std::path::Path>) -> ServerProc {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    if let Some(p) = store {
        cmd.env(STORE, p);
    }
    let mut child = cmd
        .env(ROLE, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    ServerProc {
        addr: line.trim().parse().unwrap(),
        child,
    }
}

async fn join(
    addr: SocketAddr,
) -> (
    tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    tokio::net::tcp::OwnedWriteHalf,
) {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let (rd, mut wr) = s.into_split();
    let mut rd = tokio::io::BufReader::new(rd);
    wr.write_all(b"{\"type\":\"connect\",\"ns\":\"/bench\"}\n{\"type\":\"event\",\"ns\":\"/bench\",\"name\":\"join\",\"ack\":1}\n")
        .await
        .unwrap();
    let mut line = String::new();
    while !line.contains("\"ack\"") {
        line.clear();
        rd.read_line(&mut line).await.unwrap();
    }
    (rd, wr)
}

async fn broadcast(
    addr: SocketAddr,
    room: usize,
    events: u64,
    delivery: Delivery,
    window: u64,
) -> Result {
    let base = Instant::now();
    let tail_count = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for i in 0..room {
        let (mut rd, mut wr) = join(addr).await;
        let tail = (i == room - 1).then(|| tail_count.clone());
        clients.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(events as usize);
            let mut line = String::new();
            while (lat.len() as u64) < events {
                line.clear();
                if rd.read_line(&mut line).await.unwrap() == 0 {
                    panic!("server closed a client");
                }
                let v: Value = serde_json::from_str(&line).unwrap();
                if v["type"] == "ping" {
                    wr.write_all(b"{\"type\":\"pong\"}\n").await.unwrap();
                    continue;
                }
                if v["name"] != "said" {
                    continue;
                }
                let sent = v["args"][0].as_u64().unwrap();
                lat.push(base.elapsed().as_nanos() as u64 - sent);
                if let Some(seq) = v["seq"].as_u64()
                    && seq % 100 == 0
                {
                    let r = format!("{{\"type\":\"received\",\"ns\":\"/bench\",\"seq\":{seq}}}\n");
                    wr.write_all(r.as_bytes()).await.unwrap();
                }
                if let Some(t) = &tail {
                    t.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat
        }));
    }
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let (_rd, mut wr) = s.into_split();
    wr.write_all(b"{\"type\":\"connect\",\"ns\":\"/bench\"}\n")
        .await
        .unwrap();
    let mode = if delivery == Delivery::Reliable {
        "reliable"
    } else {
        "default"
    };
    let start = Instant::now();
    for i in 0..events {
        while i >= tail_count.load(Ordering::Relaxed) + window {
            tokio::task::yield_now().await;
        }
        let t = base.elapsed().as_nanos() as u64;
        let line = format!(
            "{{\"type\":\"event\",\"ns\":\"/bench\",\"name\":\"say\",\"args\":[{t},\"{mode}\"]}}\n"
        );
        wr.write_all(line.as_bytes()).await.unwrap();
    }
    let mut all = Vec::new();
    for c in clients {
        all.extend(
            tokio::time::timeout(Duration::from_secs(120), c)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 - 1.0) * p) as usize] as f64 / 1e6;
    Result {
        deliveries: all.len() as u64,
        rate: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Open `n` idle connections, each connected to /bench, and compare the server's RSS.
fn idle_memory(server: &ServerProc, n: usize) {
    let pid = server.child.id();
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_kib(pid);
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = std::net::TcpStream::connect(server.addr).unwrap();
        s.write_all(b"{\"type\":\"connect\",\"ns\":\"/bench\"}\n")
            .unwrap();
        conns.push(s);
    }
    // Let the server accept and answer every one of them.
    let mut last = 0;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(200));
        let now = rss_kib(pid);
        if now == last {
            break;
        }
        last = now;
    }
    let after = rss_kib(pid);
    let per = (after.saturating_sub(before)) as f64 * 1024.0 / n as f64;
    println!(
        "idle connections: {n}; server RSS {before} KiB before, {after} KiB after: {:.0} bytes per connection (user space; kernel socket buffers not included)",
        per
    );
    drop(conns);
}

fn raise_fd_limit(need: u64) {
    if let Ok((soft, hard)) = rlimit::Resource::NOFILE.get()
        && soft < need
    {
        let _ = rlimit::Resource::NOFILE.set(need.min(hard), hard);
    }
}
