//! Fuzz target: arbitrary bytes through the line decoder and the frame decoder must never panic,
//! and every frame that decodes must encode to a line that decodes to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab_events::Frame;
use netlab_events::codec::{LineDecoder, encode_line};

fuzz_target!(|data: &[u8]| {
    // Whole input as one line.
    if let Ok(frame) = Frame::decode(data) {
        let line = encode_line(&frame);
        let again = Frame::decode(&line[..line.len() - 1]).expect("re-decode what we encoded");
        assert_eq!(again, frame);
    }
    // The same bytes as a stream, fed in two uneven pieces, with a small limit.
    let mut d = LineDecoder::new(256);
    let cut = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    for piece in [&data[..cut], &data[cut..]] {
        d.feed(piece);
        while let Ok(Some(_)) = d.next_frame() {}
    }
});
