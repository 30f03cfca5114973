//! Cross-check against Wireshark: for every capture in tests/fixtures/, the values of a list of
//! fields as `tshark -n -T fields` prints them must equal ours, packet by packet, occurrence by
//! occurrence (an ICMP error's quoted header gives a second `ip.src`, in both tools).
//!
//! Runs whenever `tshark` is on PATH (CI installs it in .ci/run); elsewhere it prints a loud
//! SKIPPED line. To check another capture, e.g. one just made on lo:
//!
//! ```text
//! NETLAB_CROSSCHECK=/tmp/lo.pcapng cargo test -p netlab-inspect --test tshark_crosscheck -- --nocapture
//! ```
//!
//! Every difference that is expected is listed in [`KNOWN_DIFFERENCES`] with the reason; any
//! other difference fails the test with a table of field, packet, tshark's value and ours.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/files.rs"]
mod files;

use netlab_inspect::capfile::CaptureReader;
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::model::{Dissection, Value};

/// The fields compared: Wireshark's names, which are ours too.
const FIELDS: &[&str] = &[
    "eth.dst",
    "eth.src",
    "eth.type",
    "eth.padding",
    "vlan.priority",
    "vlan.dei",
    "vlan.id",
    "vlan.etype",
    "arp.opcode",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "arp.dst.proto_ipv4",
    "sll.pkttype",
    "sll.hatype",
    "sll.halen",
    "sll.src.eth",
    "sll.etype",
    "sll.ifindex",
    "null.family",
    "ip.version",
    "ip.hdr_len",
    "ip.dsfield",
    "ip.len",
    "ip.id",
    "ip.flags",
    "ip.flags.df",
    "ip.flags.mf",
    "ip.frag_offset",
    "ip.ttl",
    "ip.proto",
    "ip.checksum",
    "ip.src",
    "ip.dst",
    "ip.opt.type",
    "ipv6.version",
    "ipv6.tclass",
    "ipv6.flow",
    "ipv6.plen",
    "ipv6.nxt",
    "ipv6.hlim",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hopopts.nxt",
    "ipv6.dstopts.nxt",
    "ipv6.fraghdr.nxt",
    "ipv6.fraghdr.offset",
    "ipv6.fraghdr.more",
    "ipv6.fraghdr.ident",
    "icmp.type",
    "icmp.code",
    "icmp.checksum",
    "icmp.ident",
    "icmp.seq",
    "icmpv6.type",
    "icmpv6.code",
    "icmpv6.checksum",
    "icmpv6.echo.identifier",
    "icmpv6.echo.sequence_number",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.stream",
    "tcp.seq",
    "tcp.seq_raw",
    "tcp.ack",
    "tcp.ack_raw",
    "tcp.hdr_len",
    "tcp.flags",
    "tcp.flags.cwr",
    "tcp.flags.ece",
    "tcp.flags.urg",
    "tcp.flags.ack",
    "tcp.flags.push",
    "tcp.flags.reset",
    "tcp.flags.syn",
    "tcp.flags.fin",
    "tcp.window_size_value",
    "tcp.window_size",
    "tcp.checksum",
    "tcp.urgent_pointer",
    "tcp.len",
    "tcp.option_kind",
    "tcp.option_len",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.options.wscale.multiplier",
    "tcp.options.sack_perm",
    "tcp.options.timestamp.tsval",
    "tcp.options.timestamp.tsecr",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "udp.checksum",
    "udp.stream",
    "dns.length",
    "dns.id",
    "dns.flags",
    "dns.flags.response",
    "dns.flags.opcode",
    "dns.flags.rcode",
    "dns.count.queries",
    "dns.count.answers",
    "dns.count.auth_rr",
    "dns.count.add_rr",
    "dns.qry.name",
    "dns.qry.type",
    "dns.qry.class",
    "dns.resp.name",
    "dns.resp.type",
    "dns.resp.class",
    "dns.resp.ttl",
    "dns.resp.len",
    "dns.a",
    "dns.aaaa",
    "dns.cname",
    "http.request.method",
    "http.request.uri",
    "http.request.version",
    "http.response.version",
    "http.response.code",
    "http.response.phrase",
    "http.host",
    "http.user_agent",
    "http.connection",
    "http.upgrade",
    "http.content_type",
    "http.content_length_header",
    "http.sec_websocket_key",
    "http.sec_websocket_accept",
    "http.sec_websocket_version",
    "websocket.fin",
    "websocket.rsv",
    "websocket.opcode",
    "websocket.mask",
    "websocket.payload_length",
    "websocket.masking_key",
    "websocket.payload.close.status_code",
    "tls.record.content_type",
    "tls.record.version",
    "tls.record.length",
    "tls.handshake.type",
    "tls.handshake.length",
    "tls.handshake.version",
    "tls.handshake.session_id_length",
    "tls.handshake.cipher_suites_length",
    "tls.handshake.extensions_length",
    "tls.handshake.extension.type",
    "tls.handshake.extensions_server_name",
    "tls.handshake.ciphersuite",
];

