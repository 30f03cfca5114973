//! JSON lines: one frame per `\n`-terminated line, with a size limit.
//!
//! The codec is pure (no I/O): a transport feeds it the bytes it read and asks for frames.
//! Like mini-redis's `Connection`, it separates "incomplete, read more" (`Ok(None)`, the normal
//! case) from real errors. A line longer than the limit is an error as soon as the buffer holds
//! more than the limit without a newline, so a line that never ends cannot grow memory without
//! bound. (A line that never ends *slowly* is the transport's job: it times out the partial line.)

use crate::frame::{Frame, FrameError};

/// The default maximum frame size: 1 MiB, announced to clients in `hello`.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 1 << 20;

/// Splits a byte stream into frames.
#[derive(Debug)]
pub struct LineDecoder {
    buf: Vec<u8>,
    /// How far `buf` has already been searched for `\n`, so a slow line is scanned once.
    scanned: usize,
    max: usize,
}

impl LineDecoder {
    pub fn new(max_frame_bytes: usize) -> Self {
        LineDecoder {
            buf: Vec::new(),
            scanned: 0,
            max: max_frame_bytes,
        }
    }

    /// Change the size limit (a client adopts the one the server announces in `hello`).
    pub fn set_max(&mut self, max_frame_bytes: usize) {
        self.max = max_frame_bytes;
    }

    /// Append bytes read from the transport.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// True when part of a line is buffered: an end of stream now is "reset mid-frame".
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or the error for the line.
    /// Empty lines (and a trailing `\r`, as `nc -C` or telnet send) are tolerated.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        loop {
            let Some(line) = self.next_line()? else {
                return Ok(None);
            };
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            return Frame::decode(line).map(Some);
        }
    }

    fn next_line(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        match self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let end = self.scanned + i;
                if end > self.max {
                    return Err(FrameError::TooLarge { max: self.max });
                }
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                self.scanned = 0;
                Ok(Some(line))
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() > self.max {
                    Err(FrameError::TooLarge { max: self.max })
                } else {
                    Ok(None)
                }
            }
        }
    }
}

/// Encode one frame as a line: compact JSON plus `\n`.
pub fn encode_line(frame: &Frame) -> Vec<u8> {
    let mut out = frame.to_json().into_bytes();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn frames_split_across_reads_are_reassembled() {
        let mut d = LineDecoder::new(100);
        d.feed(b"{\"type\":\"pi");
        assert_eq!(d.next_frame(), Ok(None));
        assert!(d.has_partial());
        d.feed(b"ng\"}\r\n\n{\"type\":\"pong\"}\n");
        assert_eq!(d.next_frame(), Ok(Some(Frame::Ping)));
        assert_eq!(d.next_frame(), Ok(Some(Frame::Pong)));
        assert_eq!(d.next_frame(), Ok(None));
        assert!(!d.has_partial());
    }

    #[test]
    fn a_line_that_never_ends_is_cut_off_at_the_limit() {
        let mut d = LineDecoder::new(16);
        d.feed(&[b'a'; 16]);
        assert_eq!(d.next_frame(), Ok(None));
        d.feed(b"a");
        assert_eq!(d.next_frame(), Err(FrameError::TooLarge { max: 16 }));
    }

    #[test]
    fn an_oversized_complete_line_is_refused() {
        let mut d = LineDecoder::new(8);
        d.feed(b"{\"type\":\"ping\"}\n");
        assert_eq!(d.next_frame(), Err(FrameError::TooLarge { max: 8 }));
    }

    #[test]
    fn encode_then_decode_is_identity() {
        let mut d = LineDecoder::new(DEFAULT_MAX_FRAME_BYTES);
        d.feed(&encode_line(&Frame::Pong));
        assert_eq!(d.next_frame(), Ok(Some(Frame::Pong)));
    }

    proptest! {
        // Arbitrary bytes, cut into arbitrary reads, never panic the codec.
        #[test]
        fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
            let mut d = LineDecoder::new(128);
            for c in &chunks {
                d.feed(c);
                while let Ok(Some(_)) = d.next_frame() {}
            }
        }

        // Arbitrary JSON-ish lines built from the protocol's own vocabulary never panic either.
        #[test]
        fn frame_like_lines_never_panic(kind in "(hello|connect|event|ack|received|disconnect|ping|x)",
                                         field in "(ns|name|args|ack|id|seq|resume|auth)",
                                         value in "(1|-1|\"/\"|\\[\\]|\\{\\}|null|true|1e400)") {
            let line = format!("{{\"type\":\"{kind}\",\"{field}\":{value}}}");
            let _ = Frame::decode(line.as_bytes());
        }
    }
}
