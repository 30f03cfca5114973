//! WebSocket frames (RFC 6455 section 5.2), after the HTTP Upgrade handshake.

use std::ops::Range;

use super::{Dissector, LayerBuilder, Malformed, Units, app, notes, preview, socketio};
use crate::model::{Protocol, Reason, Value};

/// The frame's fields, each declared once: the parser reads them, the builder writes them,
/// and the filter's registry takes their names from `field::NAMES`. The first two bytes are
/// fixed; the extended length, the masking key and the payload move with the length's size.
pub(super) mod field {
    crate::model::fields! {
        FIN = "websocket.fin", "Fin", 0..1;
        RSV = "websocket.rsv", "Reserved", 0..1;
        OPCODE = "websocket.opcode", "Opcode", 0..1;
        MASK = "websocket.mask", "Mask", 1..2;
        PAYLOAD_LENGTH = "websocket.payload_length", "Payload length", 1..2;
        /// Present when the 7-bit length says 126.
        LENGTH_EXT_16 =
            "websocket.payload_length_ext_16", "Extended payload length (16 bits)", 2..4;
        /// Present when the 7-bit length says 127.
        LENGTH_EXT_64 =
            "websocket.payload_length_ext_64", "Extended payload length (64 bits)", 2..10;
        MASKING_KEY = "websocket.masking_key", "Masking key";
        PAYLOAD = "websocket.payload", "Payload";
        PAYLOAD_TEXT = "websocket.payload.text", "Text (unmasked)";
        CLOSE_STATUS = "websocket.payload.close.status_code", "Close status code";
    }
}

/// How many frames of one segment get a layer each; the rest are summed up in a note.
const MAX_FRAMES: usize = 32;
/// Characters of unmasked payload shown in the preview field.
const PREVIEW: usize = 128;
/// Bytes unmasked per frame: enough for the preview and for a typical event frame.
const MAX_UNMASK: usize = 4096;

/// The frames of one segment, a layer each (and a layer more for an event or socket.io
/// message inside a text frame).
pub(super) fn dissect(d: &mut Dissector, payload: Range<usize>, reason: Reason) {
    let units = Units {
        protocol: Protocol::WebSocket,
        max: MAX_FRAMES,
        what: "frames",
    };
    units.decode(d, payload, &reason, |d, mut lb| match decode(&mut lb) {
        Ok(frame) => {
            d.push(lb.finish(frame.summary));
            if let Some(text) = frame.event_text {
                // A text frame of netlab's event protocol: one more layer for its frame.
                events_in_text(d, text);
            }
            if let Some((text, range)) = frame.socketio_text {
                // A text frame of socket.io: its Engine.IO and Socket.IO packets.
                socketio::packet(d, &text, range, frame.masked, false);
            }
            Some(frame.end)
        }
        Err(e) => {
            d.fail(lb, e);
            None
        }
    });
}

struct Frame {
    summary: String,
    /// Frame offset just past this frame (or the segment's end when it continues).
    end: usize,
    /// Unmasked text that looks like an event frame, to decode as one more layer.
    event_text: Option<(Vec<u8>, Range<usize>)>,
    /// Unmasked text that looks like an Engine.IO packet (socket.io), likewise.
    socketio_text: Option<(Vec<u8>, Range<usize>)>,
    masked: bool,
}

