//! The TCP echo server against real sockets on loopback.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use netlab_echo::impair::SplitMix64;
use netlab_echo::{TcpConfig, TcpEchoServer, TcpSummary, shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Every await in these tests is bounded: a hang is a failure, not a stuck CI job.
async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

struct Running {
    addr: SocketAddr,
    trigger: shutdown::ShutdownTrigger,
    task: JoinHandle<TcpSummary>,
    stats: std::sync::Arc<netlab_echo::tcp::TcpStats>,
}

async fn start(config: TcpConfig) -> Running {
    let server = TcpEchoServer::bind(config).await.expect("bind on loopback");
    let (addr, stats) = (server.local_addr(), server.stats());
    let (trigger, signal) = shutdown::channel();
    let task = tokio::spawn(server.run(signal));
    Running {
        addr,
        trigger,
        task,
        stats,
    }
}

async fn stop(running: Running) -> TcpSummary {
    running.trigger.fire();
    within("server stop", running.task)
        .await
        .expect("server task")
}

/// Sends `data` with a concurrent reader, half-closes, and returns everything read until EOF.
async fn echo_all(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let stream = within("connect", TcpStream::connect(addr)).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = async {
        wr.write_all(data).await.unwrap();
        wr.shutdown().await.unwrap();
    };
    let reader = async {
        let mut back = Vec::with_capacity(data.len());
        rd.read_to_end(&mut back).await.unwrap();
        back
    };
    let ((), back) = within("echo", async { tokio::join!(writer, reader) }).await;
    back
}

#[tokio::test]
async fn one_mebibyte_of_random_bytes_comes_back_exact() {
    let server = start(TcpConfig::loopback(0)).await;
    let data = random_bytes(1 << 20, 1);
    let back = echo_all(server.addr, &data).await;
    assert_eq!(back.len(), data.len());
    assert!(back == data, "the echo differs from what was sent");
    let summary = stop(server).await;
    assert_eq!(summary.bytes_in, 1 << 20);
    assert_eq!(summary.bytes_out, 1 << 20);
    assert_eq!(summary.connections, 1);
}

#[tokio::test]
async fn two_hundred_concurrent_clients_each_get_their_own_bytes() {
    let server = start(TcpConfig::loopback(0)).await;
    let addr = server.addr;
    let clients: Vec<_> = (0..200u64)
        .map(|i| {
            tokio::spawn(async move {
                let data = random_bytes(4096 + i as usize, 100 + i);
                (echo_all(addr, &data).await == data, i)
            })
        })
        .collect();
    for client in clients {
        let (same, i) = within("client", client).await.unwrap();
        assert!(same, "client {i} got someone else's bytes or a short echo");
    }
    let summary = stop(server).await;
    assert_eq!(summary.connections, 200);
    assert_eq!(summary.rejected, 0);
    assert_eq!(summary.errors, 0);
}

#[tokio::test]
async fn half_close_echoes_the_rest_then_closes() {
    let server = start(TcpConfig::loopback(0)).await;
    let mut stream = within("connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    stream.write_all(b"last words").await.unwrap();
    stream.shutdown().await.unwrap(); // FIN: we send no more, but can still read
    let mut back = Vec::new();
    within("read to EOF", stream.read_to_end(&mut back))
        .await
        .unwrap();
    assert_eq!(back, b"last words");
    stop(server).await;
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_is_closed_and_counted() {
    let server = start(TcpConfig {
        idle_timeout: Some(Duration::from_secs(30)),
        ..TcpConfig::loopback(0)
    })
    .await;
    let mut stream = within("connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    stream.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    within("echo", stream.read_exact(&mut buf)).await.unwrap();
    let before = tokio::time::Instant::now();
    // Paused clock: tokio jumps to the server's idle deadline as soon as everyone waits.
    let n = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut buf))
        .await
        .expect("the server should close before 60 s")
        .unwrap();
    assert_eq!(n, 0, "end of stream");
    assert!(before.elapsed() >= Duration::from_secs(30));
    let summary = stop(server).await;
    assert_eq!(summary.idle_closed, 1);
}

#[tokio::test]
async fn beyond_max_connections_a_client_is_closed_at_once() {
    let server = start(TcpConfig {
        max_connections: 2,
        ..TcpConfig::loopback(0)
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut s = within("connect", TcpStream::connect(server.addr))
            .await
            .unwrap();
        s.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        within("echo", s.read_exact(&mut b)).await.unwrap();
        open.push(s);
    }
    let mut third = within("connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    let mut b = [0u8; 1];
    let n = within("rejection", third.read(&mut b)).await.unwrap_or(0);
    assert_eq!(n, 0, "the third client reads end of stream");
    // Free a slot; a new client is then served.
    drop(open.pop());
    within("slot freed", async {
        while server.stats.active.load(Ordering::Relaxed) > 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let back = echo_all(server.addr, b"room now").await;
    assert_eq!(back, b"room now");
    drop(open); // let the drain finish at once instead of waiting for its deadline
    let summary = stop(server).await;
    assert_eq!(summary.aborted, 0);
    assert_eq!(summary.rejected, 1);
    assert_eq!(summary.connections, 3);
}

#[tokio::test]
async fn shutdown_stops_accepting_but_lets_open_connections_finish() {
    let server = start(TcpConfig {
        drain_timeout: Duration::from_secs(10),
        ..TcpConfig::loopback(0)
    })
    .await;
    let addr = server.addr;
    let mut stream = within("connect", TcpStream::connect(addr)).await.unwrap();
    stream.write_all(b"before").await.unwrap();
    let mut buf = [0u8; 6];
    within("echo", stream.read_exact(&mut buf)).await.unwrap();
    server.trigger.fire();
    // Once the listener is closed, the kernel refuses new connections.
    within("listener closed", async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // The open connection is still served while draining.
    stream.write_all(b"during").await.unwrap();
    within("echo while draining", stream.read_exact(&mut buf))
        .await
        .unwrap();
    assert_eq!(&buf, b"during");
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    within("EOF", stream.read_to_end(&mut rest)).await.unwrap();
    let summary = within("drained", server.task).await.unwrap();
    assert_eq!(summary.aborted, 0);
    assert_eq!(summary.bytes_in, 12);
}

#[tokio::test(start_paused = true)]
async fn connections_still_open_at_the_drain_deadline_are_cut() {
    let server = start(TcpConfig {
        drain_timeout: Duration::from_secs(3),
        idle_timeout: None,
        ..TcpConfig::loopback(0)
    })
    .await;
    let mut stream = within("connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    stream.write_all(b"hi").await.unwrap();
    let mut buf = [0u8; 2];
    within("echo", stream.read_exact(&mut buf)).await.unwrap();
    let summary = stop(server).await; // the client never closes
    assert_eq!(summary.aborted, 1);
    let n = within("cut", stream.read(&mut buf)).await.unwrap_or(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn ipv6_loopback_works_where_available() {
    let config = TcpConfig {
        bind: "[::1]:0".parse().unwrap(),
        ..TcpConfig::loopback(0)
    };
    let server = match TcpEchoServer::bind(config).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("SKIPPED: no IPv6 loopback on this machine ({err})");
            return;
        }
    };
    let addr = server.local_addr();
    assert!(addr.is_ipv6());
    let (trigger, signal) = shutdown::channel();
    let task = tokio::spawn(server.run(signal));
    assert_eq!(echo_all(addr, b"six").await, b"six");
    trigger.fire();
    within("stop", task).await.unwrap();
}

#[tokio::test]
async fn binding_a_busy_port_says_address_in_use() {
    let server = start(TcpConfig::loopback(0)).await;
    let err = TcpEchoServer::bind(TcpConfig::loopback(server.addr.port()))
        .await
        .err()
        .expect("second bind must fail");
    assert!(
        matches!(err, netlab_echo::EchoError::AddrInUse { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--port 0"));
    stop(server).await;
}
