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

pub mod follow;
pub mod hex;
pub mod json;
pub mod line;
pub mod stats;
pub mod tree;

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::model::{Dotted, OsiLayer, Packet, Timestamp};

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

    /// Format the time column for a packet being shown, and remember it for the next delta.
    /// Relative and delta times are worked out from the integer nanoseconds, so they are
    /// exact to the microsecond whatever the capture's epoch.
    pub fn column(&mut self, ts: Timestamp, format: TimeFormat) -> String {
        let mut text = String::new();
        self.write_column(&mut text, ts, format);
        text
    }

    /// [`Clock::column`], appended to `out`.
    pub fn write_column(&mut self, out: &mut String, ts: Timestamp, format: TimeFormat) {
        self.saw(ts);
        match format {
            TimeFormat::Abs => {
                let s = ts.secs.rem_euclid(86_400);
                let (h, m, s, us) = (s / 3600, s / 60 % 60, s % 60, ts.nanos / 1000);
                // Writing to a String does not fail.
                let _ = write!(out, "{h:02}:{m:02}:{s:02}.{us:06}");
            }
            TimeFormat::Rel => write_micros_6(out, ts, self.first.unwrap_or(ts)),
            TimeFormat::Delta => write_micros_6(out, ts, self.prev.unwrap_or(ts)),
        }
        self.prev = Some(ts);
    }
}

/// `a - b` in seconds with six decimals, e.g. `0.000421` or `-1.500000` (a half microsecond
/// rounds away from zero).
fn write_micros_6(out: &mut String, a: Timestamp, b: Timestamp) {
    let nanos = i128::from(a.secs) * 1_000_000_000 + i128::from(a.nanos)
        - i128::from(b.secs) * 1_000_000_000
        - i128::from(b.nanos);
    let micros = (nanos.unsigned_abs() + 500) / 1000;
    // Written with `push_str` and `itoa` rather than `write!`, as the one-line view's other
    // columns are (see `line::row`).
    let mut num = itoa::Buffer::new();
    out.push_str(if nanos < 0 { "-" } else { "" });
    out.push_str(num.format(micros / 1_000_000));
    out.push('.');
    let fraction = num.format(micros % 1_000_000);
    for _ in fraction.len()..6 {
        out.push('0');
    }
    out.push_str(fraction);
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
        let show = |ip, port| {
            let mut text = String::new();
            push_endpoint(&mut text, ip, port);
            text
        };
        return (show(e.src, e.src_port), show(e.dst, e.dst_port));
    }
    let value = |names: &[&str]| {
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
        join(src_addr, value(&["tcp.srcport", "udp.srcport"])),
        join(dst_addr, value(&["tcp.dstport", "udp.dstport"])),
    )
}

/// An address and, for TCP and UDP, its port, as the address columns show them:
/// `127.0.0.1:7007`, `[::1]:7007`, `::1`.
pub(crate) fn push_endpoint(line: &mut String, addr: IpAddr, port: Option<u16>) {
    match addr {
        IpAddr::V4(a) => line.push_str(Dotted::new(a).as_str()),
        // Writing to a String does not fail.
        IpAddr::V6(a) if port.is_some() => {
            let _ = write!(line, "[{a}]");
        }
        IpAddr::V6(a) => {
            let _ = write!(line, "{a}");
        }
    }
    if let Some(port) = port {
        line.push(':');
        line.push_str(itoa::Buffer::new().format(port));
    }
}

/// The Protocol column: the innermost decoded layer (a "malformed" layer names the one before).
pub fn top_protocol(p: &Packet) -> &'static str {
    p.dissection.top_layer().map_or("-", |l| l.protocol.name())
}

/// The Info column: the innermost layer's summary, flow hints first ("[SYN, handshake 1/3]").
/// A hint's explanation after ": " is left to the tree view, to keep the line short.
pub fn info(p: &Packet) -> String {
    let mut out = String::new();
    write_info(&mut out, p);
    out
}

/// [`info`], appended to `out`.
pub(crate) fn write_info(out: &mut String, p: &Packet) {
    let start = out.len();
    if let Some(flow) = &p.flow {
        for (i, note) in flow.notes.iter().enumerate() {
            out.push_str(if i == 0 { "[" } else { "; " });
            out.push_str(note.split(": ").next().unwrap_or(note));
        }
        if !flow.notes.is_empty() {
            out.push_str("] ");
        }
    }
    if let Some(top) = p.dissection.top_layer() {
        // Writing to a String does not fail.
        let _ = write!(out, "{}", top.summary);
    }
    if let Some(why) = &p.dissection.malformed {
        if out.len() > start {
            out.push(' ');
        }
        out.push_str("[malformed: ");
        out.push_str(why);
        out.push(']');
    }
}

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
