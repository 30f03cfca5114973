//! Hostile input never panics the dissector or the flow tracker, and what they return always
//! points inside the frame: arbitrary bytes for every link type, every truncation of every
//! fixture frame, and fixture frames with random bytes overwritten.

#[path = "support/fixtures.rs"]
mod fixtures;

use netlab_inspect::Protocol;
use netlab_inspect::dissect::dissect;
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::model::{Dissection, LinkType, RawPacket, Timestamp};
use proptest::prelude::*;

const LINK_TYPES: [u32; 9] = [0, 1, 101, 108, 113, 228, 229, 276, 147];

/// Every byte range and field lies inside the frame, and a malformed dissection ends with its
/// "malformed" layer.
fn check(d: &Dissection, len: usize) -> Result<(), String> {
    for l in &d.layers {
        if l.byte_range.start > l.byte_range.end || l.byte_range.end > len {
            return Err(format!(
                "{} layer range {:?} outside a {len}-byte frame",
                l.protocol, l.byte_range
            ));
        }
        for f in &l.fields {
            if f.offset + f.len > len {
                return Err(format!(
                    "field {} at {}+{} outside a {len}-byte frame",
                    f.name, f.offset, f.len
                ));
            }
        }
    }
    if d.malformed.is_some() && d.layers.last().map(|l| l.protocol) != Some(Protocol::Malformed) {
        return Err("malformed set but the last layer is not the malformed layer".into());
    }
    if let Some(p) = &d.payload {
        if p.end > len || p.start > p.end {
            return Err(format!("payload {p:?} outside a {len}-byte frame"));
        }
    }
    Ok(())
}

fn all_frames() -> Vec<(LinkType, Vec<u8>)> {
    fixtures::all()
        .into_iter()
        .flat_map(|f| f.frames.into_iter().map(move |fr| (f.link, fr.bytes)))
        .collect()
}

fn raw(link: LinkType, bytes: Vec<u8>) -> RawPacket {
    RawPacket {
        ts: Timestamp::default(),
        link_type: link,
        orig_len: bytes.len() as u32,
        bytes,
    }
}

#[test]
fn every_truncation_of_every_fixture_frame_is_handled() {
    let mut cuts = 0;
    for (link, frame) in all_frames() {
        for cut in 0..=frame.len() {
            let d = dissect(link, &frame[..cut]);
            if let Err(e) = check(&d, cut) {
                panic!("link {} cut {cut} of {}: {e}", link.0, frame.len());
            }
            cuts += 1;
        }
    }
    assert!(cuts > 10_000, "only {cuts} truncations checked");
}

/// Cases per property: a quick default for every test run; `PROPTEST_CASES=100000` for a long
/// hunt.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(link in prop::sample::select(LINK_TYPES.to_vec()), bytes in prop::collection::vec(any::<u8>(), 0..1600)) {
        let d = dissect(LinkType(link), &bytes);
        prop_assert!(check(&d, bytes.len()).is_ok(), "{:?}", check(&d, bytes.len()));
    }

    /// Random bytes after a valid Ethernet + IPv4 + TCP/UDP prefix reach the deeper decoders
    /// (options, DNS, HTTP, TLS, WebSocket), which arbitrary bytes alone rarely do.
    #[test]
    fn mutated_fixture_frames_never_panic(pick in any::<prop::sample::Index>(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let frames = all_frames();
        let (link, mut frame) = frames[pick.index(frames.len())].clone();
        for (at, byte) in edits {
            let i = at.index(frame.len());
            frame[i] = byte;
        }
        let d = dissect(link, &frame);
        prop_assert!(check(&d, frame.len()).is_ok(), "{:?}", check(&d, frame.len()));
    }

}

proptest! {
    #![proptest_config(cases(200))]

    /// The tracker sees mutated conversations: numbers jump, flags contradict, ports change.
    #[test]
    fn flow_tracker_never_panics(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>()), 0..40)) {
        let frames = all_frames();
        let mut packets: Vec<RawPacket> = frames.into_iter().map(|(l, b)| raw(l, b)).collect();
        for (p, at, byte) in edits {
            let n = packets.len();
            let pkt = &mut packets[p.index(n)];
            let i = at.index(pkt.bytes.len());
            pkt.bytes[i] = byte;
        }
        let mut t = FlowTracker::following(0);
        for p in &packets {
            let (d, _) = t.process(p);
            prop_assert!(check(&d, p.bytes.len()).is_ok(), "{:?}", check(&d, p.bytes.len()));
        }
        let _ = t.conversations();
        let _ = t.followed();
    }
}
