//! The `--json` writer remembers things from one packet to the next (layer layouts and their
//! keys, the date of the last second, the last header summaries, endpoints and layer chains;
//! see render/json.rs). What it remembers must never show in what it writes: every packet of
//! every fixture, written after any other packets, must come out exactly as written by a writer
//! that has seen nothing before it.

#[path = "support/packets.rs"]
mod packets;
#[path = "support/files.rs"]
mod support;

use netlab_inspect::model::Packet;
use netlab_inspect::render::Clock;
use netlab_inspect::render::json;

/// Every packet of every fixture, through a flow tracker per file (so relative numbers and
/// stream indexes are filled in as the CLI fills them), with where it is from.
fn fixture_packets() -> Vec<(String, Packet)> {
    let mut out = Vec::new();
    for path in support::capture_files() {
        for p in packets::tracked_packets(&path) {
            out.push((format!("{} packet {}", support::name(&path), p.number), p));
        }
    }
    out
}

/// `p` as a writer that has seen nothing else writes it: on a thread of its own, whose
/// remembered state is new. `first` is the capture's first time, for `time_relative`.
fn fresh(p: &Packet, first: &Packet) -> Vec<u8> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut clock = Clock::default();
            clock.saw(first.raw.ts);
            let mut o = Vec::new();
            json::write_into(&mut o, p, &mut clock).unwrap();
            o
        })
        .join()
        .unwrap()
    })
}

#[test]
fn remembered_state_never_changes_the_json() {
    let packets = fixture_packets();
    assert!(packets.len() > 100, "{} fixture packets", packets.len());
    let n = packets.len();
    // File order, then backwards, then a stride through all files, so that each packet follows
    // packets of its own conversation, of other conversations and of other link types.
    let orders: Vec<usize> = (0..n)
        .chain((0..n).rev())
        .chain((0..n).map(|i| i * 7 % n))
        .collect();
    let first = &packets[0].1;
    let mut clock = Clock::default();
    clock.saw(first.raw.ts);
    let mut checked = 0;
    for i in orders {
        let (at, p) = &packets[i];
        let mut shared = Vec::new();
        json::write_into(&mut shared, p, &mut clock).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&shared),
            String::from_utf8_lossy(&fresh(p, first)),
            "{at}"
        );
        checked += 1;
    }
    assert_eq!(checked, 3 * n);
}
