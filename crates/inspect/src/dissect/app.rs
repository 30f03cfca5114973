//! Choosing an application protocol for a TCP or UDP payload, and the two netlab protocols.
//!
//! A dissector can only guess what a payload is. The guess is made, in this order, from an
//! earlier packet of the same flow (an HTTP 101 Upgrade, told to us by the flow tracker), from
//! well-known ports (53 DNS; netlab's 7007 echo and 7070 events), from the bytes themselves
//! (`GET `, `HTTP/1.1`, a TLS record header, a JSON line with a "type"), and last from port 443.
//! The chosen layer records which evidence was used in its [`Reason`].

use std::borrow::Cow;
use std::ops::Range;

use super::{Dissector, dns, http, preview, socketio, tls, websocket};
use crate::model::{Protocol, Reason, Value};

/// The fields of netlab's two protocols, each declared once; the filter's registry takes
/// their names from `field::NAMES`.
pub(super) mod field {
    crate::model::fields! {
        ECHO_DATA = "echo.data", "Data";
        /// An event frame's "type", on a line of its own or inside a WebSocket text frame.
        EVENTS_TYPE = "events.type", "Frame type";
        EVENTS_PARTIAL = "events.partial", "Partial line";
        EVENTS_INVALID = "events.invalid", "Not an event frame";
    }
}

/// An application protocol the dissector can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum AppProtocol {
    Http,
    WebSocket,
    Dns,
    Tls,
    /// netlab's echo service (port 7007, TCP and UDP).
    Echo,
    /// netlab's event protocol: JSON lines with a "type" (port 7070, or inside WebSocket).
    Events,
    /// socket.io's Engine.IO packets: a long-polling body in a segment of its own.
    EngineIo,
}

impl AppProtocol {
    /// The layer this decoder makes.
    pub fn protocol(self) -> Protocol {
        match self {
            AppProtocol::Http => Protocol::Http,
            AppProtocol::WebSocket => Protocol::WebSocket,
            AppProtocol::Dns => Protocol::Dns,
            AppProtocol::Tls => Protocol::Tls,
            AppProtocol::Echo => Protocol::Echo,
            AppProtocol::Events => Protocol::Events,
            AppProtocol::EngineIo => Protocol::EngineIo,
        }
    }
}

pub(super) enum Transport {
    Tcp,
    Udp,
}

/// The default ports, as the book lists them (docs/src/protocol.md for events, the README for
/// echo).
pub(crate) mod port {
    pub const DNS: u16 = 53;
    pub const MDNS: u16 = 5353;
    pub const ECHO: u16 = 7007;
    pub const EVENTS_TCP: u16 = 7070;
    pub const HTTPS: u16 = 443;
}

/// Decode the transport payload at `payload` as whatever it most likely is.
pub(super) fn dissect(d: &mut Dissector, t: Transport, src: u16, dst: u16, payload: Range<usize>) {
    let bytes = d.frame.get(payload.clone()).unwrap_or(&[]);
    let Some((proto, reason)) = choose(d.ctx.upgraded, &t, src, dst, bytes) else {
        // Nobody claims the payload: the transport layer covers it, as the last layer does.
        if let Some(l) = d.layers_mut().last_mut() {
            l.byte_range.end = payload.end;
        }
        return;
    };
    match proto {
        AppProtocol::Http => http::dissect(d, payload, reason),
        AppProtocol::WebSocket => websocket::dissect(d, payload, reason),
        AppProtocol::Dns => dns::dissect(d, payload, reason, matches!(t, Transport::Tcp)),
        AppProtocol::Tls => tls::dissect(d, payload, reason),
        AppProtocol::Echo => echo(d, payload, reason, dst == port::ECHO),
        AppProtocol::Events => events(d, payload, reason),
        AppProtocol::EngineIo => {
            socketio::payload(d, payload);
            d.note_last_with(|| "this segment holds only an HTTP body (its headers came in the segment before): socket.io packets, recognised by their content");
        }
    }
}

