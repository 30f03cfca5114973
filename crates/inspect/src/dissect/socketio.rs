//! socket.io's two protocols (docs/src/socketio.md): Engine.IO v4 packets, and the Socket.IO v5
//! packet inside an Engine.IO `message`. They travel in WebSocket text frames (one packet per
//! frame) and in HTTP long-polling bodies (packets joined by the record separator 0x1e).
//!
//! Nothing in the bytes says "socket.io": the label is a guess from the content ([`Reason`]
//! `content`), made strict so plain text rarely passes: every record must be a packet the
//! Engine.IO specification allows (`0{...}`, `1`, `2`, `2probe`, `3`, `3probe`, `4` followed by
//! a Socket.IO type digit, `5`, `6`, or `b` and base64).

use std::ops::Range;

use super::{Dissector, preview};
use crate::model::{Protocol, Reason, Value};

/// The packets' fields, each declared once; the filter's registry takes their names from
/// `field::NAMES`. Each packet starts with its type digit; the rest is where the text puts it.
pub(super) mod field {
    crate::model::fields! {
        ENGINEIO_TYPE = "engineio.type", "Packet type", 0..1;
        ENGINEIO_DATA = "engineio.data", "Data";
        SOCKETIO_TYPE = "socketio.type", "Packet type", 0..1;
        ATTACHMENTS = "socketio.attachments", "Attachments";
        NSP = "socketio.nsp", "Namespace";
        ACK_ID = "socketio.ack_id", "Ack id";
        DATA = "socketio.data", "Data (JSON)";
        EVENT = "socketio.event", "Event name";
    }
}

/// The record separator between the packets of a long-polling body.
const SEPARATOR: u8 = 0x1e;

/// Packets of one body that get a layer each; the rest are summed up in a note.
const MAX_PACKETS: usize = 16;

/// Characters of data shown in a preview field.
const PREVIEW: usize = 96;

fn engineio_name(digit: u8) -> Option<&'static str> {
    Some(match digit {
        b'0' => "open",
        b'1' => "close",
        b'2' => "ping",
        b'3' => "pong",
        b'4' => "message",
        b'5' => "upgrade",
        b'6' => "noop",
        _ => return None,
    })
}

fn socketio_name(digit: u8) -> Option<&'static str> {
    Some(match digit {
        b'0' => "CONNECT",
        b'1' => "DISCONNECT",
        b'2' => "EVENT",
        b'3' => "ACK",
        b'4' => "CONNECT_ERROR",
        b'5' => "BINARY_EVENT",
        b'6' => "BINARY_ACK",
        _ => return None,
    })
}

/// Whether one record is an Engine.IO packet as socket.io sends them (module docs).
pub(super) fn looks_like_packet(p: &[u8]) -> bool {
    match p {
        [b'0', b'{', ..] => p.last() == Some(&b'}'),
        [b'1' | b'5' | b'6'] | [b'2' | b'3'] => true,
        [b'2' | b'3', rest @ ..] => rest == b"probe",
        [b'4', d, ..] => socketio_name(*d).is_some(),
        [b'b', rest @ ..] => {
            !rest.is_empty()
                && rest
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
        }
        _ => false,
    }
}

/// Whether an HTTP body is a long-polling payload: every record a packet, all of it UTF-8.
pub(super) fn looks_like_payload(body: &[u8]) -> bool {
    // Each packet starts with its type, a digit or `b` (`looks_like_packet`): any other TCP
    // payload fails on its first byte, before the whole of it is split and checked for UTF-8.
    matches!(body.first(), Some(b'0'..=b'6' | b'b'))
        && body.split(|&b| b == SEPARATOR).all(looks_like_packet)
        && std::str::from_utf8(body).is_ok()
}

/// A long-polling body at `body`: one Engine.IO layer (and Socket.IO layer) per packet.
pub(super) fn payload(d: &mut Dissector, body: Range<usize>) {
    let bytes = d.frame.get(body.clone()).unwrap_or(&[]).to_vec();
    let mut at = body.start;
    let total = bytes.split(|&b| b == SEPARATOR).count();
    for (i, record) in bytes.split(|&b| b == SEPARATOR).enumerate() {
        if i == MAX_PACKETS {
            d.note_last_with(|| {
                format!(
                    "{} more Engine.IO packets in this body are not shown",
                    total - i
                )
            });
            return;
        }
        let range = at..at + record.len();
        packet(d, record, range, false, i > 0);
        at += record.len() + 1;
    }
}

