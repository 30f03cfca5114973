//! The committed fixture captures: they are exactly what their recipes build, and their
//! dissections are pinned by snapshots (review a change with `cargo insta review`).

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/render.rs"]
mod render;

use std::path::PathBuf;

use netlab_inspect::capfile::{CaptureFormat, CaptureReader, CaptureWriter};
use netlab_inspect::dissect::dissect;
use netlab_inspect::model::RawPacket;

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.pcap"))
}

fn read(name: &str) -> Vec<RawPacket> {
    let r = CaptureReader::open(fixture_path(name)).expect("fixture opens");
    r.packets()
        .collect::<Result<Vec<_>, _>>()
        .expect("fixture reads")
}

#[test]
fn fixtures_are_up_to_date() {
    for f in fixtures::all() {
        let mut w = CaptureWriter::new(Vec::new(), CaptureFormat::Pcap).unwrap();
        for p in f.packets() {
            w.write_packet(&p).unwrap();
        }
        let built = w.finish().unwrap();
        let committed = std::fs::read(fixture_path(f.name)).unwrap_or_default();
        assert!(
            built == committed,
            "tests/fixtures/{}.pcap differs from its recipe: run `cargo run -p netlab-inspect --example make_fixtures` and commit the result",
            f.name
        );
    }
}

#[test]
fn every_fixture_dissects_as_snapshotted() {
    for f in fixtures::all() {
        let packets = read(f.name);
        assert_eq!(packets.len(), f.frames.len(), "{}", f.name);
        let mut out = format!("{}: {}\n", f.name, f.about);
        for (i, p) in packets.iter().enumerate() {
            let d = dissect(p.link_type, &p.bytes);
            render::dissection(&mut out, i + 1, &p.bytes, &d);
        }
        insta::assert_snapshot!(f.name, out);
    }
}
