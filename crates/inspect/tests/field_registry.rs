//! The field registry cannot drift from the dissector: every field name that any fixture frame
//! produces, after the flow tracker has added its own, must be in `filter::field_names()`,
//! because the filter rejects names outside it.

use std::collections::BTreeSet;

#[path = "support/files.rs"]
mod files;

use netlab_inspect::capfile::CaptureReader;
use netlab_inspect::filter::field_names;
use netlab_inspect::flows::FlowTracker;

#[test]
fn field_registry_covers_fixtures() {
    let registry: BTreeSet<&str> = field_names().iter().copied().collect();
    let mut seen = BTreeSet::new();
    let mut missing = BTreeSet::new();
    let mut files = 0;
    for path in files::capture_files() {
        let name = files::name(&path);
        files += 1;
        let mut tracker = FlowTracker::new();
        // truncated.pcap ends mid-record on purpose: dissect what it does hold.
        for raw in CaptureReader::open(&path).unwrap().packets() {
            let Ok(raw) = raw else { break };
            let (d, _) = tracker.process(&raw);
            for field in d.layers.iter().flat_map(|l| l.fields.iter()) {
                seen.insert(field.name);
                if !registry.contains(field.name) {
                    missing.insert(format!("{} (in {name})", field.name));
                }
            }
        }
    }
    assert!(files >= 19, "found only {files} fixture captures");
    assert!(
        missing.is_empty(),
        "field names the dissector emits but the registry does not hold (declare each in its \
         module's `field` module with `fields!`, and record it through that constant): {missing:?}"
    );
    // The fixtures exercise a good share of the registry, so this test has teeth.
    assert!(
        seen.len() > 150,
        "fixtures produced only {} field names",
        seen.len()
    );
}

#[test]
fn field_registry_is_sorted_lowercase_and_dotted() {
    let names = field_names();
    assert!(names.windows(2).all(|w| w[0] < w[1]));
    for n in names {
        assert!(n.contains('.') && *n == n.to_ascii_lowercase(), "{n}");
    }
}
