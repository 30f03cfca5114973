//! `--json`: one JSON object per packet, one per line, in two schemas (both documented in
//! docs/src/inspect-json.md):
//!
//! - [`write()`], the default ("lean"): what a script needs (addresses, the chain, every field's
//!   value under its filter name) in about a third of the bytes of the full form.
//! - [`write_detailed`], `--json --detail`: everything the tree view shows, each field with its
//!   label, offset and length, and every layer's teaching notes.
//!
//! Each schema is a small struct that borrows from the [`Packet`] and derives `Serialize`;
//! serde_json writes it. The structs are the schema, key order included, kept apart from the
//! model's own serde form so that the documented output stays stable while the model grows.

use std::io::{self, Write};

use rustc_hash::FxHashMap;
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use super::{Clock, endpoints, info, rfc3339, top_protocol};
use crate::model::{Field, FlowAnnotation, Layer, Packet, Reason, Summary, Value};

/// Write one packet as one line of JSON in the lean (default) schema.
pub fn write(w: &mut impl Write, p: &Packet, clock: &mut Clock) -> io::Result<()> {
    clock.saw(p.raw.ts);
    let (src, dst) = endpoints(p);
    let flow = p.flow.as_ref();
    let packet = LeanPacket {
        head: Head::new(p, clock, &src, &dst),
        stream: flow.map(|f| f.stream),
        flow_notes: flow.map_or(&[][..], |f| &f.notes),
        rel_seq: flow.and_then(|f| f.rel_seq),
        rel_ack: flow.and_then(|f| f.rel_ack),
        malformed: p.dissection.malformed.as_deref(),
        layers: p.dissection.layers.iter().map(LeanLayer::new).collect(),
    };
    line(w, &packet)
}

/// Write one packet as one line of JSON in the full schema (`--json --detail`).
pub fn write_detailed(w: &mut impl Write, p: &Packet, clock: &mut Clock) -> io::Result<()> {
    clock.saw(p.raw.ts);
    let (src, dst) = endpoints(p);
    let packet = FullPacket {
        head: FullHead(Head::new(p, clock, &src, &dst)),
        layers: p.dissection.layers.iter().map(FullLayer::new).collect(),
        flow: p.flow.as_ref(),
        malformed: p.dissection.malformed.as_deref(),
    };
    line(w, &packet)
}

fn line(w: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *w, value)?;
    w.write_all(b"\n")
}

/// The keys both schemas start with, from `number` to `info`. The full schema also has `ts`,
/// which repeats `time` as numbers.
#[derive(Serialize)]
struct Head<'a> {
    number: u64,
    time: String,
    #[serde(skip)]
    ts: crate::model::Timestamp,
    time_relative: f64,
    link_type: u32,
    orig_len: u32,
    cap_len: usize,
    src: &'a str,
    dst: &'a str,
    protocol: &'static str,
    chain: String,
    info: String,
}

impl<'a> Head<'a> {
    fn new(p: &Packet, clock: &Clock, src: &'a str, dst: &'a str) -> Self {
        Head {
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
        }
    }
}

/// The lean schema: optional keys are left out instead of written as `null` or `[]`, and the
/// flow annotation is flattened into the packet, so `jq '.stream'` works without a `?`.
#[derive(Serialize)]
struct LeanPacket<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    flow_notes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    rel_seq: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rel_ack: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    malformed: Option<&'a str>,
    layers: Vec<LeanLayer<'a>>,
}

#[derive(Serialize)]
struct LeanLayer<'a> {
    protocol: &'static str,
    osi: u8,
    tcpip: &'static str,
    start: usize,
    end: usize,
    summary: &'a Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<WhyChosen>,
    fields: FieldsByName<'a>,
}

impl<'a> LeanLayer<'a> {
    fn new(l: &'a Layer) -> Self {
        LeanLayer {
            protocol: l.protocol.name(),
            osi: l.osi.number(),
            tcpip: l.tcpip.name(),
            start: l.byte_range.start,
            end: l.byte_range.end,
            summary: &l.summary,
            reason: l.reason.as_ref().map(WhyChosen::from),
            fields: FieldsByName(&l.fields),
        }
    }
}

/// The full schema: today's keys and order.
#[derive(Serialize)]
struct FullPacket<'a> {
    #[serde(flatten)]
    head: FullHead<'a>,
    layers: Vec<FullLayer<'a>>,
    flow: Option<&'a FlowAnnotation>,
    malformed: Option<&'a str>,
}

/// [`Head`] with `ts` after `time`: serde's `flatten` cannot put a key in the middle, so the
/// full schema spells its head out.
struct FullHead<'a>(Head<'a>);

impl Serialize for FullHead<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = &self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("number", &h.number)?;
        m.serialize_entry("time", &h.time)?;
        m.serialize_entry("ts", &h.ts)?;
        m.serialize_entry("time_relative", &h.time_relative)?;
        m.serialize_entry("link_type", &h.link_type)?;
        m.serialize_entry("orig_len", &h.orig_len)?;
        m.serialize_entry("cap_len", &h.cap_len)?;
        m.serialize_entry("src", h.src)?;
        m.serialize_entry("dst", h.dst)?;
        m.serialize_entry("protocol", h.protocol)?;
        m.serialize_entry("chain", &h.chain)?;
        m.serialize_entry("info", &h.info)?;
        m.end()
    }
}

#[derive(Serialize)]
struct FullLayer<'a> {
    protocol: &'static str,
    osi: u8,
    osi_name: &'static str,
    tcpip: &'static str,
    summary: &'a Summary,
    start: usize,
    end: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<WhyChosen>,
    notes: &'a [std::borrow::Cow<'static, str>],
    fields: &'a [Field],
}

