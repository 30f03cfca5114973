//! ping, bench and the line client against the real servers on loopback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use netlab_echo::line::line_client;
use netlab_echo::{
    BenchConfig, BenchLimit, BenchMode, EchoError, ImpairmentConfig, PingConfig, PingEvent, Proto,
    TcpConfig, TcpEchoServer, UdpConfig, UdpEchoServer, run_bench, shutdown,
};

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Starts both servers (UDP with `impairment`, no rate limit); returns their addresses.
async fn servers(
    impairment: ImpairmentConfig,
) -> (
    SocketAddr,
    SocketAddr,
    shutdown::ShutdownTrigger,
    Arc<netlab_echo::udp::UdpStats>,
) {
    let tcp = TcpEchoServer::bind(TcpConfig::loopback(0)).await.unwrap();
    let udp = UdpEchoServer::bind(UdpConfig {
        anti_reflection: None,
        impairment,
        ..UdpConfig::loopback(0)
    })
    .await
    .unwrap();
    let (tcp_addr, udp_addr, stats) = (tcp.local_addr(), udp.local_addr(), udp.stats());
    let (trigger, signal) = shutdown::channel();
    tokio::spawn(tcp.run(signal.clone()));
    tokio::spawn(udp.run(signal));
    (tcp_addr, udp_addr, trigger, stats)
}

#[tokio::test]
async fn ping_reports_the_loss_the_server_made() {
    let impairment = ImpairmentConfig {
        drop: 0.25,
        duplicate: 0.1,
        seed: 9,
        ..ImpairmentConfig::default()
    };
    let (_, udp, _trigger, stats) = servers(impairment).await;
    let config = PingConfig {
        count: 200,
        interval: Duration::from_millis(1),
        timeout: Duration::from_millis(500),
        ..PingConfig::new(Proto::Udp, udp)
    };
    let mut timeouts = 0;
    let summary = within(
        "ping",
        netlab_echo::ping(&config, |e| {
            timeouts += matches!(e, PingEvent::Timeout { .. }) as u64
        }),
    )
    .await
    .unwrap();
    let server = stats.summary();
    assert_eq!(summary.sent, 200);
    assert_eq!(server.received, 200);
    assert_eq!(summary.received, 200 - server.dropped);
    assert_eq!(timeouts, server.dropped);
    assert!((summary.loss_percent - server.dropped as f64 / 2.0).abs() < 1e-9);
    assert!(
        (30..=70).contains(&server.dropped),
        "25% of 200: {}",
        server.dropped
    );
    // A duplicate of the very last probe may land after ping has finished.
    assert!(
        summary.duplicates <= server.duplicated && summary.duplicates + 1 >= server.duplicated,
        "{} vs {}",
        summary.duplicates,
        server.duplicated
    );
    let rtt = summary.rtt.expect("replies came");
    assert!(rtt.min_ms <= rtt.p50_ms && rtt.p50_ms <= rtt.p99_ms && rtt.p99_ms <= rtt.max_ms);
}

#[tokio::test]
async fn tcp_ping_times_the_handshake_separately() {
    let (tcp, _, _trigger, _) = servers(ImpairmentConfig::default()).await;
    let config = PingConfig {
        count: 5,
        interval: Duration::from_millis(5),
        ..PingConfig::new(Proto::Tcp, tcp)
    };
    let mut events = Vec::new();
    let summary = within(
        "ping",
        netlab_echo::ping(&config, |e| events.push(e.clone())),
    )
    .await
    .unwrap();
    assert!(matches!(events[0], PingEvent::Connected { .. }));
    let seqs: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            PingEvent::Reply { seq, bytes: 64, .. } => Some(*seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4]);
    assert_eq!((summary.sent, summary.received), (5, 5));
    assert!(summary.connect_ms.is_some_and(|ms| ms > 0.0));
}

#[tokio::test]
async fn ping_to_a_closed_port_says_connection_refused() {
    for proto in [Proto::Tcp, Proto::Udp] {
        // Bind, note the port, close: nothing listens there now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = PingConfig::new(proto, SocketAddr::from(([127, 0, 0, 1], port)));
        let err = within("ping", netlab_echo::ping(&config, |_| {}))
            .await
            .unwrap_err();
        assert!(
            matches!(err, EchoError::ConnectionRefused { .. }),
            "{proto}: {err}"
        );
        assert!(err.to_string().contains("netlab echo serve"), "{err}");
    }
}

#[tokio::test]
async fn bench_counts_exactly_the_messages_asked_for() {
    let (tcp, udp, _trigger, _) = servers(ImpairmentConfig::default()).await;
    let cases = [
        (Proto::Tcp, tcp, BenchMode::PingPong, 1000),
        (
            Proto::Tcp,
            tcp,
            BenchMode::Pipelined { depth: 8 },
            64 * 1024,
        ),
        (Proto::Udp, udp, BenchMode::PingPong, 1000),
        (Proto::Udp, udp, BenchMode::Pipelined { depth: 4 }, 1400),
    ];
    for (proto, target, mode, size) in cases {
        let config = BenchConfig {
            connections: 4,
            size,
            mode,
            limit: BenchLimit::Messages(400),
            ..BenchConfig::new(proto, target)
        };
        let progress = Arc::new(AtomicU64::new(0));
        let report = within("bench", run_bench(&config, progress.clone()))
            .await
            .unwrap();
        assert_eq!(report.messages + report.lost, 400, "{proto} {mode:?}");
        assert_eq!(
            progress.load(std::sync::atomic::Ordering::Relaxed),
            report.messages
        );
        assert!(report.latency.p50_us <= report.latency.p99_us);
        assert!(report.mb_per_sec > 0.0);
    }
}

#[tokio::test]
async fn bench_over_udp_refuses_a_payload_that_cannot_fit() {
    let config = BenchConfig {
        size: 65_508,
        ..BenchConfig::new(Proto::Udp, "127.0.0.1:9".parse().unwrap())
    };
    let err = run_bench(&config, Arc::default()).await.unwrap_err();
    assert!(matches!(err, EchoError::PayloadTooLarge { size: 65_508 }));
}

#[tokio::test]
async fn the_line_client_round_trips_text_over_both_protocols() {
    let (tcp, udp, _trigger, _) = servers(ImpairmentConfig::default()).await;
    for (proto, addr) in [(Proto::Tcp, tcp), (Proto::Udp, udp)] {
        let input: &[u8] = b"hello\nsockets\n";
        let mut output = Vec::new();
        let report = within(
            "line client",
            line_client(proto, addr, input, &mut output, Duration::from_secs(2)),
        )
        .await
        .unwrap();
        assert_eq!(output, b"hello\nsockets\n", "{proto}");
        assert!(report.bytes_received > 0);
    }
}
