//! Capture files read the way the CLI reads them, for tests that look at whole packets.

#![allow(dead_code)]

use std::path::Path;

use netlab_inspect::Packet;
use netlab_inspect::capfile::CaptureReader;
use netlab_inspect::flows::FlowTracker;

/// Every packet of the capture at `path`, numbered from 1, through one flow tracker (so
/// stream indexes and relative numbers are filled in), up to the first record that does not
/// read: truncated.pcap ends mid-record on purpose, and the rest is what it does hold.
pub fn tracked_packets(path: &Path) -> Vec<Packet> {
    let mut tracker = FlowTracker::new();
    let mut out = Vec::new();
    for (i, raw) in CaptureReader::open(path).unwrap().packets().enumerate() {
        let Ok(raw) = raw else { break };
        out.push(tracker.packet(i as u64 + 1, raw));
    }
    out
}
