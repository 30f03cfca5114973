//! Renderers: what a student sees. Each view writes to any `io::Write`, one packet at a time, so
//! output streams as packets arrive.
//!
//! - [`line`](mod@line): one line per packet (number, time, source, destination, protocol, length, the
//!   layer chain, info).
//! - [`tree`]: `--detail`, the layer tree with every field's offset, length and value.
//! - [`hex`]: `--hex`, a hex dump coloured by layer, with a legend and an optional field
//!   highlighted.
//! - [`json`]: `--json`, one object per packet (schema in docs/src/inspect-json.md).
//! - [`stats`]: `--stats`, the protocol hierarchy, bytes per layer, and conversations.
//! - [`follow`]: the reassembled payload of one TCP stream, both sides interleaved.
//!
//! Colour is plain ANSI and off when NO_COLOR is set or the output is not a terminal.

pub(crate) mod bytes;
pub mod follow;
pub mod hex;
pub mod json;
pub mod line;
pub mod stats;
pub mod tree;

mod recent;

use std::io::Write as _;

use crate::model::{OsiLayer, Packet, Protocol, Summary, Timestamp};

/// What identifies a layer in a layer chain: its protocol and its OSI number. The views
/// remember the chain text of recent packets by it.
pub(crate) type LayerKey = (Protocol, u8);

pub(crate) fn layer_key(l: &crate::model::Layer) -> LayerKey {
    (l.protocol, l.osi.number())
}

/// Whether `keys` are the [`layer_key`]s of `layers`.
pub(crate) fn same_layers(keys: &[LayerKey], layers: &[crate::model::Layer]) -> bool {
    keys.len() == layers.len() && keys.iter().zip(layers).all(|(k, l)| *k == layer_key(l))
}

/// Whether to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub const PLAIN: Style = Style { color: false };
    pub const COLOR: Style = Style { color: true };

    /// Colour only for a terminal, and never when NO_COLOR is set (<https://no-color.org>).
    pub fn detect(is_terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: is_terminal && !no_color,
        }
    }

    /// Wrap `text` in an ANSI SGR code when colouring.
    pub fn paint(self, code: &str, text: &str) -> String {
        if self.color && !code.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// The colour of an OSI layer: the same everywhere (chain, tree, hex dump, legend), so a student
/// learns "blue is the link layer" once.
pub fn layer_color(osi: OsiLayer, malformed: bool) -> &'static str {
    if malformed {
        return "31"; // red
    }
    match osi {
        OsiLayer::Physical | OsiLayer::DataLink => "34", // blue
        OsiLayer::Network => "32",                       // green
        OsiLayer::Transport => "33",                     // yellow
        OsiLayer::Session | OsiLayer::Presentation => "36", // cyan
        OsiLayer::Application => "35",                   // magenta
    }
}

/// Which time to show in the time column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// Wall-clock time of day, UTC.
    Abs,
    /// Seconds since the first packet of the capture.
    #[default]
    Rel,
    /// Seconds since the previous packet shown.
    Delta,
}

/// Remembers the first and previous timestamps for relative and delta times.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    first: Option<Timestamp>,
    prev: Option<Timestamp>,
}

impl Clock {
    /// Note a packet read from the source (shown or not): the first one fixes time zero.
    pub fn saw(&mut self, ts: Timestamp) {
        self.first.get_or_insert(ts);
    }

    /// Seconds since the first packet.
    pub fn relative(&self, ts: Timestamp) -> f64 {
        diff(ts, self.first.unwrap_or(ts))
    }

    /// [`Clock::relative`] as the JSON view writes it: serde_json's text of that float (see
    /// [`relative_json`]).
    pub(crate) fn relative_json_into(&self, o: &mut Vec<u8>, ts: Timestamp) {
        relative_json(o, ts, self.first.unwrap_or(ts));
    }

    /// Format the time column for a packet being shown, and remember it for the next delta.
    pub fn column(&mut self, ts: Timestamp, format: TimeFormat) -> String {
        let mut o = Vec::with_capacity(16);
        self.column_into(&mut o, ts, format);
        // Only ASCII digits, '-', '.' and ':' are written.
        String::from_utf8(o).unwrap_or_default()
    }

    /// [`Clock::column`] appended to a buffer, without a `String` per packet. Relative and
    /// delta times are written from the integer nanoseconds (no float formatting, which was
    /// 4 % of the one-line view): the same text as `{:.6}` of the float, except that an exact
    /// half microsecond rounds up here, where the float's rounding depends on its binary error.
    pub(crate) fn column_into(&mut self, o: &mut Vec<u8>, ts: Timestamp, format: TimeFormat) {
        self.saw(ts);
        match format {
            TimeFormat::Abs => bytes::time_of_day_into(o, ts),
            TimeFormat::Rel => micros_6(o, ts, self.first.unwrap_or(ts)),
            TimeFormat::Delta => micros_6(o, ts, self.prev.unwrap_or(ts)),
        }
        self.prev = Some(ts);
    }
}

