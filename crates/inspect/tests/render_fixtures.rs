//! Snapshots of every view on a real loopback capture (curl fetching a page from
//! `python3 -m http.server`, saved by `netlab inspect live -w`): the file reader, the dissector
//! and the renderers together, exactly as a student sees them with NO_COLOR.

#[path = "support/files.rs"]
mod support;
#[path = "support/packets.rs"]
mod tracked;

use netlab_inspect::Packet;
use netlab_inspect::capfile::CaptureReader;
use netlab_inspect::filter::Filter;
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::render::{self, Clock, Style, TimeFormat, stats::Stats};

fn packets(name: &str) -> Vec<Packet> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    tracked::tracked_packets(std::path::Path::new(&path))
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
        s.add(&flows.packet(i as u64 + 1, raw.unwrap()));
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

/// Lean `--json` lines of chosen packets, the clock started at the capture's first packet.
fn lean_json(ps: &[Packet], pick: &[usize]) -> String {
    let mut clock = Clock::default();
    clock.saw(ps[0].raw.ts);
    text(|w| {
        for &i in pick {
            render::json::write(w, &ps[i], &mut clock)?;
        }
        Ok(())
    })
}

/// The SYN (TCP options: `tcp.option_kind` five times) and the GET (its header lines share
/// `http.request.line`): a repeated name is one key holding an array, at its first place.
#[test]
fn json_lean_http_get_syn_and_request() {
    let ps = packets("http-get.pcapng");
    let out = lean_json(&ps, &[0, 3]);
    let syn: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(
        syn["layers"][2]["fields"]["tcp.option_kind"],
        serde_json::json!([2, 4, 8, 1, 3])
    );
    assert_eq!(syn["layers"][2]["fields"]["tcp.flags.syn"], true);
    insta::assert_snapshot!(out);
}

/// A DNS response with two answers (a CNAME, then the address): every `dns.resp.*` is an array.
#[test]
fn json_lean_dns_with_two_answers() {
    let ps = packets("dns.pcap");
    let out = lean_json(&ps, &[1]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["layers"][3]["fields"]["dns.resp.name"],
        serde_json::json!(["www.example.com", "example.com"])
    );
    insta::assert_snapshot!(out);
}

/// `--json --detail` keeps the full schema: labels, offsets and notes are all still there.
#[test]
fn json_detailed_keeps_offsets_labels_and_notes() {
    let ps = packets("http-get.pcapng");
    let mut clock = Clock::default();
    let line = text(|w| render::json::write_detailed(w, &ps[3], &mut clock));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let method = &v["layers"][3]["fields"][0];
    assert_eq!(method["name"], "http.request.method");
    assert_eq!(method["label"], "Method");
    assert_eq!(method["offset"], 66);
    assert!(
        v["layers"][2]["notes"]
            .as_array()
            .is_some_and(|n| !n.is_empty())
    );
    assert_eq!(v["ts"]["nanos"], ps[3].raw.ts.nanos);
}

/// Every lean line of every fixture is JSON without a duplicate key anywhere, and each layer's
/// `fields` object holds every field the dissector reported, in order of first occurrence.
#[test]
fn json_lean_of_every_fixture_has_no_duplicate_keys_and_loses_no_field() {
    let files = support::capture_files();
    assert!(files.len() >= 19, "only {} fixtures found", files.len());
    for path in &files {
        let name = support::name(path);
        let mut clock = Clock::default();
        // truncated.pcap ends mid-record on purpose: render what it does hold.
        for p in tracked::tracked_packets(path) {
            let line = text(|w| render::json::write(w, &p, &mut clock));
            assert!(
                line.ends_with('\n') && line.matches('\n').count() == 1,
                "{name}"
            );
            if let Err(e) = serde_json::from_str::<strict::Strict>(&line) {
                panic!("{name}: {e}\n{line}");
            }
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            for (layer, json) in p
                .dissection
                .layers
                .iter()
                .zip(v["layers"].as_array().unwrap())
            {
                let fields = json["fields"].as_object().unwrap();
                let mut first_seen: Vec<&str> = Vec::new();
                for f in &layer.fields {
                    if !first_seen.contains(&f.name) {
                        first_seen.push(f.name);
                    }
                }
                let values: usize = fields
                    .values()
                    .map(|v| v.as_array().map_or(1, Vec::len))
                    .sum();
                assert_eq!(values, layer.fields.len(), "{name}: {line}");
                assert_eq!(fields.len(), first_seen.len(), "{name}: {line}");
            }
        }
    }
}

/// A deserializer that accepts any JSON but fails on an object with a repeated key, which
/// `serde_json::Value` would silently collapse to the last one.
mod strict {
    use std::collections::HashSet;
    use std::fmt;

    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

    pub struct Strict;

    impl<'de> Deserialize<'de> for Strict {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(StrictVisitor)
        }
    }

    struct StrictVisitor;

    impl<'de> Visitor<'de> for StrictVisitor {
        type Value = Strict;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Strict, E> {
            Ok(Strict)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Strict, E> {
            Ok(Strict)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Strict, E> {
            Ok(Strict)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Strict, E> {
            Ok(Strict)
        }
        fn visit_str<E>(self, _: &str) -> Result<Strict, E> {
            Ok(Strict)
        }
        fn visit_unit<E>(self) -> Result<Strict, E> {
            Ok(Strict)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
            while seq.next_element::<Strict>()?.is_some() {}
            Ok(Strict)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
            let mut keys = HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !keys.insert(key.clone()) {
                    return Err(de::Error::custom(format!("duplicate key {key:?}")));
                }
                map.next_value::<Strict>()?;
            }
            Ok(Strict)
        }
    }

    #[test]
    fn strict_rejects_a_repeated_key() {
        assert!(serde_json::from_str::<Strict>(r#"{"a":{"b":1,"c":[{"d":2}]}}"#).is_ok());
        assert!(serde_json::from_str::<Strict>(r#"{"a":{"b":1,"b":2}}"#).is_err());
    }
}
