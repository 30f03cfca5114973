//! The worst case of issue 18, item 4, measured: one sender of near-1 MiB reliable messages to a
//! room whose other members are all away, so every message is copied into every absent
//! member's log. Reports the server's peak memory (VmHWM) and what its byte gauges hold, with
//! the byte bounds on (the defaults) and off (the count bound alone, as before).
//!
//! Run: `cargo bench -p netlab-events --bench flood`. The server runs in a child process (this
//! binary again, told by an environment variable), so its memory is its own; the sender and the
//! members are plain blocking sockets in the parent. Loopback only; bounded in size and time.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netlab_events::codec::DEFAULT_MAX_FRAME_BYTES;
use netlab_events::core::{Config, Core};
use netlab_events::server::{Server, ServerOptions};

const CHILD: &str = "NETLAB_EVENTS_FLOOD_CHILD";
/// "bounded" (the defaults) or "unbounded" (byte bounds lifted).
const MODE: &str = "NETLAB_EVENTS_FLOOD_MODE";

fn main() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    println!(
        "| byte bounds | absent members | messages | message | logs held (gauge) | server peak RSS | time |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    // Unbounded, the logs grow by members x messages x 1 MiB: keep that run small.
    run("off (count bound only, as before)", "unbounded", 10, 40);
    run("on (defaults)", "bounded", 10, 40);
    run("on (defaults)", "bounded", 100, 60);
}

fn run(label: &str, mode: &str, members: usize, messages: usize) {
    let started = Instant::now();
    let mut server = spawn(mode);
    let addr = read_addr(&mut server);
    // The members join the room, then go away: their sessions wait (and log) for a resume.
    for i in 0..members {
        let mut m = Line::connect(addr, &format!("m{i}"));
        m.send(r#"{"type":"event","ns":"/chat","name":"join","args":["r"],"ack":1}"#);
        m.until("\"ack\"");
    }
    let mut sender = Line::connect(addr, "flood");
    sender.send(r#"{"type":"event","ns":"/chat","name":"join","args":["r"],"ack":1}"#);
    sender.until("\"ack\"");
    // A text that, wrapped as {"name","room","text"} in a reliable event, still fits the limit.
    let text = "f".repeat(DEFAULT_MAX_FRAME_BYTES - 200);
    let size = text.len();
    for i in 0..messages {
        let id = i + 2;
        sender.send(&format!(
            r#"{{"type":"event","ns":"/chat","name":"message","args":["r","{text}"],"ack":{id}}}"#
        ));
        let ack = sender.until(&format!("\"id\":{id}"));
        assert!(
            ack.contains("\"ok\":true"),
            "{}",
            &ack[..ack.len().min(300)]
        );
        // Confirm what came back (its seq is the ack id: `joined` was 1), so the sender's own
        // log is not part of the figure.
        sender.send(&format!(r#"{{"type":"received","ns":"/chat","seq":{id}}}"#));
    }
    let (rss_peak, logs) = report(&mut server);
    println!(
        "| {label} | {members} | {messages} | {:.2} MiB | {:.1} MiB | {:.1} MiB | {:.1} s |",
        size as f64 / 1048576.0,
        logs as f64 / 1048576.0,
        rss_peak as f64 / 1024.0,
        started.elapsed().as_secs_f64()
    );
}

fn spawn(mode: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env(CHILD, "1")
        .env(MODE, mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

fn read_addr(child: &mut Child) -> SocketAddr {
    let mut line = String::new();
    let out = child.stdout.as_mut().unwrap();
    let mut rd = BufReader::new(out);
    rd.read_line(&mut line).unwrap();
    line.trim().parse().unwrap()
}

/// Ask the child for its figures: (peak RSS in KiB, bytes held in logs).
fn report(child: &mut Child) -> (u64, u64) {
    drop(child.stdin.take());
    let mut rd = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    rd.read_line(&mut line).unwrap();
    child.wait().unwrap();
    let mut it = line.split_whitespace().map(|w| w.parse::<u64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

/// A blocking line client that has connected to /chat.
struct Line {
    rd: BufReader<TcpStream>,
    wr: TcpStream,
}

impl Line {
    fn connect(addr: SocketAddr, name: &str) -> Line {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut l = Line {
            rd: BufReader::new(s.try_clone().unwrap()),
            wr: s,
        };
        l.until("\"hello\"");
        l.send(&format!(
            r#"{{"type":"connect","ns":"/chat","auth":{{"name":"{name}"}}}}"#
        ));
        l.until("\"connected\"");
        l
    }

    fn send(&mut self, line: &str) {
        self.wr.write_all(line.as_bytes()).unwrap();
        self.wr.write_all(b"\n").unwrap();
    }

    /// Read lines until one contains `what`; returns it.
    fn until(&mut self, what: &str) -> String {
        loop {
            let mut line = String::new();
            assert!(self.rd.read_line(&mut line).unwrap() > 0, "server closed");
            if line.contains(what) {
                return line;
            }
        }
    }
}

/// The child: the chat server; prints its address, serves until stdin closes, then prints
/// "peak_rss_kib log_bytes".
fn child() {
    let mut config = Config::default();
    if std::env::var(MODE).as_deref() == Ok("unbounded") {
        config.log_max_bytes = usize::MAX;
        config.total_log_bytes = usize::MAX;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut core = Core::new(config);
        netlab_events::chat::install(&mut core);
        let server = Server::bind(
            "127.0.0.1:0".parse().unwrap(),
            core,
            ServerOptions::default(),
        )
        .await
        .unwrap();
        println!("{}", server.local_addr());
        std::io::stdout().flush().unwrap();
        tokio::task::spawn_blocking(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        })
        .await
        .unwrap();
        let (_, logs) = server.handle().with(|c, _| c.held_bytes());
        println!("{} {logs}", peak_rss_kib());
    });
}

/// VmHWM from /proc/self/status: the most resident memory this process ever had.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