/// `a - b` in seconds as serde_json prints the `f64` [`Clock::relative`] gives (the JSON
/// view's `time_relative`), written from the integer nanoseconds where that is provably the
/// same text: formatting the float (serde_json's shortest round-trip digits) was 3 % of the
/// JSON view.
///
/// Why it is the same text: the difference `d` nanoseconds is exact as an `f64` below 2^53,
/// and `d as f64 / 1e9` is then the correctly rounded quotient, the double nearest to the
/// decimal `d / 10^9`. When the float the clock computes (a sum of two rounded parts) is that
/// very double, and the decimal has at most 15 significant digits, that decimal is the
/// shortest text that reads back as the double (two decimals of at most 15 digits never round
/// to the same double), which is what serde_json prints, in its notation: plain decimals from
/// 1e-5 up, `1.234e-6` below. Anything else (a sum that rounded differently, more than 15
/// digits) goes to serde_json itself. The tests compare the two over many differences.
fn relative_json(o: &mut Vec<u8>, a: Timestamp, b: Timestamp) {
    let float = diff(a, b);
    let nanos = nanos_between(a, b).filter(|n| n.unsigned_abs() < 1_000_000_000_000_000);
    match nanos {
        Some(d) if (d as f64 / 1e9).to_bits() == float.to_bits() => exact_seconds(o, d),
        _ => {
            // serde_json writes to a Vec without failing.
            let _ = serde_json::to_writer(&mut *o, &float);
        }
    }
}

/// `d` nanoseconds as seconds in serde_json's notation for floats: `0.0`, `1.5`, `0.00042`,
/// and below 1e-5 `4.2e-6`; `|d|` is below 10^15.
fn exact_seconds(o: &mut Vec<u8>, d: i64) {
    if d < 0 {
        o.push(b'-');
    }
    let n = d.unsigned_abs();
    if n == 0 {
        o.extend_from_slice(b"0.0");
    } else if n < 10_000 {
        // Scientific: the significant digits, a point after the first, and the exponent.
        let mut m = n;
        let mut exp: i32 = -9;
        while m % 10 == 0 {
            m /= 10;
            exp += 1;
        }
        let len = bytes::digits(m);
        let at = o.len();
        bytes::num(o, m);
        if len > 1 {
            o.insert(at + 1, b'.');
        }
        o.extend_from_slice(b"e-");
        bytes::num(o, u64::from((len as i32 - 1 + exp).unsigned_abs()));
    } else {
        bytes::num(o, n / 1_000_000_000);
        o.push(b'.');
        let frac = n % 1_000_000_000;
        if frac == 0 {
            o.push(b'0');
        } else {
            // Nine digits without the zeros at the end.
            let mut digits = [0; 9];
            bytes::nine_digits(&mut digits, frac as u32);
            let len = 9 - digits.iter().rev().take_while(|&&d| d == b'0').count();
            o.extend_from_slice(&digits[..len]);
        }
    }
}

/// `a - b` in nanoseconds, when that fits in an `i64` (any two times less than 292 years
/// apart).
fn nanos_between(a: Timestamp, b: Timestamp) -> Option<i64> {
    a.secs
        .checked_sub(b.secs)
        .and_then(|s| s.checked_mul(1_000_000_000))
        .and_then(|n| n.checked_add(i64::from(a.nanos) - i64::from(b.nanos)))
}

/// `a - b` in seconds with six decimals, e.g. `0.000421` or `-1.500000`.
fn micros_6(o: &mut Vec<u8>, a: Timestamp, b: Timestamp) {
    // In 64 bits when the difference fits (any capture shorter than 292 years): 128-bit
    // division is a library call that cost more than the rest of the column.
    let Some(nanos) = nanos_between(a, b) else {
        let nanos = i128::from(a.secs) * 1_000_000_000 + i128::from(a.nanos)
            - i128::from(b.secs) * 1_000_000_000
            - i128::from(b.nanos);
        let micros = (nanos.unsigned_abs() + 500) / 1000;
        let sign = if nanos < 0 { "-" } else { "" };
        let _ = write!(o, "{sign}{}.{:06}", micros / 1_000_000, micros % 1_000_000);
        return;
    };
    let micros = (nanos.unsigned_abs() + 500) / 1000;
    if nanos < 0 {
        o.push(b'-');
    }
    bytes::num(o, micros / 1_000_000);
    o.push(b'.');
    // Six digits: the last six of the eight `eight_digits` gives for a number below 10^6.
    let frac = bytes::eight_digits((micros % 1_000_000) as u32) | bytes::ZEROS;
    o.extend_from_slice(&frac.to_le_bytes()[2..]);
}

