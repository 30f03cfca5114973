//! Fuzz the flow tracker: the input is cut into Ethernet frames at each 0xfe byte
//! and fed in order, so one input is a whole (odd) conversation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::model::{LinkType, RawPacket, Timestamp};

fuzz_target!(|data: &[u8]| {
    let mut tracker = FlowTracker::following(0);
    for (i, frame) in data.split(|&b| b == 0xfe).enumerate() {
        let p = RawPacket {
            ts: Timestamp { secs: i as i64, nanos: 0 },
            link_type: LinkType::ETHERNET,
            orig_len: frame.len() as u32,
            bytes: frame.to_vec(),
        };
        let _ = tracker.process(&p);
    }
    let _ = tracker.conversations();
    let _ = tracker.followed();
});
