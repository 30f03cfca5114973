//! Snapshots of every view on a real loopback capture (curl fetching a page from
//! `python3 -m http.server`, saved by `netlab inspect live -w`): the file reader, the dissector
//! and the renderers together, exactly as a student sees them with NO_COLOR.

use netlab_inspect::Packet;
use netlab_inspect::capfile::CaptureReader;
use netlab_inspect::dissect::dissect;
use netlab_inspect::filter::Filter;
use netlab_inspect::render::{self, Clock, Style, TimeFormat, stats::Stats};

fn packets(name: &str) -> Vec<Packet> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    CaptureReader::open(&path)
        .unwrap()
        .packets()
        .enumerate()
        .map(|(i, raw)| {
            let raw = raw.unwrap();
            Packet {
                number: i as u64 + 1,
                dissection: dissect(raw.link_type, &raw.bytes),
                raw,
                flow: None,
            }
        })
        .collect()
}

fn text(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    f(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn http_get_lines() {
    let ps = packets("http-get.pcapng");
    assert_eq!(ps.len(), 12);
    let mut clock = Clock::default();
    insta::assert_snapshot!(text(|w| {
        render::line::header(w, TimeFormat::Rel, Style::PLAIN)?;
        for p in &ps {
            render::line::row(w, p, &mut clock, TimeFormat::Rel, Style::PLAIN)?;
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
    for p in packets("http-get.pcapng") {
        s.add(&p);
    }
    insta::assert_snapshot!(text(|w| s.write(w)));
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
}