fn diff(a: Timestamp, b: Timestamp) -> f64 {
    (a.secs - b.secs) as f64 + (f64::from(a.nanos) - f64::from(b.nanos)) / 1e9
}

/// "HH:MM:SS.uuuuuu" in UTC.
pub fn time_of_day(ts: Timestamp) -> String {
    let s = ts.secs.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ts.nanos / 1000
    )
}

/// RFC 3339 UTC with nanoseconds: "2026-11-26T05:06:00.123456789Z".
pub fn rfc3339(ts: Timestamp) -> String {
    let days = ts.secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let s = ts.secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ts.nanos
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar, by counting
/// 400-year eras of 146097 days and placing the year's start in March (so leap days come last).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Who sent a packet and to whom, for the Source and Destination columns: the outermost IP
/// addresses with TCP/UDP ports (`127.0.0.1:7007`, `[::1]:7007`), else ARP or MAC addresses.
pub fn endpoints(p: &Packet) -> (String, String) {
    let d = &p.dissection;
    // Fast path: the dissector already pulled out the outermost IP addresses and ports.
    if let Some(e) = &d.endpoints {
        let show = |ip: std::net::IpAddr, port: Option<u16>| match (ip, port) {
            (std::net::IpAddr::V6(a), Some(port)) => format!("[{a}]:{port}"),
            (a, Some(port)) => format!("{a}:{port}"),
            (a, None) => a.to_string(),
        };
        return (show(e.src, e.src_port), show(e.dst, e.dst_port));
    }
    let value = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| d.field(n))
            .map(|f| f.value.to_string())
    };
    let port = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| d.field(n))
            .map(|f| f.value.to_string())
    };
    let ip6 = d.field("ipv6.src").is_some() && d.field("ip.src").is_none();
    let join = |addr: Option<String>, port: Option<String>| match (addr, port) {
        (Some(a), Some(p)) if ip6 => format!("[{a}]:{p}"),
        (Some(a), Some(p)) => format!("{a}:{p}"),
        (Some(a), None) => a,
        (None, _) => "-".to_string(),
    };
    let src_addr = value(&[
        "ip.src",
        "ipv6.src",
        "arp.src.proto_ipv4",
        "eth.src",
        "sll.src.eth",
    ]);
    let dst_addr = value(&["ip.dst", "ipv6.dst", "arp.dst.proto_ipv4", "eth.dst"]);
    (
        join(src_addr, port(&["tcp.srcport", "udp.srcport"])),
        join(dst_addr, port(&["tcp.dstport", "udp.dstport"])),
    )
}

/// The Protocol column: the innermost decoded layer (a "malformed" layer names the one before).
pub fn top_protocol(p: &Packet) -> &'static str {
    p.dissection.top_layer().map_or("-", |l| l.protocol.name())
}

/// The Info column: the innermost layer's summary, flow hints first ("[SYN, handshake 1/3]").
/// A hint's explanation after ": " is left to the tree view, to keep the line short.
pub fn info(p: &Packet) -> String {
    let mut out = String::new();
    info_pieces(p, |piece| match piece {
        Piece::Text(t) => out.push_str(t),
        Piece::Summary(s) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{s}");
        }
    });
    out
}

/// A piece of the Info column: text, or the top layer's summary, which a view writes straight
/// into its output (see [`Summary`]).
pub(crate) enum Piece<'a> {
    Text(&'a str),
    Summary(&'a Summary),
}

/// The Info column as a sequence of pieces, so the views can write (and JSON-escape) it in place
/// instead of building a `String` per packet.
pub(crate) fn info_pieces<'p>(p: &'p Packet, mut put: impl FnMut(Piece<'p>)) {
    let mut empty = true;
    if let Some(flow) = &p.flow {
        for (i, n) in flow.notes.iter().enumerate() {
            put(Piece::Text(if i == 0 { "[" } else { "; " }));
            put(Piece::Text(n.split(": ").next().unwrap_or(n)));
            empty = false;
        }
        if !empty {
            put(Piece::Text("] "));
        }
    }
    if let Some(last) = p.dissection.top_layer() {
        put(Piece::Summary(&last.summary));
        empty &= last.summary.is_empty();
    }
    if let Some(why) = &p.dissection.malformed {
        if !empty {
            put(Piece::Text(" "));
        }
        put(Piece::Text("[malformed: "));
        put(Piece::Text(why));
        put(Piece::Text("]"));
    }
}

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
