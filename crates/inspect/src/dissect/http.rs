//! HTTP/1.x (RFC 9112): the start line and headers of requests and responses.

use std::ops::Range;

use super::{Dissector, LayerBuilder, app, notes, preview, socketio, websocket};
use crate::model::{FieldDef, Protocol, Reason, Value};

/// The message's fields, each declared once; the filter's registry takes their names from
/// `field::NAMES`. Every one is where the dissector finds it in the text.
pub(super) mod field {
    crate::model::fields! {
        REQUEST_METHOD = "http.request.method", "Method";
        REQUEST_URI = "http.request.uri", "URI";
        REQUEST_VERSION = "http.request.version", "Version";
        RESPONSE_VERSION = "http.response.version", "Version";
        RESPONSE_CODE = "http.response.code", "Status code";
        RESPONSE_PHRASE = "http.response.phrase", "Reason phrase";
        /// Each header line, whole, after a request's start line.
        REQUEST_LINE = "http.request.line", "Header";
        /// Each header line, whole, after a response's status line.
        RESPONSE_LINE = "http.response.line", "Header";
        /// A preview of the body.
        FILE_DATA = "http.file_data", "Body";
        // The values of the headers in `KNOWN_HEADERS`.
        HOST = "http.host", "Host";
        USER_AGENT = "http.user_agent", "User-Agent";
        CONNECTION = "http.connection", "Connection";
        UPGRADE = "http.upgrade", "Upgrade";
        CONTENT_TYPE = "http.content_type", "Content-Type";
        CONTENT_LENGTH = "http.content_length_header", "Content-Length";
        TRANSFER_ENCODING = "http.transfer_encoding", "Transfer-Encoding";
        ACCEPT = "http.accept", "Accept";
        SERVER = "http.server", "Server";
        LOCATION = "http.location", "Location";
        DATE = "http.date", "Date";
        COOKIE = "http.cookie", "Cookie";
        CACHE_CONTROL = "http.cache_control", "Cache-Control";
        SEC_WEBSOCKET_KEY = "http.sec_websocket_key", "Sec-WebSocket-Key";
        SEC_WEBSOCKET_ACCEPT = "http.sec_websocket_accept", "Sec-WebSocket-Accept";
        SEC_WEBSOCKET_VERSION = "http.sec_websocket_version", "Sec-WebSocket-Version";
    }
}

/// Headers whose values get a field of their own (under Wireshark's names), by header name.
const KNOWN_HEADERS: [(&str, FieldDef); 16] = [
    ("host", field::HOST),
    ("user-agent", field::USER_AGENT),
    ("connection", field::CONNECTION),
    ("upgrade", field::UPGRADE),
    ("content-type", field::CONTENT_TYPE),
    ("content-length", field::CONTENT_LENGTH),
    ("transfer-encoding", field::TRANSFER_ENCODING),
    ("accept", field::ACCEPT),
    ("server", field::SERVER),
    ("location", field::LOCATION),
    ("date", field::DATE),
    ("cookie", field::COOKIE),
    ("cache-control", field::CACHE_CONTROL),
    ("sec-websocket-key", field::SEC_WEBSOCKET_KEY),
    ("sec-websocket-accept", field::SEC_WEBSOCKET_ACCEPT),
    ("sec-websocket-version", field::SEC_WEBSOCKET_VERSION),
];

const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"HEAD ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

/// Whether a payload starts like an HTTP/1.x request or response.
pub(super) fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(b"HTTP/1.") || METHODS.iter().any(|m| bytes.starts_with(m))
}

/// The field for a header's value, if it is one of [`KNOWN_HEADERS`].
fn header_field(name: &[u8]) -> Option<FieldDef> {
    KNOWN_HEADERS
        .iter()
        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|&(_, f)| f)
}

pub(super) fn dissect(d: &mut Dissector, payload: Range<usize>, reason: Reason) {
    let mut lb = d.layer(payload.start, payload.end, Protocol::Http);
    lb.reason(reason);
    let data = lb.slice(0..lb.available()).unwrap_or(&[]);
    let head = decode(&mut lb, data);
    let summary = head.summary;
    d.push(lb.finish(summary));
    d.out.switches_to_websocket |= head.switching_to_websocket;
    let Some(body) = head.after_headers.filter(|b| !b.is_empty()) else {
        return;
    };
    let events = !head.switching_to_websocket
        && d.frame.get(body.clone()).is_some_and(app::looks_like_event);
    let polling = !head.switching_to_websocket
        && !events
        && d.frame
            .get(body.clone())
            .is_some_and(socketio::looks_like_payload);
    if !(head.switching_to_websocket || events || polling) {
        return;
    }
    // The body is the next layer's: HTTP's range ends where it starts.
    if let Some(http) = d.layers_mut().last_mut() {
        http.byte_range.end = body.start;
        http.fields.retain(|f| f.name != field::FILE_DATA.name);
    }
    if events {
        // A long-polling body of netlab's event server: the same JSON lines as over TCP.
        app::events(d, body, Reason::Content);
    } else if polling {
        // A long-polling body of socket.io: Engine.IO packets joined by 0x1e.
        socketio::payload(d, body);
    } else {
        websocket::dissect(d, body, Reason::Upgrade);
    }
}

