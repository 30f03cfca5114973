//! The TCP server when file descriptors run out. A test binary of its own: it lowers this
//! process's RLIMIT_NOFILE, which would disturb any test running beside it.
//!
//! With a connection waiting in the listen queue and no descriptor left, `accept` fails at once,
//! every time. The server used to retry with no pause (a core at 100 % and millions of
//! warnings); now it pauses between tries, and serves the waiting client once descriptors are
//! free again.

use std::fs::File;
use std::time::Duration;

use netlab_echo::tcp::{ACCEPT_BACKOFF, default_max_connections};
use netlab_echo::{TcpConfig, TcpEchoServer, shutdown};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "current_thread")]
async fn out_of_descriptors_the_accept_loop_backs_off_and_recovers() {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    rlimit::setrlimit(rlimit::Resource::NOFILE, 256, hard).unwrap();
    // The default limit leaves room under the descriptor limit (256 - 64 reserved).
    assert_eq!(default_max_connections(), 192);
    assert_eq!(TcpConfig::loopback(0).max_connections, 192);

    let config = TcpConfig {
        // Above the descriptor limit on purpose: descriptors must run out first.
        max_connections: 10_000,
        ..TcpConfig::loopback(0)
    };
    let server = TcpEchoServer::bind(config).await.unwrap();
    let (addr, stats) = (server.local_addr(), server.stats());
    let (trigger, signal) = shutdown::channel();
    let running = tokio::spawn(server.run(signal));

    // Take every descriptor left but one, and use that one for a client: the kernel completes
    // its handshake, but the server has no descriptor to accept it with.
    let mut hog = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        hog.push(f);
    }
    drop(hog.pop());
    let mut client = tokio::time::timeout(T, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("the kernel completes the handshake");

    // Let the server fail for a while: 500 ms of failing is at most 6 tries with the back-off,
    // and was hundreds of thousands without it.
    let window = ACCEPT_BACKOFF * 5;
    tokio::time::sleep(window).await;
    let failed = stats.errors.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        (1..=7).contains(&failed),
        "{failed} failed accepts in {window:?}"
    );

    // Descriptors come back: the waiting client is accepted and echoed.
    drop(hog);
    tokio::time::timeout(T, async {
        client.write_all(b"still there?").await.unwrap();
        let mut buf = [0u8; 12];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still there?");
    })
    .await
    .expect("echo after recovery");
    drop(client);
    trigger.fire();
    let summary = tokio::time::timeout(T, running).await.unwrap().unwrap();
    assert_eq!(summary.connections, 1);
}
