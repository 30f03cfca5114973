//! Snapshots of what students see, made from the shipped captures so they are the same on every
//! machine: a change to a table, a byte map or a hex dump is a reviewed change.

use std::path::Path;

use netlab_labs::capture::{Recording, Source, read_capture};
use netlab_labs::packets::{self, Pkt};
use netlab_labs::{Style, guide};

fn shipped(name: &str) -> Vec<Pkt> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(format!("{name}.pcap"));
    let rec = Recording {
        name: name.to_string(),
        source: Source::Shipped,
        packets: read_capture(&path).expect("the shipped capture reads"),
    };
    packets::dissect_all(&rec)
}

/// The client's "hello" segment of the lab01 TCP capture.
fn hello_segment() -> Pkt {
    shipped("lab01-tcp")
        .into_iter()
        .find(|p| p.payload_len() > 0)
        .expect("a data segment")
}

#[test]
fn byte_map_of_a_tcp_frame() {
    insta::assert_snapshot!(packets::byte_map(&hello_segment(), Style::plain()));
}

#[test]
fn hex_dump_of_a_tcp_frame_marks_layers_and_the_highlighted_field() {
    insta::assert_snapshot!(packets::hex_dump(
        &hello_segment(),
        Style::plain(),
        Some("tcp.hdr_len")
    ));
}

#[test]
fn packet_list_of_the_udp_exchange() {
    insta::assert_snapshot!(packets::packet_table(&shipped("lab01-udp"), Style::plain()));
}

#[test]
fn segments_cover_every_byte_of_every_shipped_frame() {
    for name in [
        "lab01-tcp",
        "lab01-udp",
        "lab01-sizes",
        "lab02-tcp",
        "lab02-nagle",
        "lab02-nodelay",
        "lab03-datagrams",
        "lab03-compare",
    ] {
        for p in shipped(name) {
            let segs = packets::segments(&p);
            assert_eq!(
                segs.first().map(|s| s.range.start),
                Some(0),
                "{name} #{}",
                p.number
            );
            assert_eq!(
                segs.last().map(|s| s.range.end),
                Some(p.raw.bytes.len()),
                "{name} #{}",
                p.number
            );
            assert!(
                segs.windows(2).all(|w| w[0].range.end == w[1].range.start),
                "{name} #{}: {segs:?}",
                p.number
            );
        }
    }
}

#[test]
fn lab_list_table() {
    insta::assert_snapshot!(netlab_labs::list_table(Style::plain()));
}

#[test]
fn guide_section_rendered_for_the_terminal() {
    let lab = netlab_labs::find(4).unwrap();
    let g = guide::Guide::parse(lab.guide);
    let section = g.section("Many clients, one port").unwrap();
    insta::assert_snapshot!(guide::render(&section.body, Style::plain(), 80));
}