struct Head {
    summary: String,
    switching_to_websocket: bool,
    /// Frame range of the bytes after the blank line, when the headers are complete.
    after_headers: Option<Range<usize>>,
}

fn decode(lb: &mut LayerBuilder, data: &[u8]) -> Head {
    let mut lines = Lines { data, at: 0 };
    let (first, first_at) = lines.next().unwrap_or((data, 0));
    let response = first.starts_with(b"HTTP/");
    let (summary, code) = if response {
        status_line(lb, first, first_at)
    } else {
        request_line(lb, first, first_at)
    };
    let line_field = if response {
        field::RESPONSE_LINE
    } else {
        field::REQUEST_LINE
    };
    let mut complete = false;
    let mut upgrade_ws = false;
    while let Some((line, at)) = lines.next() {
        if line.is_empty() {
            complete = true;
            break;
        }
        let full = at..lines.at;
        lb.field_with(full, line_field, || {
            Value::Text(String::from_utf8_lossy(line).into_owned())
        });
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"upgrade") && value.eq_ignore_ascii_case(b"websocket") {
            upgrade_ws = true;
        }
        if let Some(f) = header_field(name) {
            let lead = line[colon + 1..]
                .iter()
                .take_while(|c| c.is_ascii_whitespace())
                .count();
            let voff = at + colon + 1 + lead;
            lb.field_with(voff..voff + value.len(), f, || {
                Value::Text(String::from_utf8_lossy(value).into_owned())
            });
        }
    }
    lb.cover(data.len());
    lb.note(notes::OSI_APPLICATION);
    let body_start = lines.at;
    if !complete {
        lb.note("the headers continue in the next segment (no blank line yet): TCP splits a byte stream wherever it likes");
    } else if body_start < data.len() {
        let body = &data[body_start..];
        if !(code == Some(101) && upgrade_ws) {
            lb.field_with(body_start..data.len(), field::FILE_DATA, || {
                Value::Text(preview(body, 256))
            });
        }
    }
    let switching = code == Some(101) && upgrade_ws;
    if switching {
        lb.note(
            "101 Switching Protocols: from the next byte on this TCP connection speaks WebSocket",
        );
    }
    Head {
        summary,
        switching_to_websocket: switching,
        after_headers: complete.then(|| lb.start() + body_start..lb.start() + data.len()),
    }
}

fn request_line(lb: &mut LayerBuilder, line: &[u8], at: usize) -> (String, Option<u16>) {
    let mut parts = Parts { line, at: 0 };
    for f in [
        field::REQUEST_METHOD,
        field::REQUEST_URI,
        field::REQUEST_VERSION,
    ] {
        if let Some((p, off)) = parts.next() {
            lb.field_with(at + off..at + off + p.len(), f, || {
                Value::Text(String::from_utf8_lossy(p).into_owned())
            });
        }
    }
    (String::from_utf8_lossy(line).into_owned(), None)
}

fn status_line(lb: &mut LayerBuilder, line: &[u8], at: usize) -> (String, Option<u16>) {
    let mut parts = Parts { line, at: 0 };
    let mut code = None;
    if let Some((v, off)) = parts.next() {
        lb.field_with(
            at + off..at + off + v.len(),
            field::RESPONSE_VERSION,
            || Value::Text(String::from_utf8_lossy(v).into_owned()),
        );
    }
    if let Some((c, off)) = parts.next() {
        code = std::str::from_utf8(c)
            .ok()
            .and_then(|s| s.parse::<u16>().ok());
        let value = code.map_or_else(
            || Value::Text(String::from_utf8_lossy(c).into_owned()),
            |n| Value::U64(n.into()),
        );
        lb.field(at + off..at + off + c.len(), field::RESPONSE_CODE, value);
        let rest_at = off + c.len() + 1;
        if let Some(phrase) = line.get(rest_at..) {
            lb.field_with(
                at + rest_at..at + line.len(),
                field::RESPONSE_PHRASE,
                || Value::Text(String::from_utf8_lossy(phrase).into_owned()),
            );
        }
    }
    (String::from_utf8_lossy(line).into_owned(), code)
}

/// CRLF-separated lines (a bare LF is tolerated), each with its offset in the payload.
struct Lines<'a> {
    data: &'a [u8],
    /// Offset of the next line; after the loop, the first byte after the last line read.
    at: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (&'a [u8], usize);
    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.data.get(self.at..)?;
        let nl = rest.iter().position(|&b| b == b'\n')?;
        let start = self.at;
        let line = &rest[..nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.at += nl + 1;
        Some((line, start))
    }
}

/// Space-separated words of a start line, each with its offset in the line.
struct Parts<'a> {
    line: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Parts<'a> {
    type Item = (&'a [u8], usize);
    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.line.get(self.at..)?;
        if rest.is_empty() {
            return None;
        }
        let len = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        let start = self.at;
        self.at += len + 1;
        Some((&rest[..len], start))
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or(&[])
}