fn choose(
    upgraded: Option<AppProtocol>,
    t: &Transport,
    src: u16,
    dst: u16,
    bytes: &[u8],
) -> Option<(AppProtocol, Reason)> {
    if let Some(p) = upgraded {
        return Some((p, Reason::Upgrade));
    }
    let on = |p: u16| src == p || dst == p;
    if on(port::DNS) || on(port::MDNS) {
        let p = if on(port::DNS) { port::DNS } else { port::MDNS };
        return Some((AppProtocol::Dns, Reason::Port(p)));
    }
    if on(port::ECHO) {
        return Some((AppProtocol::Echo, Reason::Port(port::ECHO)));
    }
    if matches!(t, Transport::Tcp) && on(port::EVENTS_TCP) {
        return Some((AppProtocol::Events, Reason::Port(port::EVENTS_TCP)));
    }
    if matches!(t, Transport::Tcp) {
        if tls::looks_like(bytes) {
            return Some((AppProtocol::Tls, Reason::Content));
        }
        if http::looks_like(bytes) {
            return Some((AppProtocol::Http, Reason::Content));
        }
    }
    if looks_like_event(bytes) {
        return Some((AppProtocol::Events, Reason::Content));
    }
    if matches!(t, Transport::Tcp) && socketio::looks_like_payload(bytes) {
        return Some((AppProtocol::EngineIo, Reason::Content));
    }
    if matches!(t, Transport::Tcp) && on(port::HTTPS) {
        return Some((AppProtocol::Tls, Reason::Port(port::HTTPS)));
    }
    None
}

/// netlab echo: whatever the client sends comes back unchanged.
fn echo(d: &mut Dissector, payload: Range<usize>, reason: Reason, request: bool) {
    let mut lb = d.layer(payload.start, payload.end, Protocol::Echo);
    let len = lb.available();
    let data = lb.slice(0..len).unwrap_or(&[]);
    let dir = if request { "request" } else { "reply" };
    let text = preview(data, 64);
    let summary = format!("Echo {dir}: {len} bytes \"{text}\"");
    lb.field_with(0..len, field::ECHO_DATA, || Value::Text(text));
    lb.reason(reason);
    lb.note("netlab echo (port 7007): the server sends every byte back unchanged");
    d.push(lb.finish(summary));
}

/// The part of an event frame this decoder needs: its type. serde skips the other fields.
#[derive(serde::Deserialize)]
struct EventType<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
}

/// Whether the payload starts with a JSON object that has a string "type": an event frame.
pub(super) fn looks_like_event(bytes: &[u8]) -> bool {
    if bytes.first() != Some(&b'{') {
        return false;
    }
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or(bytes);
    serde_json::from_slice::<EventType>(line).is_ok()
}

/// The "type" of a JSON event frame, or `None` when the text is not one.
pub(super) fn event_type(text: &str) -> Option<String> {
    let line = text.lines().next()?;
    serde_json::from_str::<EventType>(line)
        .ok()
        .map(|e| e.ty.into_owned())
}

/// netlab event frames: one JSON object per line, each with a "type".
pub(super) fn events(d: &mut Dissector, payload: Range<usize>, reason: Reason) {
    let mut lb = d.layer(payload.start, payload.end, Protocol::Events);
    let len = lb.available();
    let data = lb.slice(0..len).unwrap_or(&[]);
    let mut types: Vec<String> = Vec::new();
    let mut at = 0;
    for line in data.split_inclusive(|&b| b == b'\n') {
        let complete = line.last() == Some(&b'\n');
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        match serde_json::from_slice::<EventType>(body) {
            Ok(e) => {
                lb.field_with(at..at + line.len(), field::EVENTS_TYPE, || {
                    Value::Text(e.ty.to_string())
                });
                types.push(e.ty.into_owned());
            }
            Err(_) if !complete => {
                lb.field_with(at..at + line.len(), field::EVENTS_PARTIAL, || {
                    Value::Text(preview(body, 64))
                });
                lb.note("the last line continues in the next segment: TCP carries a byte stream, not messages");
            }
            Err(_) if body.is_empty() => {}
            Err(err) => {
                lb.field_with(at..at + line.len(), field::EVENTS_INVALID, || {
                    Value::Text(preview(body, 64))
                });
                lb.note_with(|| {
                    format!("a line at payload offset {at} is not a JSON event frame: {err}")
                });
            }
        }
        at += line.len();
    }
    lb.cover(len);
    lb.reason(reason);
    lb.note("netlab events: one JSON object per line, see docs/src/protocol.md");
    let summary = if types.is_empty() {
        format!("{len} bytes of an event frame")
    } else {
        format!("Event frames: {}", types.join(", "))
    };
    d.push(lb.finish(summary));
}
