//! A summaries-only dissection (what the one-line view and `--stats` use) must say exactly what a
//! full one says, minus the fields, the notes and the summaries under the top layer: same
//! layers, byte ranges, top summary (what the Info column shows), reasons, pulled-out endpoints
//! and flow annotations. Checked on every packet of every fixture, through
//! the flow tracker (relative numbers, scaled windows and the WebSocket upgrade all depend on
//! facts a summaries-only dissection must still carry).

#[path = "support/files.rs"]
mod support;

use netlab_inspect::capfile::CaptureReader;
use netlab_inspect::dissect::{Context, dissect_with};
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::model::Dissection;

/// The full dissection with what summaries-only mode leaves out removed: fields, notes, and
/// the summaries of every layer but the top one (the last that is not "malformed").
fn without_fields_and_notes(mut d: Dissection) -> Dissection {
    let top = d.layers.iter().rposition(|l| l.protocol != "malformed");
    for (i, l) in d.layers.iter_mut().enumerate() {
        l.fields.clear();
        l.notes.clear();
        if Some(i) != top && l.protocol != "malformed" {
            l.summary.clear();
        }
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
            let top = ld.layers.iter().rposition(|l| l.protocol != "malformed");
            if let Some(top) = top {
                assert!(!ld.layers[top].summary.is_empty(), "{at}: no top summary");
                tops += 1;
            }
            with_fields += usize::from(fd.layers.iter().any(|l| !l.fields.is_empty()));
            // A summary under the top one is either left empty or the full one.
            for (l, f) in ld.layers.iter().zip(&fd.layers) {
                assert!(
                    l.summary.is_empty() || l.summary == f.summary,
                    "{at}: {} summary {:?}, full {:?}",
                    l.protocol,
                    l.summary,
                    f.summary
                );
            }
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
