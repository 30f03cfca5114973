//! `netlab events` end to end: the real binary, real sockets on loopback. A chat server with
//! `--trace`, a raw TCP client typing frames as `nc` would, `emit --ack`, `listen`, two `chat`
//! clients talking, and usage errors with exit code 2.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::{netlab, read_lines};

const T: Duration = Duration::from_secs(15);

fn run(args: &[&str]) -> Output {
    common::run_with_input(args, b"")
}

/// A long-running `netlab` process whose stdout we read line by line; killed on drop.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// stderr, where connection changes (resumed, reconnecting) are reported.
    progress: mpsc::Receiver<String>,
}

impl Proc {
    fn start(args: &[&str]) -> Proc {
        Proc::spawn(netlab(args))
    }

    fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start netlab");
        let lines = read_lines(child.stdout.take().unwrap());
        let progress = read_lines(child.stderr.take().unwrap());
        Proc {
            child,
            lines,
            progress,
        }
    }

    /// Lines until one satisfies `f` (returned), or panic after T.
    fn until(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + T;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if f(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line {what} within {T:?}"),
            }
        }
    }

    /// stderr lines until one starts with `want` (returned), or panic after T.
    fn progress_until(&self, want: &str) -> String {
        let deadline = Instant::now() + T;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.progress.recv_timeout(left) {
                Ok(l) if l.starts_with(want) => return l,
                Ok(_) => {}
                Err(_) => panic!("no stderr line starting {want:?} within {T:?}"),
            }
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(extra: &[&str]) -> (Proc, SocketAddr) {
    let mut args = vec!["events", "serve", "--port", "0", "--http-port", "0"];
    args.extend_from_slice(extra);
    listening(Proc::start(&args))
}

/// A started `serve` and the TCP address it printed first.
fn listening(p: Proc) -> (Proc, SocketAddr) {
    let first = p.until("listening", |_| true);
    let addr = first
        .strip_prefix("listening on tcp ")
        .unwrap_or_else(|| panic!("first line was {first:?}"))
        .parse()
        .unwrap();
    (p, addr)
}

#[test]
fn trace_shows_frames_and_the_dropped_unhandled_event() {
    let (server, addr) = serve(&["--trace"]);
    let mut nc = TcpStream::connect(addr).unwrap();
    nc.set_read_timeout(Some(T)).unwrap();
    let mut rd = BufReader::new(nc.try_clone().unwrap());
    let mut line = String::new();
    rd.read_line(&mut line).unwrap();
    assert!(line.starts_with("{\"type\":\"hello\""), "{line}");
    nc.write_all(b"{\"type\":\"connect\",\"ns\":\"/chat\",\"auth\":{\"name\":\"nc\"}}\n")
        .unwrap();
    nc.write_all(b"{\"type\":\"event\",\"ns\":\"/chat\",\"name\":\"shout\",\"args\":[1]}\n")
        .unwrap();
    // The reader and the writer trace independently: collect lines, then look at them.
    let mut seen = Vec::new();
    while !(seen.iter().any(|l: &String| l.contains("!!"))
        && seen
            .iter()
            .any(|l| l.contains("-> {\"type\":\"connected\"")))
    {
        seen.push(server.until("more trace", |_| true));
    }
    assert!(
        seen.iter()
            .any(|l| l.contains("<- {\"type\":\"connect\",\"ns\":\"/chat\"")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.contains("<- {\"type\":\"event\",\"ns\":\"/chat\",\"name\":\"shout\"")),
        "{seen:?}"
    );
    let dropped = seen.iter().find(|l| l.contains("!!")).unwrap();
    assert!(
        dropped.ends_with("!! dropped event \"shout\" on /chat: no handler for it"),
        "{dropped}"
    );
}

#[test]
fn emit_with_ack_prints_the_reply_and_listen_prints_events() {
    let (_server, addr) = serve(&[]);
    let a = addr.to_string();
    let listener = Proc::start(&[
        "events",
        "listen",
        "--addr",
        &a,
        "--ns",
        "/chat",
        "--auth",
        "{\"name\":\"lis\"}",
        "--join",
        "lobby",
        "--reliable",
        "--json",
        "--count",
        "2",
    ]);
    listener.until("own join", |l| l.contains("\"joined\""));
    let out = run(&[
        "events",
        "emit",
        "--addr",
        &a,
        "--ns",
        "/chat",
        "--auth",
        "{\"name\":\"em\"}",
        "--ack",
        "--json",
        "join",
        "lobby",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed,
        serde_json::json!({"event":"emitted","ns":"/chat","name":"join","args":["lobby"],"ack":[{"ok":true,"room":"lobby"}]})
    );
    let heard = listener.until("em joined", |l| l.contains("\"em\""));
    let v: serde_json::Value = serde_json::from_str(&heard).unwrap();
    assert_eq!(v["event"], "event");
    assert_eq!(v["name"], "joined");
    assert_eq!(v["seq"], 2);
}

#[test]
fn two_chat_clients_talk() {
    let (_server, addr) = serve(&[]);
    let a = addr.to_string();
    let mut ada = Proc::start(&[
        "events", "chat", "--addr", &a, "--name", "ada", "--room", "lobby",
    ]);
    ada.until("ada joined", |l| l == "[lobby] * ada joined");
    let mut bob = Proc::start(&[
        "events", "chat", "--addr", &a, "--name", "bob", "--room", "lobby",
    ]);
    ada.until("bob joined", |l| l == "[lobby] * bob joined");
    bob.until("bob's own join", |l| l == "[lobby] * bob joined");
    ada.type_line("hello bob");
    bob.until("ada's message", |l| l == "[lobby] ada: hello bob");
    bob.type_line("hi ada");
    ada.until("bob's reply", |l| l == "[lobby] bob: hi ada");
    bob.type_line("/quit");
    ada.until("bob left", |l| l == "[lobby] * bob left");
}

#[test]
fn usage_errors_exit_2_and_refused_connections_exit_1() {
    let out = run(&["events", "emit", "x", "--ns", "chat"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must start with '/'"));
    let out = run(&["events", "emit", "x", "--auth", "{nope"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["events", "serve", "--port", "0", "--max-connections", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-connections"));
    // Nothing listens on this port (we bind and drop to find a free one).
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = run(&[
        "events",
        "emit",
        "x",
        "--addr",
        &free.to_string(),
        "--timeout",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `netlab events serve` running"));
}

fn signal(p: &Proc, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &p.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(ok.success());
}

/// The "done when" of issue 4: a listener that drops out (stopped, so the server's heartbeat gives
/// up on it) and comes back gets every reliable event it missed, exactly once.
#[test]
fn a_listener_that_drops_and_comes_back_gets_every_missed_message() {
    let (server, addr) = serve(&["--ping-interval", "200", "--ping-timeout", "200", "--trace"]);
    let a = addr.to_string();
    let listener = Proc::start(&[
        "events",
        "listen",
        "--addr",
        &a,
        "--ns",
        "/chat",
        "--auth",
        "{\"name\":\"lis\"}",
        "--join",
        "lobby",
        "--reliable",
    ]);
    listener.until("own join", |l| l.contains("joined") && l.contains("lis"));
    let mut ada = Proc::start(&[
        "events", "chat", "--addr", &a, "--name", "ada", "--room", "lobby",
    ]);
    listener.until("ada joined", |l| l.contains("joined") && l.contains("ada"));
    signal(&listener, "-STOP");
    // The server's heartbeat gives up on the stopped listener; only then does ada talk, so every
    // message below reaches the listener through the reliable log and the resume, not a buffer.
    server.until("the listener's connection closed", |l| {
        l.ends_with("closed: ping timeout")
    });
    for i in 1..=3 {
        ada.type_line(&format!("missed {i}"));
    }
    ada.until("ada's last message", |l| l == "[lobby] ada: missed 3");
    signal(&listener, "-CONT");
    let mut got = Vec::new();
    while got.len() < 3 {
        let l = listener.until("a missed message", |l| l.contains("missed"));
        got.push(l);
    }
    for (i, l) in got.iter().enumerate() {
        assert!(l.contains(&format!("\"missed {}\"", i + 1)), "{got:?}");
        assert!(l.starts_with('#'), "reliable events show their seq: {l}");
    }
    let mut progress = Vec::new();
    while !progress.iter().any(|l: &String| l.contains("resumed")) {
        match listener.progress.recv_timeout(T) {
            Ok(l) => progress.push(l),
            Err(_) => panic!("the listener never said it resumed its session: {progress:?}"),
        }
    }
    ada.type_line("after");
    let next = listener.until("the next live message", |l| l.contains("text"));
    assert!(
        next.contains("\"after\""),
        "no duplicate replay before live traffic: {next}"
    );
}

/// A SIGTERM sent the moment the listening line appears stops the server gracefully (its summary
/// table is printed and it exits 0), because the handlers are installed before that line.
#[test]
fn sigterm_right_after_listening_stops_gracefully() {
    let (mut p, _addr) = serve(&[]);
    signal(&p, "-TERM");
    p.until("the summary table", |l| l.contains("events nobody handled"));
    let deadline = Instant::now() + T;
    let status = loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "server still running {T:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "exit status {status}");
}

/// A store file that is damaged (here: not a store at all) is refused at start with what is
/// wrong and how to move it aside; the file is left as it was.
#[test]
fn serve_refuses_a_damaged_store_and_says_how_to_move_it_aside() {
    let path = std::env::temp_dir().join(format!("netlab-cli-damaged-{}.redb", std::process::id()));
    std::fs::write(&path, b"not a store\n".repeat(100)).unwrap();
    let p = path.display().to_string();
    let out = run(&["events", "serve", "--port", "0", "--store", &p]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("store {p} cannot be used: ")),
        "{err}"
    );
    assert!(
        err.contains(&format!("Move it aside (mv {p} {p}.damaged)")),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"not a store\n".repeat(100));
    std::fs::remove_file(&path).unwrap();
}

/// An empty file becomes a new store, and the server says so instead of starting silently.
#[test]
fn serve_says_when_the_store_file_was_empty() {
    let path = std::env::temp_dir().join(format!("netlab-cli-empty-{}.redb", std::process::id()));
    std::fs::write(&path, b"").unwrap();
    let p = path.display().to_string();
    let (server, _addr) = serve(&["--store", &p]);
    let note = server.progress.recv_timeout(T).expect("a note on stderr");
    assert_eq!(
        note,
        format!(
            "store {p}: the file was empty (0 bytes), so this is a new store with nothing to restore"
        )
    );
    drop(server);
    std::fs::remove_file(&path).unwrap();
}

/// `netlab` arguments: `events serve` on free ports with the store file `p`.
fn serve_with_store(p: &str) -> [&str; 8] {
    [
        "events",
        "serve",
        "--port",
        "0",
        "--http-port",
        "0",
        "--store",
        p,
    ]
}

/// A client speaking the protocol line by line over a plain socket, with a timeout on each read.
struct Lines {
    rd: BufReader<TcpStream>,
    wr: TcpStream,
}

impl Lines {
    fn connect(addr: SocketAddr) -> Lines {
        let wr = TcpStream::connect(addr).unwrap();
        wr.set_read_timeout(Some(T)).unwrap();
        let mut c = Lines {
            rd: BufReader::new(wr.try_clone().unwrap()),
            wr,
        };
        assert_eq!(c.recv()["type"], "hello");
        c
    }

    fn send(&mut self, frame: serde_json::Value) {
        writeln!(self.wr, "{frame}").unwrap();
    }

    fn recv(&mut self) -> serde_json::Value {
        let mut line = String::new();
        let n = self.rd.read_line(&mut line).expect("a line within T");
        assert!(n > 0, "the server closed the connection");
        serde_json::from_str(&line).unwrap()
    }

    /// Frames until one of type `kind` (returned).
    fn recv_type(&mut self, kind: &str) -> serde_json::Value {
        loop {
            let f = self.recv();
            if f["type"] == kind {
                return f;
            }
        }
    }

    /// Connect to /chat as `name`, optionally resuming; the `connected` frame.
    fn chat(addr: SocketAddr, name: &str, resume: Option<&str>) -> (Lines, serde_json::Value) {
        let mut c = Lines::connect(addr);
        let mut connect =
            serde_json::json!({"type": "connect", "ns": "/chat", "auth": {"name": name}});
        if let Some(token) = resume {
            connect["resume"] = serde_json::json!({"session": token, "seq": 0});
        }
        c.send(connect);
        let connected = c.recv_type("connected");
        (c, connected)
    }
}

/// Issue 18, item 8, on a really full disk: the server runs with a file size limit
/// (RLIMIT_FSIZE, set by `prlimit`, with SIGXFSZ ignored so that a write past it fails with
/// EFBIG as on a full disk instead of killing the process). Ada chats until the store refuses a
/// write; bob is away, so every message is kept for him. The server must stop with
/// `store_failed` and exit 1 saying why; started again on the same file, it must replay to bob
/// every message ada got `ok` for, with `recovered: true`, and none she did not.
#[test]
fn a_full_disk_stops_the_server_and_every_acknowledged_message_survives() {
    let path = std::env::temp_dir().join(format!("netlab-cli-full-{}.redb", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let p = path.display().to_string();
    // A new store is 73,728 bytes; this leaves room for a few dozen 2 KB messages.
    let mut limited = Command::new("sh");
    limited
        .args([
            "-c",
            r#"trap '' XFSZ; exec prlimit --fsize=300000 "$@""#,
            "sh",
        ])
        .arg(common::BIN)
        .args(serve_with_store(&p))
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    let (mut server, addr) = listening(Proc::spawn(limited));

    let (mut bob, connected) = Lines::chat(addr, "bob", None);
    let token = connected["session"].as_str().unwrap().to_string();
    bob.send(serde_json::json!({"type": "event", "ns": "/chat", "name": "join", "args": ["r"], "ack": 1}));
    bob.recv_type("ack");
    drop(bob);
    let (mut ada, _) = Lines::chat(addr, "ada", None);
    ada.send(serde_json::json!({"type": "event", "ns": "/chat", "name": "join", "args": ["r"], "ack": 1}));
    ada.recv_type("ack");

    let mut acked = Vec::new();
    let refused = 'fill: {
        for id in 2..500 {
            let text = format!("m{id} {}", "x".repeat(2000));
            ada.send(serde_json::json!({"type": "event", "ns": "/chat", "name": "message", "args": ["r", text], "ack": id}));
            loop {
                let f = ada.recv();
                match f["type"].as_str() {
                    Some("ack") => {
                        assert_eq!(f["id"], id);
                        assert_eq!(f["args"][0]["ok"], true, "{f}");
                        acked.push(format!("m{id}"));
                        break;
                    }
                    Some("error") => break 'fill (id, f),
                    _ => {}
                }
            }
        }
        panic!("the store never filled up: is the file size limit in force?");
    };
    let (lost_id, error) = refused;
    assert_eq!(error["code"], "store_failed", "{error}");
    assert!(acked.len() >= 5, "only {} messages fit", acked.len());

    // The server says why on stderr, and exits 1.
    let deadline = Instant::now() + T;
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(1));
    let why = server.progress_until("error: the server stopped");
    assert!(why.contains("File too large"), "{why}");
    assert!(
        why.contains("no client was sent an event that is not on disk"),
        "{why}"
    );

    // Back on the same file, without the limit: bob gets every acknowledged message.
    let (restarted, addr) = serve(&["--store", &p]);
    let (mut bob, connected) = Lines::chat(addr, "bob", Some(&token));
    assert_eq!(connected["recovered"], true, "{connected}");
    let mut replayed = Vec::new();
    bob.send(serde_json::json!({"type": "ping"}));
    loop {
        let f = bob.recv();
        match f["type"].as_str() {
            Some("pong") => break,
            Some("event") if f["name"] == "message" => {
                let text = f["args"][0]["text"].as_str().unwrap();
                replayed.push(text.split(' ').next().unwrap().to_string());
            }
            _ => {}
        }
    }
    assert_eq!(replayed, acked, "every acknowledged message, in order");
    assert!(!replayed.contains(&format!("m{lost_id}")));
    drop(restarted);
    std::fs::remove_file(&path).unwrap();
}

/// redb panics on some damaged files (it trusts its pages: an index out of range, an unwrap of
/// `None`); the store catches that and refuses the file. Before, redb's own panic message
/// ("thread 'main' panicked at .../redb-5.0.0/src/...") reached stderr ahead of netlab's error, so
/// a case that is handled looked like a crash.
#[test]
fn a_store_that_makes_redb_panic_is_refused_without_a_panic_message() {
    use netlab_events::core::{LogRecord, SessionRecord, StoreOp};
    use netlab_events::store::{RedbStore, Store};

    let path = std::env::temp_dir().join(format!("netlab-cli-panic-{}.redb", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let p = path.display().to_string();
    let mut ops = vec![StoreOp::PutSession(SessionRecord {
        token: "a".into(),
        sid: "sid".into(),
        ns: "/chat".into(),
        rooms: ["sid".to_string()].into_iter().collect(),
        data: serde_json::Map::new(),
        next_seq: 3,
        confirmed: 0,
        lost_through: 0,
        client_seq: 0,
    })];
    for seq in 1..=3 {
        ops.push(StoreOp::Append {
            token: "a".into(),
            entry: LogRecord {
                seq,
                name: "m".into(),
                args: vec![serde_json::json!(format!("hello {seq}"))],
            },
        });
    }
    RedbStore::open(&path).unwrap().apply(&ops).unwrap();
    let full = std::fs::read(&path).unwrap();
    // redb 5 panics on many single-bit flips in the page after its header (byte 4096 on); find
    // one, checking here as the server would (open, then load).
    let panics = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        RedbStore::open(&path)
            .and_then(|mut s| s.load())
            .is_err_and(|e| e.to_string().contains("redb failed reading it ("))
    };
    let damaged = (4096 * 8..4160 * 8)
        .map(|bit| {
            let mut bytes = full.clone();
            bytes[bit / 8] ^= 1 << (bit % 8);
            bytes
        })
        .find(|bytes| panics(bytes))
        .expect("a bit flip that makes redb panic (if redb changed, look elsewhere in the file)");
    std::fs::write(&path, &damaged).unwrap();

    let out = run(&serve_with_store(&p));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "store {p} cannot be used: redb failed reading it ("
        )),
        "{err}"
    );
    assert!(
        !err.contains("panicked"),
        "a panic message reached stderr:\n{err}"
    );
    std::fs::remove_file(&path).unwrap();
}

/// Another user's name and text reach `netlab events chat` with their escape sequences shown,
/// not run: typed as JSON by a raw client, as an attacker would.
#[test]
fn chat_shows_escape_sequences_instead_of_running_them() {
    let (_server, addr) = serve(&[]);
    let a = addr.to_string();
    let ada = Proc::start(&[
        "events", "chat", "--addr", &a, "--name", "ada", "--room", "lobby",
    ]);
    ada.until("ada joined", |l| l == "[lobby] * ada joined");
    let mut eve = TcpStream::connect(addr).unwrap();
    let frames = concat!(
        r#"{"type":"connect","ns":"/chat","auth":{"name":"eve\u001b[2J"}}"#,
        "\n",
        r#"{"type":"event","ns":"/chat","name":"join","args":["lobby"]}"#,
        "\n",
        r#"{"type":"event","ns":"/chat","name":"message","args":["lobby","\u001b]0;pwned\u0007\r[lobby] bob: hi"]}"#,
        "\n",
    );
    eve.write_all(frames.as_bytes()).unwrap();
    let line = ada.until("eve's message", |l| l.contains("pwned"));
    assert_eq!(
        line,
        r"[lobby] eve\u001b[2J: \u001b]0;pwned\u0007\u000d[lobby] bob: hi"
    );
}

/// Issue 18, item 3: a chat line that fits the limit but not once the server wraps it with the
/// name and room, and one over the limit outright. Before, the first went nowhere without a
/// word (chat asks for no ack) and the second ended the chat with an error. Now each gets a
/// `* not sent` line saying why, and the chat carries on.
#[test]
fn chat_says_when_a_message_is_too_long_and_carries_on() {
    let (_server, addr) = serve(&[]);
    let a = addr.to_string();
    let mut ada = Proc::start(&[
        "events", "chat", "--addr", &a, "--name", "ada", "--room", "lobby",
    ]);
    ada.until("ada joined", |l| l == "[lobby] * ada joined");
    // The longest text the client itself lets through (its frame, with the largest seq and ack
    // id, is exactly 1 MiB); the server's broadcast of it would be longer.
    let empty = r#"{"type":"event","ns":"/chat","name":"message","args":["lobby",""],"seq":18446744073709551615}"#;
    let fits = (1 << 20) - empty.len() - r#","ack":18446744073709551615"#.len();
    ada.type_line(&"w".repeat(fits));
    let refused = ada.progress_until("* not sent");
    assert!(
        refused.starts_with(r#"* not sent (too_large): your "message" event was not carried out: the event would be "#)
            && refused.ends_with("over the limit of 1048576 (max_frame_bytes) that every client enforces; send less"),
        "{refused}"
    );
    ada.type_line(&"w".repeat(fits + 1));
    let too_long = ada.progress_until("* not sent");
    assert_eq!(
        too_long,
        "* not sent: the event would be 1048577 bytes on the wire, over the server's limit of 1048576 bytes (max_frame_bytes); send less"
    );
    ada.type_line("still here");
    ada.until("the next message", |l| l == "[lobby] ada: still here");
}

/// A GET over a plain socket: the status line and the body.
fn http_get(addr: &str, path: &str) -> (String, String) {
    http_request(addr, "GET", path, "")
}

/// `serve` starts TCP and HTTP together, each with its listening line; --no-http and --no-tcp
/// leave one out; --json says the same as objects.
#[test]
fn serve_listens_on_tcp_and_http_and_says_where() {
    let (p, _tcp) = serve(&[]);
    let http = p.until("the http line", |_| true);
    let http = http
        .strip_prefix("listening on http 127.0.0.1:")
        .unwrap_or_else(|| panic!("second line was {http:?}"));
    let (status, body) = http_get(&format!("127.0.0.1:{http}"), "/");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("<title>"), "{body}");

    let only_tcp = Proc::start(&["events", "serve", "--port", "0", "--no-http", "--json"]);
    let line = only_tcp.until("listening", |_| true);
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (v["event"].as_str(), v["proto"].as_str()),
        (Some("listening"), Some("tcp"))
    );

    let only_http = Proc::start(&["events", "serve", "--http-port", "0", "--no-tcp", "--json"]);
    let line = only_http.until("listening", |_| true);
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (v["event"].as_str(), v["proto"].as_str()),
        (Some("listening"), Some("http"))
    );
    let addr = v["addr"].as_str().unwrap();
    let (status, _) = http_get(addr, "/api/rooms/lobby/messages?after=0");
    assert_eq!(status, "HTTP/1.1 200 OK");

    // A taken HTTP port is a runtime error that names the flag to change.
    let out = run(&[
        "events",
        "serve",
        "--port",
        "0",
        "--http-port",
        addr.rsplit(':').next().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--http-port"), "{err}");
}

/// One HTTP request over a plain socket: the status line and the body.
fn http_request(addr: &str, method: &str, path: &str, body: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut s, &mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// The conformance app with the exact flags of issue 12, spoken to in raw Engine.IO polling.
#[test]
fn the_conformance_app_serves_socketio_with_the_given_timers() {
    let (p, _tcp) = serve(&[
        "--app",
        "conformance",
        "--ping-interval",
        "300ms",
        "--ping-timeout",
        "200ms",
        "--connect-timeout",
        "1s",
        "--max-payload",
        "1000000",
    ]);
    let http = p.until("the http line", |_| true);
    let addr = http
        .strip_prefix("listening on http ")
        .unwrap_or_else(|| panic!("second line was {http:?}"))
        .to_string();
    let (status, open) = http_request(&addr, "GET", "/socket.io/?EIO=4&transport=polling", "");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        open.ends_with(r#","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#),
        "{open}"
    );
    let sid = &open[9..29];
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let (status, ok) = http_request(&addr, "POST", &path, r#"40{"token":"abc"}"#);
    assert_eq!((status.as_str(), ok.as_str()), ("HTTP/1.1 200 OK", "ok"));
    let (_, body) = http_request(&addr, "GET", &path, "");
    let packets: Vec<&str> = body.split('\x1e').collect();
    assert!(packets[0].starts_with("40{\"pid\":"), "{body:?}");
    assert_eq!(packets[1], r#"42["auth",{"token":"abc"}]"#, "{body:?}");
    // The chat is not part of this app.
    let (_, refused) = http_request(&addr, "POST", &path, "40/chat,");
    assert_eq!(refused, "ok");
    let (_, body) = http_request(&addr, "GET", &path, "");
    assert_eq!(body, r#"44/chat,{"message":"Invalid namespace"}"#);
}
