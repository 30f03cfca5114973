//! Snapshots of every view on a real loopback capture (curl fetching a page from
//! `python3 -m http.server`, saved by `netlab inspect live -w`): the file reader, the dissector
//! and the renderers together, exactly as a student sees them with NO_COLOR.

use netlab_inspect::Packet;
use netlab_inspect::capfile::CaptureReader;
use netlab_inspect::filter::Filter;
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::render::{self, Clock, Style, TimeFormat, stats::Stats};

fn packets(name: &str) -> Vec<Packet> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut flows = FlowTracker::new();
    CaptureReader::open(&path)
        .unwrap()
        .packets()
        .enumerate()
        .map(|(i, raw)| {
            let raw = raw.unwrap();
            let (dissection, flow) = flows.process(&raw);
            Packet {
                number: i as u64 + 1,
                dissection,
                raw,
                flow,
            }
        })
        .collect()
}

fn text(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    f(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn lines(ps: &[Packet]) -> String {
    let mut clock = Clock::default();
    text(|w| {
        render::line::header(w, TimeFormat::Rel, Style::PLAIN)?;
        for p in ps {
            render::line::row(w, p, &mut clock, TimeFormat::Rel, Style::PLAIN)?;
        }
        Ok(())
    })
}

#[test]
fn http_get_lines() {
    let ps = packets("http-get.pcapng");
    assert_eq!(ps.len(), 12);
    insta::assert_snapshot!(lines(&ps));
}

/// HTTP, a 101 upgrade, then WebSocket frames carrying netlab events: the layer chain grows.
#[test]
fn websocket_upgrade_lines() {
    insta::assert_snapshot!(lines(&packets("http-websocket.pcap")));
}

#[test]
fn dns_and_icmp_error_trees() {
    let dns = packets("dns.pcap");
    let icmp = packets("icmp-errors.pcap");
    insta::assert_snapshot!(text(|w| {
        render::tree::write(w, &dns[dns.len() - 1], Style::PLAIN)?;
        render::tree::write(w, &icmp[0], Style::PLAIN)
    }));
}

#[test]
fn truncated_frames_hex() {
    let ps = packets("truncated.pcap");
    insta::assert_snapshot!(text(|w| {
        for p in &ps {
            render::hex::write(w, p, Style::PLAIN, None)?;
        }
        Ok(())
    }));
}

#[test]
fn http_get_request_tree_and_hex() {
    let ps = packets("http-get.pcapng");
    let get = &ps[3];
    insta::assert_snapshot!(text(|w| {
        render::tree::write(w, get, Style::PLAIN)?;
        render::hex::write(w, get, Style::PLAIN, Some("http.request.method"))
    }));
}

#[test]
fn http_get_stats() {
    let mut s = Stats::new();
    let path = format!(
        "{}/tests/fixtures/http-get.pcapng",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut flows = FlowTracker::new();
    for (i, raw) in CaptureReader::open(&path).unwrap().packets().enumerate() {
        let raw = raw.unwrap();
        let (dissection, flow) = flows.process(&raw);
        s.add(&Packet {
            number: i as u64 + 1,
            raw,
            dissection,
            flow,
        });
    }
    insta::assert_snapshot!(text(|w| {
        s.write(w)?;
        render::stats::write_conversations(w, &flows.conversations())
    }));
}

#[test]
fn filters_on_real_dissections() {
    let ps = packets("http-get.pcapng");
    let count = |f: &str| {
        let f = Filter::parse(f).unwrap();
        ps.iter().filter(|p| f.matches(p)).count()
    };
    assert_eq!(count("tcp"), 12);
    assert_eq!(count("http"), 2);
    assert_eq!(count("tcp.flags.syn"), 2);
    assert_eq!(count("tcp.flags.syn and not tcp.flags.ack"), 1);
    assert_eq!(count("tcp.flags.fin"), 2);
    assert_eq!(count("dst port 18080"), 6);
    assert_eq!(count("src port 18080"), 6);
    assert_eq!(count("host 127.0.0.1"), 12);
    assert_eq!(count("ip.src == 127.0.0.1"), 12);
    assert_eq!(count("host ::1 or udp"), 0);
    assert_eq!(count("ip.ttl == 64"), 12);
    assert_eq!(count("eth.src == 00:00:00:00:00:00"), 12);
    assert_eq!(count("frame.len > 1000"), 1);
    assert_eq!(count("http.request.method == \"GET\""), 1);
    assert_eq!(count("http.request.uri contains \"/\""), 1);
    assert_eq!(count("tcp.stream == 0"), 12);
    assert_eq!(count("tcp.stream == 1"), 0);
    let ws = packets("http-websocket.pcap");
    let f = Filter::parse("ws and tcp.stream == 1").unwrap();
    assert_eq!(ws.iter().filter(|p| f.matches(p)).count(), 3);
    let f = Filter::parse("events").unwrap();
    assert_eq!(ws.iter().filter(|p| f.matches(p)).count(), 2);
}
