//! Fuzz the dissector: the first byte picks a link type, the rest is the frame. Any panic is
//! a bug (dissection must end in a "malformed" layer instead), and so is a layer or field
//! pointing outside the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab_inspect::dissect::dissect;
use netlab_inspect::model::LinkType;

const LINK_TYPES: [u32; 9] = [0, 1, 101, 108, 113, 228, 229, 276, 147];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else { return };
    let link = LinkType(LINK_TYPES[usize::from(pick) % LINK_TYPES.len()]);
    let d = dissect(link, frame);
    for l in &d.layers {
        assert!(l.byte_range.start <= l.byte_range.end && l.byte_range.end <= frame.len());
        for f in &l.fields {
            assert!(f.offset + f.len <= frame.len(), "{} outside the frame", f.name);
        }
    }
});