/// One Engine.IO packet whose bytes (unmasked, for a WebSocket frame) are `text`, at `range` of
/// the frame.
pub(super) fn packet(
    d: &mut Dissector,
    text: &[u8],
    range: Range<usize>,
    masked: bool,
    after_separator: bool,
) {
    let Some(&digit) = text.first() else { return };
    let binary = digit == b'b';
    let name = if binary {
        "message"
    } else {
        engineio_name(digit).unwrap_or("?")
    };
    let mut lb = d.layer(range.start, range.end, Protocol::EngineIo);
    lb.reason(Reason::Content);
    lb.fixed(field::ENGINEIO_TYPE, Value::Text(name.into()));
    let data = text.get(1..).unwrap_or(&[]);
    let inner = digit == b'4' && !data.is_empty();
    if !data.is_empty() && !inner {
        lb.field_with(1..text.len(), field::ENGINEIO_DATA, || {
            Value::Text(preview(data, PREVIEW))
        });
    }
    if after_separator {
        lb.note("the byte before this packet is the record separator 0x1e, which joins the packets of a long-polling body");
    }
    if masked {
        lb.note("read after unmasking the WebSocket payload");
    }
    if binary {
        lb.note("a binary message in a long-polling body: 'b', then the bytes in base64");
    }
    let summary = match (digit, data) {
        (b'0', _) => match sid_of(data) {
            Some(sid) => format!("Engine.IO open sid={sid}"),
            None => "Engine.IO open".to_string(),
        },
        (b'2' | b'3', b"probe") => format!("Engine.IO {name} probe"),
        (b'b', _) => "Engine.IO message (binary, base64)".to_string(),
        _ => format!("Engine.IO {name}"),
    };
    if inner {
        // The Socket.IO packet is the next layer: Engine.IO keeps its type digit only.
        lb.note("an Engine.IO message carries one Socket.IO packet: the digit after this one is the Socket.IO type");
        d.push(lb.finish(summary));
        socketio(d, data, range.start + 1..range.end);
    } else {
        lb.cover(text.len());
        d.push(lb.finish(summary));
    }
}

/// The `sid` of a handshake's JSON, for the summary.
fn sid_of(json: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    Some(v.get("sid")?.as_str()?.chars().take(32).collect())
}

/// The Socket.IO packet `text` at `range`: `<type>[<n>-][<nsp>,][<id>][<json>]`.
fn socketio(d: &mut Dissector, text: &[u8], range: Range<usize>) {
    let mut lb = d.layer(range.start, range.end, Protocol::SocketIo);
    lb.reason(Reason::Content);
    let Some(&digit) = text.first() else { return };
    let kind = socketio_name(digit).unwrap_or("?");
    lb.fixed(field::SOCKETIO_TYPE, Value::Text(kind.into()));
    let mut at = 1;
    let mut attachments = None;
    if matches!(digit, b'5' | b'6') {
        let n = text[at..].iter().take_while(|b| b.is_ascii_digit()).count();
        let count = std::str::from_utf8(&text[at..at + n])
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        match (count, text.get(at + n)) {
            (Some(c), Some(b'-')) => {
                lb.field(at..at + n + 1, field::ATTACHMENTS, Value::U64(c));
                attachments = Some(c);
                at += n + 1;
            }
            _ => {
                let e = lb.invalid(
                    at,
                    "a binary packet starts with <count>- (illegal attachments)",
                );
                d.fail(lb, e);
                return;
            }
        }
    }
    let mut nsp = "/".to_string();
    if text.get(at) == Some(&b'/') {
        let end = text[at..]
            .iter()
            .position(|&b| b == b',')
            .map_or(text.len(), |p| at + p);
        nsp = String::from_utf8_lossy(&text[at..end]).into_owned();
        lb.field_with(at..end, field::NSP, || Value::Text(nsp.clone()));
        at = (end + 1).min(text.len());
    }
    let digits = text[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut ack = None;
    if digits > 0 {
        let id = std::str::from_utf8(&text[at..at + digits])
            .ok()
            .and_then(|s| s.parse::<u64>().ok());
        match id {
            Some(id) => {
                lb.field(at..at + digits, field::ACK_ID, Value::U64(id));
                ack = Some(id);
            }
            None => {
                let e = lb.invalid(at, "the ack id does not fit in 64 bits");
                d.fail(lb, e);
                return;
            }
        }
        at += digits;
    }
    let data = &text[at..];
    let mut event = None;
    if !data.is_empty() {
        lb.field_with(at..text.len(), field::DATA, || {
            Value::Text(preview(data, PREVIEW))
        });
        if matches!(digit, b'2' | b'5')
            && let Some((name, r)) = event_name(data)
        {
            lb.field_with(at + r.start..at + r.end, field::EVENT, || {
                Value::Text(name.clone())
            });
            event = Some(name);
        }
    }
    lb.cover(text.len());
    if attachments.is_some_and(|n| n > 0) {
        lb.note("placeholders {\"_placeholder\":true,\"num\":N} stand for the binary attachments, which follow as separate binary messages");
    }
    let mut summary = format!("Socket.IO {kind} {nsp}");
    if let Some(name) = event {
        summary.push(' ');
        summary.push_str(&serde_json::Value::String(name).to_string());
    }
    if let Some(id) = ack {
        summary.push_str(&format!(" ack={id}"));
    }
    if let Some(n) = attachments {
        summary.push_str(&format!(" attachments={n}"));
    }
    d.push(lb.finish(summary));
}

/// The event name (the array's first string) and its byte range inside `json`.
fn event_name(json: &[u8]) -> Option<(String, Range<usize>)> {
    let start = json.iter().position(|&b| b == b'[')? + 1;
    let open = start
        + json
            .get(start..)?
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
    if json.get(open) != Some(&b'"') {
        return None;
    }
    let mut i = open + 1;
    while i < json.len() {
        match json[i] {
            b'\\' => i += 2,
            b'"' => {
                let quoted = json.get(open..=i)?;
                let name: String = serde_json::from_slice(quoted).ok()?;
                return Some((name, open..i + 1));
            }
            _ => i += 1,
        }
    }
    None
}
