//! `--json`: one JSON object per packet, one per line. The schema is documented in
//! docs/src/inspect-json.md; it is our own (not the model's serde form) so it can stay stable
//! while the model grows.

use std::io::{self, Write};

use serde::{Serialize, Serializer};

use super::{Clock, endpoints, info, rfc3339, top_protocol};
use crate::model::{Field, FlowAnnotation, Layer, Packet, Reason, Timestamp, Value};

#[derive(Serialize)]
struct PacketJson<'a> {
    number: u64,
    /// RFC 3339, UTC, nanoseconds.
    time: String,
    ts: Timestamp,
    /// Seconds since the first packet of the capture.
    time_relative: f64,
    link_type: u32,
    orig_len: u32,
    cap_len: usize,
    src: String,
    dst: String,
    protocol: &'a str,
    chain: String,
    info: String,
    layers: Vec<LayerJson<'a>>,
    flow: Option<&'a FlowAnnotation>,
    malformed: Option<&'a str>,
}

#[derive(Serialize)]
struct LayerJson<'a> {
    protocol: &'a str,
    osi: u8,
    osi_name: &'a str,
    tcpip: &'a str,
    summary: &'a str,
    /// Byte range in the frame, end exclusive.
    start: usize,
    end: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<ReasonJson>,
    notes: Vec<&'a str>,
    fields: Vec<FieldJson<'a>>,
}

#[derive(Serialize)]
struct ReasonJson {
    by: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
}

#[derive(Serialize)]
struct FieldJson<'a> {
    name: &'a str,
    label: &'a str,
    value: ValueJson<'a>,
    offset: usize,
    len: usize,
}

/// Numbers and booleans stay JSON numbers and booleans; bytes become "aa:bb:cc" like Wireshark
/// prints them; everything else (text, addresses) is its display text.
struct ValueJson<'a>(&'a Value);

impl Serialize for ValueJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Bool(b) => s.serialize_bool(*b),
            Value::U64(n) => s.serialize_u64(*n),
            Value::Text(t) => s.serialize_str(t),
            other => s.collect_str(other),
        }
    }
}

/// Write one packet as one line of JSON.
pub fn write(w: &mut impl Write, p: &Packet, clock: &mut Clock) -> io::Result<()> {
    clock.saw(p.raw.ts);
    let (src, dst) = endpoints(p);
    let obj = PacketJson {
        number: p.number,
        time: rfc3339(p.raw.ts),
        ts: p.raw.ts,
        time_relative: clock.relative(p.raw.ts),
        link_type: p.raw.link_type.0,
        orig_len: p.raw.orig_len,
        cap_len: p.raw.bytes.len(),
        src,
        dst,
        protocol: top_protocol(p),
        chain: p.dissection.chain(),
        info: info(p),
        layers: p.dissection.layers.iter().map(layer).collect(),
        flow: p.flow.as_ref(),
        malformed: p.dissection.malformed.as_deref(),
    };
    serde_json::to_writer(&mut *w, &obj)?;
    w.write_all(b"\n")
}

fn layer(l: &Layer) -> LayerJson<'_> {
    LayerJson {
        protocol: l.protocol,
        osi: l.osi.number(),
        osi_name: l.osi.name(),
        tcpip: l.tcpip.name(),
        summary: &l.summary,
        start: l.byte_range.start,
        end: l.byte_range.end,
        reason: l.reason.as_ref().map(|r| match r {
            Reason::Port(p) => ReasonJson {
                by: "port",
                port: Some(*p),
            },
            Reason::Content => ReasonJson {
                by: "content",
                port: None,
            },
            Reason::Upgrade => ReasonJson {
                by: "upgrade",
                port: None,
            },
        }),
        notes: l.notes.iter().map(|n| &n[..]).collect(),
        fields: l.fields.iter().map(field).collect(),
    }
}

fn field(f: &Field) -> FieldJson<'_> {
    FieldJson {
        name: f.name,
        label: f.label,
        value: ValueJson(&f.value),
        offset: f.offset,
        len: f.len,
    }
}