impl<'a> FullLayer<'a> {
    fn new(l: &'a Layer) -> Self {
        FullLayer {
            protocol: l.protocol.name(),
            osi: l.osi.number(),
            osi_name: l.osi.name(),
            tcpip: l.tcpip.name(),
            summary: &l.summary,
            start: l.byte_range.start,
            end: l.byte_range.end,
            reason: l.reason.as_ref().map(WhyChosen::from),
            notes: &l.notes,
            fields: &l.fields,
        }
    }
}

/// Why an application protocol was chosen: `{"by":"port","port":53}`, `{"by":"content"}`,
/// `{"by":"upgrade"}`.
#[derive(Serialize)]
#[serde(tag = "by", rename_all = "lowercase")]
enum WhyChosen {
    Port { port: u16 },
    Content,
    Upgrade,
}

impl From<&Reason> for WhyChosen {
    fn from(r: &Reason) -> Self {
        match r {
            Reason::Port(port) => WhyChosen::Port { port: *port },
            Reason::Content => WhyChosen::Content,
            Reason::Upgrade => WhyChosen::Upgrade,
        }
    }
}

/// A layer's fields as one object, filter name → value, in the dissector's order. A name that
/// occurs more than once (TCP options, DNS answers, HTTP headers) becomes one key holding an
/// array of its values, at its first occurrence: duplicate keys are legal JSON, but jq and most
/// parsers silently keep only the last one.
struct FieldsByName<'a>(&'a [Field]);

impl Serialize for FieldsByName<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = self.0;
        // Each name's first place and how often it occurs, in one pass (a layer has dozens of
        // fields: comparing each with all the others would be most of the work).
        let mut names: FxHashMap<&str, (usize, usize)> =
            FxHashMap::with_capacity_and_hasher(fields.len(), Default::default());
        for (i, f) in fields.iter().enumerate() {
            names.entry(f.name).or_insert((i, 0)).1 += 1;
        }
        let mut m = s.serialize_map(Some(names.len()))?;
        for (i, f) in fields.iter().enumerate() {
            match names[f.name] {
                (first, _) if first != i => {} // written with the name's first occurrence
                (_, 1) => m.serialize_entry(f.name, &f.value)?,
                _ => {
                    let same = || fields[i..].iter().filter(|g| g.name == f.name);
                    m.serialize_entry(f.name, &Values(same))?;
                }
            }
        }
        m.end()
    }
}

/// The values of the fields an iterator yields, as a JSON array.
struct Values<F>(F);

impl<'a, F, I> Serialize for Values<F>
where
    F: Fn() -> I,
    I: Iterator<Item = &'a Field>,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for f in (self.0)() {
            seq.serialize_element::<Value>(&f.value)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    fn field(name: &'static str, value: u64) -> Field {
        Field {
            name,
            label: "",
            value: Value::U64(value),
            offset: 0,
            len: 1,
        }
    }

    #[test]
    fn repeated_names_become_one_array_at_their_first_place() {
        let fields = [
            field("tcp.srcport", 1),
            field("tcp.option_kind", 2),
            field("tcp.option_len", 4),
            field("tcp.option_kind", 1),
            field("tcp.option_kind", 3),
            field("tcp.window_size_value", 9),
        ];
        assert_eq!(
            serde_json::to_string(&FieldsByName(&fields)).unwrap(),
            r#"{"tcp.srcport":1,"tcp.option_kind":[2,1,3],"tcp.option_len":4,"tcp.window_size_value":9}"#
        );
        assert_eq!(serde_json::to_string(&FieldsByName(&[])).unwrap(), "{}");
    }

    proptest::proptest! {
        /// Whatever the order and repetition of names, each name is one key at its first place,
        /// holding its one value or the array of all its values in order.
        #[test]
        fn fields_group_by_name_in_first_seen_order(picks in proptest::collection::vec(0usize..4, 0..40)) {
            const NAMES: [&str; 4] = ["a.x", "a.y", "b", "a.xx"];
            let fields: Vec<Field> = picks
                .iter()
                .enumerate()
                .map(|(i, &n)| field(NAMES[n], i as u64))
                .collect();
            // The expected object, built the obvious way.
            let mut order: Vec<&str> = Vec::new();
            for f in &fields {
                if !order.contains(&f.name) {
                    order.push(f.name);
                }
            }
            let entries: Vec<String> = order
                .iter()
                .map(|name| {
                    let values: Vec<String> = fields
                        .iter()
                        .filter(|f| f.name == *name)
                        .map(|f| f.value.to_string())
                        .collect();
                    match values.as_slice() {
                        [one] => format!("\"{name}\":{one}"),
                        many => format!("\"{name}\":[{}]", many.join(",")),
                    }
                })
                .collect();
            let expected = format!("{{{}}}", entries.join(","));
            proptest::prop_assert_eq!(serde_json::to_string(&FieldsByName(&fields)).unwrap(), expected);
        }
    }

    #[test]
    fn reasons_say_by_what() {
        let json = |r: &Reason| serde_json::to_string(&WhyChosen::from(r)).unwrap();
        assert_eq!(json(&Reason::Port(53)), r#"{"by":"port","port":53}"#);
        assert_eq!(json(&Reason::Content), r#"{"by":"content"}"#);
        assert_eq!(json(&Reason::Upgrade), r#"{"by":"upgrade"}"#);
    }
}
