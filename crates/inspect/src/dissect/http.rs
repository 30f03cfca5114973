//! HTTP/1.x (RFC 9112): the start line and headers of requests and responses.

use std::ops::Range;

use super::{Dissector, LayerBuilder, app, notes, preview, socketio, websocket};
use crate::model::{Protocol, Reason, Value};

/// Every field name this module can emit: the filter rejects names outside
/// [`crate::filter::field_names`], and `field_registry_covers_fixtures` keeps this list honest.
pub(crate) const FIELDS: &[&str] = &[
    "http.accept",
    "http.cache_control",
    "http.connection",
    "http.content_length_header",
    "http.content_type",
    "http.cookie",
    "http.date",
    "http.file_data",
    "http.host",
    "http.location",
    "http.request.line",
    "http.request.method",
    "http.request.uri",
    "http.request.version",
    "http.response.code",
    "http.response.line",
    "http.response.phrase",
    "http.response.version",
    "http.sec_websocket_accept",
    "http.sec_websocket_key",
    "http.sec_websocket_version",
    "http.server",
    "http.transfer_encoding",
    "http.upgrade",
    "http.user_agent",
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

/// Headers whose values get a field of their own, under Wireshark's names.
fn header_field(name: &[u8]) -> Option<(&'static str, &'static str)> {
    const KNOWN: [(&str, &str, &str); 16] = [
        ("host", "http.host", "Host"),
        ("user-agent", "http.user_agent", "User-Agent"),
        ("connection", "http.connection", "Connection"),
        ("upgrade", "http.upgrade", "Upgrade"),
        ("content-type", "http.content_type", "Content-Type"),
        (
            "content-length",
            "http.content_length_header",
            "Content-Length",
        ),
        (
            "transfer-encoding",
            "http.transfer_encoding",
            "Transfer-Encoding",
        ),
        ("accept", "http.accept", "Accept"),
        ("server", "http.server", "Server"),
        ("location", "http.location", "Location"),
        ("date", "http.date", "Date"),
        ("cookie", "http.cookie", "Cookie"),
        ("cache-control", "http.cache_control", "Cache-Control"),
        (
            "sec-websocket-key",
            "http.sec_websocket_key",
            "Sec-WebSocket-Key",
        ),
        (
            "sec-websocket-accept",
            "http.sec_websocket_accept",
            "Sec-WebSocket-Accept",
        ),
        (
            "sec-websocket-version",
            "http.sec_websocket_version",
            "Sec-WebSocket-Version",
        ),
    ];
    KNOWN
        .iter()
        .find(|(n, _, _)| n.as_bytes().eq_ignore_ascii_case(name))
        .map(|&(_, f, l)| (f, l))
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
        http.fields.retain(|f| f.name != "http.file_data");
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
    let line_name = if response {
        "http.response.line"
    } else {
        "http.request.line"
    };
    let mut complete = false;
    let mut upgrade_ws = false;
    while let Some((line, at)) = lines.next() {
        if line.is_empty() {
            complete = true;
            break;
        }
        let full = at..lines.at;
        lb.field_with(full, line_name, "Header", || {
            Value::Text(String::from_utf8_lossy(line).into_owned())
        });
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"upgrade") && value.eq_ignore_ascii_case(b"websocket") {
            upgrade_ws = true;
        }
        if let Some((fname, label)) = header_field(name) {
            let lead = line[colon + 1..]
                .iter()
                .take_while(|c| c.is_ascii_whitespace())
                .count();
            let voff = at + colon + 1 + lead;
            lb.field_with(voff..voff + value.len(), fname, label, || {
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
            lb.field_with(body_start..data.len(), "http.file_data", "Body", || {
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
    let names = [
        ("http.request.method", "Method"),
        ("http.request.uri", "URI"),
        ("http.request.version", "Version"),
    ];
    for (name, label) in names {
        if let Some((p, off)) = parts.next() {
            lb.field_with(at + off..at + off + p.len(), name, label, || {
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
            "http.response.version",
            "Version",
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
        lb.field(
            at + off..at + off + c.len(),
            "http.response.code",
            "Status code",
            value,
        );
        let rest_at = off + c.len() + 1;
        if let Some(phrase) = line.get(rest_at..) {
            lb.field_with(
                at + rest_at..at + line.len(),
                "http.response.phrase",
                "Reason phrase",
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
