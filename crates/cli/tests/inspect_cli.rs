//! `netlab inspect` end to end: the real binary on a committed loopback capture, bad filters,
//! bad files, exit codes, and (with CAP_NET_RAW, as in CI) a live capture.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// 12 packets: curl fetching / from `python3 -m http.server` on 127.0.0.1:18080, captured with
/// `netlab inspect live -w`.
fn fixture() -> PathBuf {
    fixture_named("http-get.pcapng")
}

/// A capture in crates/inspect/tests/fixtures.
fn fixture_named(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../inspect/tests/fixtures")
        .join(name)
}

fn netlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run netlab")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Each line parsed as one JSON value.
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON"))
        .collect()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netlab-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn read_shows_one_line_per_packet_with_the_layer_chain() {
    let f = fixture();
    let o = netlab(&["inspect", "read", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 13, "header + 12 packets:\n{out}");
    assert!(lines[0].starts_with("  No.  Time"), "{out}");
    assert!(
        lines[1].contains("127.0.0.1:48068") && lines[1].contains("[SYN]"),
        "{out}"
    );
    let get = lines.iter().find(|l| l.contains("GET / HTTP/1.1")).unwrap();
    assert!(
        get.contains("L2 Ethernet > L3 IPv4 > L4 TCP > L7 HTTP"),
        "{get}"
    );
}

#[test]
fn ws_fields_are_websocket_fields() {
    let f = fixture_named("http-websocket.pcap");
    let f = f.to_str().unwrap();
    let short = netlab(&["inspect", "read", f, "ws.opcode == 1"]);
    let long = netlab(&["inspect", "read", f, "websocket.opcode == 1"]);
    assert!(short.status.success(), "{}", stderr(&short));
    assert_eq!(stdout(&short), stdout(&long));
    // Header and the two text frames (event frames over WebSocket).
    assert_eq!(stdout(&short).lines().count(), 3, "{}", stdout(&short));
    let typo = netlab(&["inspect", "read", f, "ws.opcod == 1"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        stderr(&typo).contains("unknown field 'ws.opcod'; did you mean 'ws.opcode'?"),
        "{}",
        stderr(&typo)
    );
}

#[test]
fn read_with_a_filter_in_several_words() {
    let f = fixture();
    let o = netlab(&[
        "inspect",
        "read",
        f.to_str().unwrap(),
        "http",
        "and",
        "src",
        "port",
        "18080",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 2, "header + the one response:\n{out}");
    assert!(out.contains("HTTP/1.0 200 OK"), "{out}");
}

#[test]
fn json_is_one_object_per_packet() {
    let f = fixture();
    let o = netlab(&["inspect", "read", f.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_lines(&stdout(&o));
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[0]["number"], 1);
    assert_eq!(rows[0]["protocol"], "TCP");
    assert_eq!(rows[3]["protocol"], "HTTP");
    // The lean default: fields by name, no offsets, labels or notes.
    assert_eq!(rows[3]["layers"][3]["fields"]["http.request.method"], "GET");
    assert_eq!(rows[0]["layers"][2]["fields"]["tcp.flags.syn"], true);
    assert_eq!(rows[0]["stream"], 0);
    assert!(rows[3]["layers"][2].get("notes").is_none());

    // --detail adds them back: the full schema.
    let o = netlab(&["inspect", "read", f.to_str().unwrap(), "--json", "--detail"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_lines(&stdout(&o));
    assert_eq!(rows.len(), 12);
    assert_eq!(
        rows[3]["layers"][3]["fields"][0]["name"],
        "http.request.method"
    );
    assert_eq!(rows[3]["layers"][3]["fields"][0]["offset"], 66);
    assert_eq!(rows[0]["flow"]["stream"], 0);
}

/// The example lines in docs/src/inspect-json.md are the tool's real output for a fixture, so a
/// change to either schema that forgets the page fails here.
#[test]
fn json_doc_examples_are_real_output() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("docs/src/inspect-json.md")).unwrap();
    let f = fixture_named("linktype-ipv6.pcap");
    for extra in [&[][..], &["--detail"][..]] {
        let mut args = vec!["inspect", "read", f.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        let o = netlab(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let line = stdout(&o);
        assert!(
            doc.contains(line.trim_end()),
            "docs/src/inspect-json.md should show the output of netlab {}:\n{line}",
            args.join(" ")
        );
    }
}

#[test]
fn detail_hex_and_stats_views() {
    let f = fixture();
    let f = f.to_str().unwrap();
    let o = netlab(&[
        "inspect",
        "read",
        f,
        "http",
        "--detail",
        "--hex",
        "--highlight",
        "tcp.dstport",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("├─ L3 Network · TCP/IP Internet · IPv4 · bytes 14-33 (20)"),
        "{out}"
    );
    assert!(
        out.contains("^^  tcp.dstport = 18080 at offset 36, 2 bytes"),
        "{out}"
    );
    let o = netlab(&["inspect", "read", f, "--stats"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("12 packets, "), "{out}");
    assert!(
        out.contains("Protocol hierarchy") && out.contains("Bytes per layer"),
        "{out}"
    );
}

#[test]
fn bad_filter_exits_2_with_a_caret_under_the_mistake() {
    let f = fixture();
    let o = netlab(&["inspect", "read", f.to_str().unwrap(), "tcp and prot 80"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("  tcp and prot 80\n          ^ unknown protocol or keyword 'prot'; did you mean 'port'?"),
        "{err}"
    );
    assert!(
        stdout(&o).is_empty(),
        "nothing is read when the filter is bad"
    );
}

#[test]
fn misspelled_field_exits_2_with_a_suggestion_instead_of_matching_nothing() {
    let f = fixture();
    for (filter, expected) in [
        (
            "tcp.prot == 80",
            "error: bad filter (at character 1):\n  tcp.prot == 80\n  ^ unknown field 'tcp.prot'; did you mean 'tcp.port'?",
        ),
        (
            "ip.tll > 60",
            "error: bad filter (at character 1):\n  ip.tll > 60\n  ^ unknown field 'ip.tll'; did you mean 'ip.ttl'?",
        ),
    ] {
        let o = netlab(&["inspect", "read", f.to_str().unwrap(), filter]);
        assert_eq!(o.status.code(), Some(2), "{filter}");
        let err = stderr(&o);
        assert!(err.contains(expected), "{filter}: {err}");
        assert!(stdout(&o).is_empty(), "{filter}: nothing is read");
    }
    // The correctly spelled field still reads the capture.
    let o = netlab(&["inspect", "read", f.to_str().unwrap(), "tcp.port == 18080"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).lines().count(),
        13,
        "header + 12 packets:\n{}",
        stdout(&o)
    );
}

#[test]
fn not_a_capture_file_exits_1_and_says_what_it_found() {
    let p = temp("not-a-capture.txt");
    std::fs::write(&p, "hello, world\n").unwrap();
    let o = netlab(&["inspect", "read", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a pcap or pcapng file: it starts with 68 65 6c 6c"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn truncated_file_shows_what_it_could_then_exits_1_with_the_offset() {
    let bytes = std::fs::read(fixture()).unwrap();
    let p = temp("cut.pcapng");
    std::fs::write(&p, &bytes[..bytes.len() - 50]).unwrap();
    let o = netlab(&["inspect", "read", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o).lines().count(),
        12,
        "header + the 11 whole packets"
    );
    let err = stderr(&o);
    assert!(
        err.contains("read 11 packets, then the file broke"),
        "{err}"
    );
    assert!(
        err.contains("capture file ends early at byte offset"),
        "{err}"
    );
    assert!(err.contains("(block 14)"), "{err}");
}

#[test]
fn missing_file_exits_1() {
    let o = netlab(&["inspect", "read", "/nonexistent/x.pcap"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot open /nonexistent/x.pcap"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        netlab(&["inspect", "read"]).status.code(),
        Some(2),
        "missing FILE"
    );
    assert_eq!(
        netlab(&["inspect", "read", "x", "--time", "weekly"])
            .status
            .code(),
        Some(2)
    );
    let o = netlab(&["inspect", "live", "-i", "netlab-nope0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no interface named \"netlab-nope0\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn interfaces_lists_loopback() {
    let o = netlab(&["inspect", "interfaces"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("up, loopback"), "{}", stdout(&o));
    let o = netlab(&["inspect", "interfaces", "--json"]);
    let lo = json_lines(&stdout(&o))
        .into_iter()
        .find(|v| v["name"] == "lo")
        .expect("lo listed");
    assert_eq!(lo["loopback"], true);
}

/// Without CAP_NET_RAW the error says how to grant it. Root can shed the capability with
/// setpriv (util-linux) to check this in CI too.
#[test]
fn live_without_cap_net_raw_explains_how_to_grant_it() {
    let o = Command::new("setpriv")
        .args(["--inh-caps=-all", "--bounding-set=-net_raw", "--"])
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .args(["inspect", "live", "-c", "1"])
        .output();
    let o = match o {
        Ok(o) if !stderr(&o).contains("setpriv:") => o,
        _ => {
            eprintln!(
                "\n*** SKIPPED: setpriv (util-linux) missing or not allowed to drop capabilities; \
                 the permission error is checked by tests/tests/live_capture.rs when not root ***\n"
            );
            return;
        }
    };
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("needs the CAP_NET_RAW capability"), "{err}");
    assert!(err.contains("sudo setcap cap_net_raw+ep "), "{err}");
    assert!(err.contains("needs no privilege"), "{err}");
}

/// Starts `netlab inspect live ARGS` and waits until it says it is capturing. `None` (after
/// saying so) where the process lacks CAP_NET_RAW: CI runs these as root.
fn start_live(args: &[&str]) -> Option<(Child, BufReader<ChildStderr>)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["inspect", "live"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    // The first line that matters (a log warning could come before it).
    let mut first = String::new();
    while err.read_line(&mut first).unwrap() > 0
        && !first.contains("capturing on")
        && !first.contains("CAP_NET_RAW")
    {
        first.clear();
    }
    if first.contains("CAP_NET_RAW") {
        let _ = child.wait();
        eprintln!("\n*** SKIPPED live CLI capture: no CAP_NET_RAW (CI runs it as root) ***\n");
        return None;
    }
    assert!(first.starts_with("capturing on lo"), "{first}");
    Some((child, err))
}

/// Waits for `child` to exit by itself, at most 10 s.
fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("{what} did not stop by itself");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `netlab inspect live -c 3` on lo: three datagrams sent after the capture is ready are shown
/// once each, and the command exits by itself.
#[test]
fn live_capture_shows_each_datagram_once_then_stops_at_count() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let filter = format!("udp port {port}");
    let Some((mut child, mut err)) = start_live(&["-c", "3", "--json", &filter]) else {
        return;
    };
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..3u8 {
        client.send_to(&[b'x', i], ("127.0.0.1", port)).unwrap();
    }
    let status = wait_exit(&mut child, "netlab inspect live -c 3");
    assert!(status.success());
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 3, "{out}");
    for r in &rows {
        assert_eq!(r["dst"], format!("127.0.0.1:{port}"));
        assert_eq!(r["orig_len"], 14 + 20 + 8 + 2);
    }
    // Numbers count every packet captured on lo (other programs' too), so they only increase.
    let numbers: Vec<u64> = rows.iter().map(|r| r["number"].as_u64().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert!(rest.contains(" packets captured, 3 shown"), "{rest}");
    assert!(rest.contains("0 dropped"), "{rest}");
}

/// `timeout 60 netlab inspect live -w FILE` is how a script or an instructor bounds a capture:
/// SIGTERM must stop it as Ctrl-C does, with every packet shown also in FILE (it used to kill the
/// process before -w was flushed, leaving an empty file).
#[test]
fn live_capture_stopped_by_sigterm_keeps_every_packet_in_the_saved_file() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let filter = format!("udp port {port}");
    let saved = temp("sigterm.pcapng");
    let Some((mut child, mut err)) =
        start_live(&["--json", "-w", saved.to_str().unwrap(), &filter])
    else {
        return;
    };
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..3u8 {
        client.send_to(&[b'x', i], ("127.0.0.1", port)).unwrap();
    }
    // Stop only once all three have been shown: they were accepted, so they must be saved.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..3 {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "stdout ended early");
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill (procps)");
    assert!(kill.success());
    let status = wait_exit(&mut child, "netlab inspect live after SIGTERM");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert!(status.success(), "{status:?}\n{rest}");
    assert!(rest.contains("3 shown, saved to "), "{rest}");
    let o = netlab(&["inspect", "read", "--json", saved.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_lines(&stdout(&o));
    assert_eq!(rows.len(), 3, "{}", stdout(&o));
    for r in &rows {
        assert_eq!(r["dst"], format!("127.0.0.1:{port}"));
    }
}

#[test]
fn follow_shows_both_sides_of_the_stream_in_order() {
    let f = fixture();
    let o = netlab(&["inspect", "follow", f.to_str().unwrap(), "--stream", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "Follow TCP stream 0: 127.0.0.1:48068 (client) ⇄ 127.0.0.1:18080 (server)\n\
         client → server: 79 bytes; server → client: 3670 bytes\n\
         ──── client → server, 79 bytes\nGET / HTTP/1.1\nHost: 127.0.0.1:18080\n"
        ),
        "{out}"
    );
    let request = out.find("GET / HTTP/1.1").unwrap();
    let response = out.find("HTTP/1.0 200 OK").unwrap();
    assert!(request < response, "the request comes before the response");
    assert!(
        out.contains("</html>"),
        "the whole page is reassembled: {out}"
    );

    let o = netlab(&[
        "inspect",
        "follow",
        f.to_str().unwrap(),
        "--stream",
        "0",
        "--json",
    ]);
    let rows = json_lines(&stdout(&o));
    assert_eq!(rows[0]["kind"], "stream");
    assert_eq!(rows[0]["server_bytes"], 3670);
    assert_eq!(rows[1]["from"], "client");

    let o = netlab(&["inspect", "follow", f.to_str().unwrap(), "--stream", "7"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("has no TCP stream 7; it has 1"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn flow_annotations_and_conversations_come_from_the_tracker() {
    let f = fixture();
    let f = f.to_str().unwrap();
    let o = netlab(&["inspect", "read", f, "tcp.stream == 0 and tcp.flags.syn"]);
    let out = stdout(&o);
    assert!(
        out.contains("[SYN, handshake 1/3]") && out.contains("[SYN-ACK, handshake 2/3]"),
        "{out}"
    );
    let o = netlab(&["inspect", "read", f, "--stats", "--json"]);
    let conv = json_lines(&stdout(&o))
        .into_iter()
        .find(|v| v["kind"] == "conversation")
        .expect("a conversation row");
    assert_eq!(conv["a"], "127.0.0.1:48068");
    assert_eq!(conv["a_to_b"]["packets"], 6);
    assert_eq!(conv["state"], "closed");
}

#[test]
fn read_from_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netlab"))
        .args(["inspect", "read", "-", "http"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(fixture()).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, &bytes).unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(
        stdout(&o).lines().count(),
        3,
        "header + 2 HTTP packets: {}",
        stdout(&o)
    );
}

#[test]
fn views_that_cannot_combine_are_usage_errors() {
    let f = fixture();
    let f = f.to_str().unwrap();
    assert_eq!(
        netlab(&["inspect", "read", f, "--json", "--hex"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        netlab(&["inspect", "read", f, "--stats", "--hex"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        netlab(&["inspect", "read", f, "--highlight", "ip.ttl"])
            .status
            .code(),
        Some(2)
    );
}

/// A down interface is an error at once, not a busy loop: in a fresh network namespace (root:
/// `unshare -n`) even `lo` starts down. Nothing on the host's network changes.
#[test]
fn down_interface_is_an_error_not_a_busy_loop() {
    let o = Command::new("unshare")
        .args(["-n", "--"])
        .arg(env!("CARGO_BIN_EXE_netlab"))
        .args(["inspect", "live", "-i", "lo", "-c", "1"])
        .env("NO_COLOR", "1")
        .output();
    let o = match o {
        Ok(o) if !stderr(&o).contains("unshare failed") && !stderr(&o).contains("unshare:") => o,
        _ => {
            eprintln!(
                "\n*** SKIPPED: cannot create a network namespace (needs root and unshare) ***\n"
            );
            return;
        }
    };
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("interface lo is down; bring it up"), "{err}");
    assert!(
        !err.contains("capturing on"),
        "fails before starting: {err}"
    );
}

/// The flow tracker's bounds as a student meets them (docs/src/inspect-dissection.md, "What
/// the tracker forgets"): 1,200 UDP flows, then the first one again 40 s later, past the 30 s a
/// one-way flow is remembered. `--stats` lists 1,000 conversations and adds up the other 201;
/// the late datagram is a new stream and says why.
#[test]
fn forgotten_flows_and_the_other_conversations_row() {
    use netlab_inspect::capfile::{CaptureFormat, CaptureWriter};
    use netlab_inspect::craft::{self, Ipv4, num};
    use netlab_inspect::model::{LinkType, RawPacket, Timestamp};

    let datagram = |secs: i64, port: u16| {
        let (src, dst) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let udp = craft::udp(src.into(), dst.into(), port, 9, b"hello");
        let bytes = Ipv4::new(src, dst, num::IP_UDP).build(&udp);
        RawPacket {
            ts: Timestamp {
                secs: 1_700_000_000 + secs,
                nanos: u32::from(port),
            },
            link_type: LinkType::RAW,
            orig_len: bytes.len() as u32,
            bytes,
        }
    };
    let path = temp("forgotten-flows.pcap");
    let mut w =
        CaptureWriter::new(std::fs::File::create(&path).unwrap(), CaptureFormat::Pcap).unwrap();
    for port in 10_000..11_200 {
        w.write_packet(&datagram(0, port)).unwrap();
    }
    w.write_packet(&datagram(40, 10_000)).unwrap();
    w.finish().unwrap();
    let f = path.to_str().unwrap();

    let o = netlab(&["inspect", "read", f, "udp.stream == 1200"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("[new stream, the tracker forgot UDP stream 0] 10000 → 9"),
        "{}",
        stdout(&o)
    );

    let o = netlab(&["inspect", "read", f, "--stats"]);
    let out = stdout(&o);
    let other = out
        .lines()
        .find(|l| l.contains("other"))
        .unwrap_or_else(|| panic!("an other row:\n{out}"));
    assert!(other.contains("201 more conversations"), "{other}");
    let rows = out
        .lines()
        .filter(|l| l.contains("UDP ") && l.contains("10.0.0.1:"));
    assert_eq!(rows.count(), 1_000);

    let o = netlab(&["inspect", "read", f, "--stats", "--json"]);
    let rows = json_lines(&stdout(&o));
    let listed = rows.iter().filter(|v| v["kind"] == "conversation").count();
    assert_eq!(listed, 1_000);
    let last = rows.last().unwrap();
    assert_eq!(last["kind"], "other_conversations");
    assert_eq!(last["conversations"], 201);
    assert_eq!(last["a_to_b"]["packets"], 201);
}
