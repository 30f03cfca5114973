//! Issue 18, item 7: out of file descriptors, the accept loop backs off instead of spinning,
//! and serves the connections that waited once others close.
//!
//! The server runs in a child process (this test binary again, told so by an environment
//! variable) whose descriptor limit is lowered to 64, so that running out affects neither this
//! process nor the other tests. Its connection limit is set far above that on purpose: the point
//! is what happens when descriptors, not the limit, run out first.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netlab_events::core::{Config, Core};
use netlab_events::limits::Limits;
use netlab_events::server::{Server, ServerOptions};

const CHILD: &str = "NETLAB_EVENTS_EMFILE_CHILD";
const FD_LIMIT: u64 = 64;
const T: Duration = Duration::from_secs(10);

#[test]
fn accept_backs_off_at_descriptor_exhaustion_and_recovers() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "accept_backs_off_at_descriptor_exhaustion_and_recovers",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let addr: SocketAddr = loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the child ended early"
        );
        if let Some(a) = line.trim().strip_prefix("listening ") {
            break a.parse().unwrap();
        }
    };

    // Open connections until one gets no hello: the server is out of descriptors. (Connecting
    // still works: the kernel completes handshakes into the listen backlog.)
    let mut served = Vec::new();
    let waiting = loop {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        match read_line(&mut c) {
            Some(line) => {
                assert!(line.contains("\"hello\""), "{line}");
                served.push(c);
            }
            None => break c,
        }
        assert!(
            served.len() < FD_LIMIT as usize,
            "descriptors never ran out"
        );
    };
    assert!(served.len() > 10, "only {} served", served.len());

    // Stay out of descriptors for a second: the server must wait, not retry at full speed.
    std::thread::sleep(Duration::from_secs(1));
    // Free a few: the connection that waited in the backlog is accepted and greeted.
    served.truncate(served.len() - 5);
    let mut waiting = waiting;
    waiting.set_read_timeout(Some(T)).unwrap();
    let started = Instant::now();
    let hello = read_line(&mut waiting).expect("no hello after descriptors were freed");
    assert!(hello.contains("\"hello\""), "{hello}");
    assert!(started.elapsed() < T);
    // And it is served like anyone else.
    waiting.write_all(b"{\"type\":\"ping\"}\n").unwrap();
    assert!(read_line(&mut waiting).unwrap().contains("pong"));

    drop(child.stdin.take());
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{rest}");
    let failures: u64 = rest
        .lines()
        .find_map(|l| l.strip_prefix("accept_failures "))
        .unwrap_or_else(|| panic!("no count in {rest:?}"))
        .trim()
        .parse()
        .unwrap();
    eprintln!("accept failed {failures} times while out of descriptors");
    // About 1.5 s out of descriptors: a spinning loop fails thousands of times, a fixed 50 ms
    // pause about 30 times; backing off from 10 ms to 1 s, about 10.
    assert!(
        (1..=25).contains(&failures),
        "accept failed {failures} times while out of descriptors"
    );
}

/// One line (without its newline), or `None` on timeout or close.
fn read_line(c: &mut TcpStream) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match c.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => return String::from_utf8(line).ok(),
            Ok(1) => line.push(byte[0]),
            _ => return None,
        }
    }
}

/// The child: a server with few descriptors; prints its address, serves until stdin closes,
/// then prints how often `accept` failed.
fn child() {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    rlimit::setrlimit(rlimit::Resource::NOFILE, FD_LIMIT, hard).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let opts = ServerOptions {
            limits: Limits {
                max_connections: 10_000,
                max_per_peer: 10_000,
            },
            ..ServerOptions::default()
        };
        let server = Server::bind(
            "127.0.0.1:0".parse().unwrap(),
            Core::new(Config::default()),
            opts,
        )
        .await
        .unwrap();
        println!("listening {}", server.local_addr());
        std::io::stdout().flush().unwrap();
        // Wait for the parent to close stdin (a blocking read, off the runtime's thread).
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await
        .unwrap();
        println!("accept_failures {}", server.accept_failures());
        server.shutdown().await;
    });
}