fn decode(lb: &mut LayerBuilder) -> Result<Frame, Malformed> {
    lb.need(2)?;
    let b0 = lb.read_u8(0)?;
    let b1 = lb.read_u8(1)?;
    let (fin, rsv, opcode) = (b0 & 0x80 != 0, (b0 >> 4) & 7, b0 & 0x0f);
    let (masked, len7) = (b1 & 0x80 != 0, u64::from(b1 & 0x7f));
    lb.flag(field::FIN, fin);
    lb.bits(field::RSV, rsv.into());
    lb.bits(field::OPCODE, opcode.into());
    lb.flag(field::MASK, masked);
    lb.bits(field::PAYLOAD_LENGTH, len7);
    let mut at = 2;
    let len = match len7 {
        126 => {
            at += 2;
            u64::from(lb.u16(field::LENGTH_EXT_16)?)
        }
        127 => {
            let b = lb.slice(field::LENGTH_EXT_64.bytes)?;
            let v = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            lb.fixed(field::LENGTH_EXT_64, Value::U64(v));
            at += 8;
            v
        }
        n => n,
    };
    let key = if masked {
        let k = lb.slice(at..at + 4)?;
        let key = [k[0], k[1], k[2], k[3]];
        lb.field_with(at..at + 4, field::MASKING_KEY, || {
            Value::Bytes(key.to_vec())
        });
        at += 4;
        Some(key)
    } else {
        None
    };
    if matches!(opcode, 3..=7 | 11..=15) {
        return Err(lb.invalid(0, format!("opcode {opcode} is reserved")));
    }
    let have = lb.available().saturating_sub(at);
    let take = usize::try_from(len).unwrap_or(usize::MAX).min(have);
    let data = lb.slice(at..at + take)?;
    lb.cover(at + take);
    if take > 0 {
        lb.field(at..at + take, field::PAYLOAD, Value::U64(take as u64));
    }
    let unmasked: Vec<u8> = match key {
        Some(k) => data
            .iter()
            .take(MAX_UNMASK)
            .enumerate()
            .map(|(i, b)| b ^ k[i % 4])
            .collect(),
        None => data.iter().take(MAX_UNMASK).copied().collect(),
    };
    let mut event_text = None;
    let mut socketio_text = None;
    if opcode == 1 || (opcode == 0 && !unmasked.is_empty()) {
        lb.field_with(at..at + take, field::PAYLOAD_TEXT, || {
            Value::Text(preview(&unmasked, PREVIEW))
        });
        let whole = take as u64 == len && take <= MAX_UNMASK;
        if unmasked.first() == Some(&b'{') && whole {
            event_text = Some((unmasked.clone(), lb.start() + at..lb.start() + at + take));
        } else if whole && socketio::looks_like_packet(&unmasked) {
            socketio_text = Some((unmasked.clone(), lb.start() + at..lb.start() + at + take));
        }
    }
    let mut close_code = None;
    if let (8, [hi, lo, ..]) = (opcode, unmasked.as_slice()) {
        let code = u16::from_be_bytes([*hi, *lo]);
        lb.field(at..at + 2, field::CLOSE_STATUS, Value::U64(code.into()));
        close_code = Some(code);
    }
    lb.note(notes::OSI_SESSION);
    if masked {
        lb.note("client-to-server frames are masked (XORed with the 4-byte key) so that old proxies cannot mistake them for HTTP; the preview shows the unmasked text");
    }
    if (take as u64) < len {
        lb.note_with(|| {
            format!(
                "the frame's payload continues in the next segment ({take} of {len} bytes here)"
            )
        });
    }
    let summary = format!(
        "{}{}{}, payload {len} bytes{}",
        opcode_name(opcode),
        if fin { "" } else { " (more fragments)" },
        if masked { ", masked" } else { "" },
        match (opcode, close_code) {
            (1, _) => format!(": \"{}\"", preview(&unmasked, 48)),
            (8, Some(code)) => format!(", status {code}{}", close_name(code)),
            _ => String::new(),
        }
    );
    Ok(Frame {
        summary,
        end: lb.start() + at + take,
        event_text,
        socketio_text,
        masked,
    })
}

/// Decode the unmasked text of a WebSocket frame as netlab event frames, when it is one.
fn events_in_text(d: &mut Dissector, (text, range): (Vec<u8>, Range<usize>)) {
    let Ok(s) = std::str::from_utf8(&text) else {
        return;
    };
    let Some(ty) = app::event_type(s) else { return };
    let mut lb = d.layer(range.start, range.end, Protocol::Events);
    lb.field_with(0..range.len(), app::field::EVENTS_TYPE, || {
        Value::Text(ty.clone())
    });
    lb.cover(range.len());
    lb.reason(Reason::Content);
    lb.note("a netlab event frame carried in a WebSocket text frame; its bytes on the wire are masked, the type was read after unmasking");
    d.push(lb.finish(format!("Event frame: {ty}")));
}

/// The common close codes of RFC 6455 section 7.4.1.
fn close_name(code: u16) -> &'static str {
    match code {
        1000 => " (normal closure)",
        1001 => " (going away)",
        1002 => " (protocol error)",
        1003 => " (unsupported data)",
        1008 => " (policy violation)",
        1009 => " (message too big)",
        1011 => " (server error)",
        _ => "",
    }
}

fn opcode_name(op: u8) -> &'static str {
    match op {
        0 => "Continuation",
        1 => "Text",
        2 => "Binary",
        8 => "Connection close",
        9 => "Ping",
        10 => "Pong",
        _ => "Reserved opcode",
    }
}
