//! A summaries-only dissection (what the one-line view and `--stats` use) must say exactly what a
//! full one says, minus the fields and the notes: same layers, byte ranges, summaries, reasons,
//! pulled-out endpoints and flow annotations. Checked on every packet of every fixture, through
//! the flow tracker (relative numbers, scaled windows and the WebSocket upgrade all depend on
//! facts a summaries-only dissection must still carry).
//!
//! Also here: a dissection written into the previous packet's (`dissect_into`, which reuses its
//! storage) must equal a fresh one, whatever the previous packet was.

#[path = "support/files.rs"]
mod support;

use netlab_inspect::capfile::CaptureReader;
use netlab_inspect::dissect::{Context, dissect_into, dissect_with};
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::model::{Dissection, Summary};

/// The full dissection with what summaries-only mode leaves out removed: fields and notes.
fn without_fields_and_notes(mut d: Dissection) -> Dissection {
    for l in d.layers.iter_mut() {
        l.fields.clear();
        l.notes.clear();
    }
    d
}

#[test]
fn summaries_only_matches_full_dissection_on_every_fixture() {
    let (mut files, mut packets, mut with_fields, mut tops) = (0, 0, 0, 0);
    for path in support::capture_files() {
        let name = support::name(&path);
        files += 1;
        let mut full = FlowTracker::new();
        let mut lean = FlowTracker::new();
        lean.set_summaries_only(true);
        // truncated.pcap ends mid-record on purpose: compare what it does hold.
        for (i, raw) in CaptureReader::open(&path).unwrap().packets().enumerate() {
            let Ok(raw) = raw else { break };
            packets += 1;
            let (fd, fflow) = full.process(&raw);
            let (ld, lflow) = lean.process(&raw);
            let at = format!("{name} packet {}", i + 1);
            assert_eq!(lflow, fflow, "flow annotation of {at}");
            if ld.endpoints.is_none() {
                // Without IP endpoints the columns come from fields: the tracker dissects
                // such packets in full.
                assert_eq!(ld, fd, "{at} (no endpoints: full dissection expected)");
                continue;
            }
            assert!(
                ld.layers
                    .iter()
                    .all(|l| l.fields.is_empty() && l.notes.is_empty()),
                "{at}: summaries-only recorded fields or notes"
            );
            if let Some(top) = ld.top_layer() {
                assert!(!top.summary.is_empty(), "{at}: no top summary");
                tops += 1;
            }
            with_fields += usize::from(fd.layers.iter().any(|l| !l.fields.is_empty()));
            assert_eq!(
                without_fields_and_notes(ld),
                without_fields_and_notes(fd),
                "{at}"
            );

            // The bare dissector, without the tracker, agrees too.
            let ctx = Context {
                summaries_only: true,
                ..Context::default()
            };
            let bare = dissect_with(raw.link_type, &raw.bytes, &ctx);
            let bare_full = dissect_with(raw.link_type, &raw.bytes, &Context::default());
            assert_eq!(
                without_fields_and_notes(bare),
                without_fields_and_notes(bare_full),
                "{at} (no tracker)"
            );
        }
    }
    assert!(
        files >= 19,
        "expected the committed fixtures, found {files} files"
    );
    assert!(packets >= 90, "only {packets} packets compared");
    assert!(tops >= 60, "only {tops} top summaries checked");
    assert!(
        with_fields >= 60,
        "only {with_fields} packets compared with fields stripped"
    );
}

/// Every fixture packet dissected into one reused `Dissection`, after packets of all the other
/// fixtures (so a layer's storage is reused by other protocols, a packet with more layers is
/// followed by one with fewer, and a full dissection by a summaries-only one and back), must
/// equal a fresh dissection of it: nothing of the previous packet may show through.
#[test]
fn a_reused_dissection_equals_a_fresh_one() {
    let mut raws = Vec::new();
    for path in support::capture_files() {
        let packets = CaptureReader::open(&path).unwrap().packets();
        raws.extend(packets.map_while(Result::ok));
    }
    assert!(raws.len() >= 90, "only {} packets", raws.len());
    let lean = Context {
        summaries_only: true,
        ..Context::default()
    };
    let full = Context::default();
    let mut reused = Dissection::default();
    let mut compared = 0;
    // Forwards, then backwards: each packet follows a different one the second time.
    for (i, raw) in raws.iter().chain(raws.iter().rev()).enumerate() {
        // Alternate the depth in a pattern that does not line up with the packets.
        let ctx = if i % 3 == 0 { &full } else { &lean };
        dissect_into(raw.link_type, &raw.bytes, ctx, &mut reused);
        assert_eq!(
            reused,
            dissect_with(raw.link_type, &raw.bytes, ctx),
            "packet {i} ({:?}, summaries only: {})",
            raw.link_type,
            ctx.summaries_only
        );
        compared += 1;
    }
    assert_eq!(compared, 2 * raws.len());
}

/// The flow tracker's reusing entry point gives what its allocating one gives.
#[test]
fn the_tracker_reusing_storage_matches_the_allocating_one() {
    for path in support::capture_files() {
        for summaries_only in [false, true] {
            let mut a = FlowTracker::new();
            let mut b = FlowTracker::new();
            a.set_summaries_only(summaries_only);
            b.set_summaries_only(summaries_only);
            let mut reused = Dissection::default();
            for (i, raw) in CaptureReader::open(&path).unwrap().packets().enumerate() {
                let Ok(raw) = raw else { break };
                let (d, flow) = a.process(&raw);
                let reused_flow = b.process_into(&raw, &mut reused);
                let at = format!("{} packet {}", support::name(&path), i + 1);
                assert_eq!(reused_flow, flow, "{at}");
                assert_eq!(reused, d, "{at}");
            }
        }
    }
}

/// Every way of reading a summary (text, Display, serde) gives the same text, and the ones kept
/// as data (the common headers) are never empty.
#[test]
fn every_way_of_reading_a_summary_agrees() {
    let (mut data, mut text) = (0, 0);
    for path in support::capture_files() {
        let mut tracker = FlowTracker::new();
        for raw in CaptureReader::open(&path).unwrap().packets() {
            let Ok(raw) = raw else { break };
            let (d, _) = tracker.process(&raw);
            for l in &d.layers {
                let s = &l.summary;
                let want = s.text().into_owned();
                assert_eq!(s.to_string(), want);
                assert_eq!(
                    serde_json::to_string(s).unwrap(),
                    serde_json::to_string(&want).unwrap()
                );
                if matches!(s, Summary::Text(_)) {
                    text += 1;
                } else {
                    assert!(!want.is_empty(), "{}", support::name(&path));
                    data += 1;
                }
            }
        }
    }
    assert!(
        data >= 200 && text >= 50,
        "{data} data, {text} text summaries"
    );
}