/// Differences that are expected, as (file, packet number or 0 for all, field, why).
const KNOWN_DIFFERENCES: &[(&str, u64, &str, &str)] = &[
    // In TLS 1.3 the outer type of an encrypted record is "opaque_type"; telling 1.3 from 1.2
    // needs the ServerHello seen earlier on the flow, and the dissector is per packet.
    (
        "tls.pcap",
        5,
        "tls.record.content_type",
        "TLS 1.3 encrypted records: opaque_type in Wireshark",
    ),
    (
        "tls.pcap",
        6,
        "tls.record.content_type",
        "TLS 1.3 encrypted records: opaque_type in Wireshark",
    ),
    // A TCP header cut inside its options ends in a malformed layer, and the flow tracker does
    // not count malformed segments; Wireshark decodes what fits and tracks the segment.
    (
        "truncated.pcap",
        3,
        "tcp.stream",
        "malformed segments are not tracked",
    ),
    (
        "truncated.pcap",
        3,
        "tcp.seq",
        "malformed segments are not tracked",
    ),
    (
        "truncated.pcap",
        3,
        "tcp.ack",
        "malformed segments are not tracked",
    ),
    (
        "truncated.pcap",
        3,
        "tcp.window_size",
        "malformed segments are not tracked",
    ),
    (
        "truncated.pcap",
        3,
        "tcp.len",
        "malformed segments are not tracked",
    ),
    (
        "truncated.pcap",
        8,
        "tcp.stream",
        "the malformed segment #3 took no stream index",
    ),
    // Wireshark numbers the UDP flow quoted inside an ICMP error; netlab counts only the
    // packet's own flow, which for an ICMP error is none.
    (
        "icmp-errors.pcap",
        3,
        "udp.stream",
        "quoted datagrams get no stream index",
    ),
    (
        "ipv6-extensions.pcap",
        6,
        "udp.stream",
        "quoted datagrams get no stream index",
    ),
];

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn captures() -> Vec<PathBuf> {
    if let Ok(p) = std::env::var("NETLAB_CROSSCHECK") {
        return vec![PathBuf::from(p)];
    }
    files::capture_files()
}

/// tshark's values: one row per packet, one column per field, occurrences joined by ','.
fn tshark_rows(file: &Path) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(file).args([
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
        "-E",
        "separator=\t",
    ]);
    // Compare packet by packet, as this inspector decodes: no reassembly of TCP segments (an
    // HTTP response split over segments is decoded in its first one) or of IP fragments.
    for pref in [
        "tcp.desegment_tcp_streams:FALSE",
        "ip.defragment:FALSE",
        "ipv6.defragment:FALSE",
        "tcp.relative_sequence_numbers:TRUE",
    ] {
        cmd.args(["-o", pref]);
    }
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// Our values of `name` in the order they appear, formatted like tshark's.
fn ours(d: &Dissection, name: &str) -> String {
    let vals: Vec<String> = d
        .layers
        .iter()
        .flat_map(|l| l.fields.iter())
        .filter(|f| f.name == name)
        .map(|f| fmt(&f.value))
        .collect();
    vals.join(",")
}

fn fmt(v: &Value) -> String {
    match v {
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Bytes(b) => b
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        other => other.to_string(),
    }
}

/// Whether tshark's text and ours are the same value: numbers may be hex in tshark ("0x0800"),
/// booleans "1"/"0" or "True"/"False"; byte strings may be printed with or without colons.
fn same(theirs: &str, ours: &str) -> bool {
    let t: Vec<&str> = if theirs.is_empty() {
        vec![]
    } else {
        theirs.split(',').collect()
    };
    let o: Vec<&str> = if ours.is_empty() {
        vec![]
    } else {
        ours.split(',').collect()
    };
    t.len() == o.len() && t.iter().zip(&o).all(|(a, b)| one_same(a, b))
}

fn one_same(a: &str, b: &str) -> bool {
    let num = |s: &str| -> Option<u64> {
        match s {
            "True" => Some(1),
            "False" => Some(0),
            _ => s
                .strip_prefix("0x")
                .map_or_else(|| s.parse().ok(), |h| u64::from_str_radix(h, 16).ok()),
        }
    };
    a == b || (num(a).is_some() && num(a) == num(b)) || a.replace(':', "") == b.replace(':', "")
}

#[test]
fn fields_match_tshark_on_every_fixture() {
    if !tshark_available() {
        eprintln!(
            "\n*** SKIPPED tshark cross-check: tshark is not installed (apt-get install tshark; .ci/run installs it) ***\n"
        );
        return;
    }
    let known: BTreeSet<(String, u64, &str)> = KNOWN_DIFFERENCES
        .iter()
        .map(|(f, p, n, _)| (f.to_string(), *p, *n))
        .collect();
    let mut mismatches = Vec::new();
    let (mut compared, mut with_value) = (0usize, 0usize);
    let files = captures();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let theirs = tshark_rows(file);
        let packets: Vec<_> = CaptureReader::open(file)
            .unwrap()
            .packets()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            theirs.len(),
            packets.len(),
            "{name}: tshark and we see different packet counts"
        );
        let mut flows = FlowTracker::new();
        for (i, (raw, row)) in packets.iter().zip(&theirs).enumerate() {
            let (d, _) = flows.process(raw);
            let number = i as u64 + 1;
            for (col, field) in FIELDS.iter().enumerate() {
                let t = row.get(col).map(String::as_str).unwrap_or("");
                let o = ours(&d, field);
                compared += 1;
                with_value += usize::from(!t.is_empty());
                if same(t, &o) {
                    continue;
                }
                let excused = known.contains(&(name.clone(), number, *field))
                    || known.contains(&(name.clone(), 0, *field));
                if !excused {
                    mismatches.push(format!(
                        "{name} #{number} {field}: tshark {t:?}, netlab {o:?}"
                    ));
                }
            }
        }
    }
    eprintln!(
        "tshark cross-check: {} files, {compared} field comparisons ({with_value} where tshark has a value), {} unexpected differences",
        files.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "fields that differ from tshark:\n{}",
        mismatches.join("\n")
    );
}
