//! The UDP echo server against real sockets on loopback: sizes, impairment, anti-reflection.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use netlab_echo::udp::UdpStats;
use netlab_echo::{
    BufferSizes, ImpairmentConfig, MAX_UDP_PAYLOAD, RateLimit, UdpConfig, UdpEchoServer,
    UdpSummary, shutdown,
};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

struct Running {
    addr: SocketAddr,
    trigger: shutdown::ShutdownTrigger,
    task: JoinHandle<UdpSummary>,
    stats: Arc<UdpStats>,
}

async fn start(config: UdpConfig) -> Running {
    let server = UdpEchoServer::bind(config).await.expect("bind on loopback");
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

async fn stop(running: Running) -> UdpSummary {
    running.trigger.fire();
    within("server stop", running.task).await.unwrap()
}

async fn client(server: SocketAddr) -> UdpSocket {
    let socket = netlab_echo::sock::udp_socket(
        "127.0.0.1:0".parse().unwrap(),
        BufferSizes {
            recv: Some(1 << 20),
            send: None,
        },
    )
    .unwrap();
    socket.connect(server).await.unwrap();
    socket
}

fn no_limit(impairment: ImpairmentConfig) -> UdpConfig {
    UdpConfig {
        anti_reflection: None,
        impairment,
        ..UdpConfig::loopback(0)
    }
}

#[tokio::test]
async fn sizes_0_1_1472_and_65507_come_back_as_one_datagram_each() {
    let server = start(UdpConfig::loopback(0)).await;
    let socket = client(server.addr).await;
    let mut buf = vec![0u8; MAX_UDP_PAYLOAD + 100];
    for size in [0usize, 1, 1472, MAX_UDP_PAYLOAD] {
        let data: Vec<u8> = (0..size).map(|i| (i * 7 + size) as u8).collect();
        socket.send(&data).await.unwrap();
        let n = within("echo", socket.recv(&mut buf)).await.unwrap();
        assert_eq!(n, size, "one datagram of {size} bytes, whole");
        assert!(buf[..n] == data[..], "{size}-byte echo differs");
    }
    let summary = stop(server).await;
    assert_eq!(summary.received, 4);
    assert_eq!(summary.bytes_out, (1 + 1472 + MAX_UDP_PAYLOAD) as u64);
}

/// Sends `count` numbered datagrams in small batches (so loopback never overflows a buffer)
/// and returns how many echoes came back for each number, plus the server's counters.
async fn run_numbered(config: UdpConfig, count: u64) -> (BTreeMap<u64, u32>, UdpSummary) {
    let server = start(config).await;
    let socket = client(server.addr).await;
    let mut seen = BTreeMap::new();
    let mut buf = [0u8; 64];
    for batch in (0..count).collect::<Vec<_>>().chunks(50) {
        for &seq in batch {
            socket.send(&seq.to_be_bytes()).await.unwrap();
        }
        let target = batch.last().unwrap() + 1;
        // Wait until the server took the whole batch, then read every echo it sent.
        within("server received the batch", async {
            while server.stats.summary().received < target {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        let received: u64 = seen.values().map(|&n| n as u64).sum();
        let expected = server.stats.summary().replied;
        for _ in received..expected {
            let n = within("echo", socket.recv(&mut buf)).await.unwrap();
            let seq = u64::from_be_bytes(buf[..n].try_into().unwrap());
            *seen.entry(seq).or_insert(0) += 1;
        }
    }
    (seen, stop(server).await)
}

#[tokio::test]
async fn impairment_with_a_seed_repeats_exactly_and_its_rates_hold() {
    let impairment = ImpairmentConfig {
        drop: 0.1,
        duplicate: 0.05,
        seed: 42,
        ..ImpairmentConfig::default()
    };
    let (first, a) = run_numbered(no_limit(impairment.clone()), 10_000).await;
    let (second, b) = run_numbered(no_limit(impairment.clone()), 10_000).await;
    assert_eq!(a, b, "same seed, same counters");
    assert!(
        first == second,
        "same seed, same datagrams dropped and duplicated"
    );
    assert_eq!(a.received, 10_000);
    let drop_rate = a.dropped as f64 / 10_000.0;
    let dup_rate = a.duplicated as f64 / (10_000 - a.dropped) as f64;
    assert!((drop_rate - 0.1).abs() < 0.015, "drop rate {drop_rate}");
    assert!((dup_rate - 0.05).abs() < 0.01, "duplicate rate {dup_rate}");
    // What the client saw matches what the server says it did.
    assert_eq!(first.len() as u64, 10_000 - a.dropped);
    assert_eq!(
        first.values().filter(|&&n| n == 2).count() as u64,
        a.duplicated
    );
    let (other, c) = run_numbered(
        no_limit(ImpairmentConfig {
            seed: 43,
            ..impairment
        }),
        10_000,
    )
    .await;
    assert!(other != first && c != a, "another seed, other decisions");
}

#[tokio::test]
async fn reorder_swaps_each_pair() {
    let server = start(no_limit(ImpairmentConfig {
        reorder: 1.0,
        ..ImpairmentConfig::default()
    }))
    .await;
    let socket = client(server.addr).await;
    let mut order = Vec::new();
    let mut buf = [0u8; 8];
    for seq in 0u64..4 {
        socket.send(&seq.to_be_bytes()).await.unwrap();
        // One at a time, so the server sees them in this order.
        within("server took it", async {
            while server.stats.summary().received <= seq {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
    }
    for _ in 0..4 {
        within("echo", socket.recv(&mut buf)).await.unwrap();
        order.push(u64::from_be_bytes(buf));
    }
    assert_eq!(
        order,
        [1, 0, 3, 2],
        "each held reply goes out after the next one"
    );
    assert_eq!(stop(server).await.reordered, 2);
}

#[tokio::test(start_paused = true)]
async fn delay_and_jitter_hold_the_reply() {
    let server = start(no_limit(ImpairmentConfig {
        delay: Duration::from_millis(200),
        jitter: Duration::from_millis(50),
        seed: 5,
        ..ImpairmentConfig::default()
    }))
    .await;
    let socket = client(server.addr).await;
    let mut buf = [0u8; 16];
    for _ in 0..5 {
        let sent = tokio::time::Instant::now();
        socket.send(b"slow").await.unwrap();
        within("delayed echo", socket.recv(&mut buf)).await.unwrap();
        let waited = sent.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited <= Duration::from_millis(251),
            "{waited:?}"
        );
    }
    assert_eq!(stop(server).await.delayed, 5);
}

#[tokio::test]
async fn anti_reflection_caps_replies_per_source() {
    let server = start(UdpConfig {
        anti_reflection: Some(RateLimit {
            rate: 10.0,
            burst: 20.0,
        }),
        ..UdpConfig::loopback(0)
    })
    .await;
    let socket = client(server.addr).await;
    let started = std::time::Instant::now();
    for i in 0u32..200 {
        socket.send(&i.to_be_bytes()).await.unwrap();
    }
    within("server received all", async {
        while server.stats.summary().received < 200 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let summary = stop(server).await;
    // The burst, plus what 10/s refilled meanwhile: never all 200.
    let ceiling = 20 + (10.0 * elapsed).ceil() as u64;
    assert!(
        summary.replied >= 20 && summary.replied <= ceiling,
        "{summary:?}"
    );
    assert_eq!(summary.replied + summary.rate_limited, 200);
    // Every reply that did go out is the request's size, never more.
    assert_eq!(summary.bytes_out, summary.replied * 4);
    let mut buf = [0u8; 64];
    for _ in 0..summary.replied {
        let n = within("capped echo", socket.recv(&mut buf)).await.unwrap();
        assert_eq!(n, 4);
    }
}

#[tokio::test]
async fn a_probability_above_one_is_refused_at_bind() {
    let err = UdpEchoServer::bind(no_limit(ImpairmentConfig {
        drop: 2.0,
        ..ImpairmentConfig::default()
    }))
    .await
    .err()
    .expect("invalid config");
    assert!(err.is_usage(), "{err}");
}

/// `--delay` used to hold every delayed datagram: a flood at a long delay took gigabytes. The
/// queue is bounded in bytes; beyond it a datagram is not answered, and counted.
#[tokio::test]
async fn the_delay_queue_is_bounded_and_what_does_not_fit_is_counted() {
    let config = no_limit(ImpairmentConfig {
        delay: Duration::from_secs(600),
        ..ImpairmentConfig::default()
    });
    let server = UdpEchoServer::bind(config)
        .await
        .expect("bind on loopback")
        .with_max_delayed_bytes(10 * (1000 + netlab_echo::udp::DELAY_ENTRY_COST));
    let (addr, stats) = (server.local_addr(), server.stats());
    let (trigger, signal) = shutdown::channel();
    let task = tokio::spawn(server.run(signal));
    let server = Running {
        addr,
        trigger,
        task,
        stats,
    };
    let socket = client(server.addr).await;
    for i in 0..20u8 {
        socket.send(&[i; 1000]).await.unwrap();
    }
    within("the server reads all 20", async {
        while server.stats.summary().received < 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let summary = stop(server).await;
    assert_eq!(
        (summary.received, summary.delayed, summary.delay_queue_full),
        (20, 10, 10)
    );
}

/// An IPv6 datagram can carry 65,527 bytes (its 40-byte header is outside the payload length);
/// the server used to read at most 65,508 and echo the rest cut off, without a word.
#[tokio::test]
async fn the_largest_ipv6_datagram_comes_back_whole() {
    let config = UdpConfig {
        bind: "[::1]:0".parse().unwrap(),
        ..UdpConfig::loopback(0)
    };
    let server = match UdpEchoServer::bind(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("SKIPPED: no IPv6 loopback on this machine ({e})");
            return;
        }
    };
    let (addr, stats) = (server.local_addr(), server.stats());
    let (trigger, signal) = shutdown::channel();
    let task = tokio::spawn(server.run(signal));
    let socket = UdpSocket::bind("[::1]:0").await.unwrap();
    socket.connect(addr).await.unwrap();
    let data: Vec<u8> = (0..65_527u32).map(|i| (i % 251) as u8).collect();
    socket.send(&data).await.unwrap();
    let mut buf = vec![0u8; 70_000];
    let n = within("the echo", socket.recv(&mut buf)).await.unwrap();
    assert_eq!(n, data.len());
    assert!(buf[..n] == data[..]);
    let summary = stop(Running {
        addr,
        trigger,
        task,
        stats,
    })
    .await;
    assert_eq!(summary.bytes_out, 65_527);
}

/// `--burst inf` (or `--rate 1e-300 --burst 1e300`) passed validation, and the limiter then
/// panicked on its 4,097th source. Such limits are refused at bind, as usage errors.
#[tokio::test]
async fn limits_that_are_not_finite_and_sensible_are_refused() {
    for (rate, burst) in [(1000.0, f64::INFINITY), (1e-300, 1e300), (f64::NAN, 1.0)] {
        let config = UdpConfig {
            anti_reflection: Some(RateLimit { rate, burst }),
            ..UdpConfig::loopback(0)
        };
        let Err(e) = UdpEchoServer::bind(config).await else {
            panic!("rate {rate}, burst {burst} was accepted");
        };
        assert!(e.is_usage(), "{e}");
    }
}
