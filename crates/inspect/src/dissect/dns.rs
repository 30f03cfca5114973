//! DNS (RFC 1035): header, questions and resource records, with name compression.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use super::text::Line;
use super::{Dissector, LayerBuilder, Malformed};
use crate::model::{OsiLayer, Reason, TcpIpLayer, Value};

/// Every field name this module can emit: the filter rejects names outside
/// [`super::field_names`], and `field_registry_covers_fixtures` keeps this list honest.
pub(crate) const FIELDS: &[&str] = &[
    "dns.a",
    "dns.aaaa",
    "dns.cname",
    "dns.count.add_rr",
    "dns.count.answers",
    "dns.count.auth_rr",
    "dns.count.queries",
    "dns.flags",
    "dns.flags.authoritative",
    "dns.flags.opcode",
    "dns.flags.rcode",
    "dns.flags.recavail",
    "dns.flags.recdesired",
    "dns.flags.response",
    "dns.flags.truncated",
    "dns.id",
    "dns.length",
    "dns.mx.mail_exchange",
    "dns.mx.preference",
    "dns.ns",
    "dns.ptr.domain_name",
    "dns.qry.class",
    "dns.qry.name",
    "dns.qry.type",
    "dns.resp.class",
    "dns.resp.len",
    "dns.resp.name",
    "dns.resp.ttl",
    "dns.resp.type",
    "dns.txt",
];

mod field {
    pub const ID: usize = 0;
    pub const FLAGS: usize = 2;
    pub const QDCOUNT: usize = 4;
    pub const ANCOUNT: usize = 6;
    pub const NSCOUNT: usize = 8;
    pub const ARCOUNT: usize = 10;
    pub const HEADER_LEN: usize = 12;
}

/// A name is at most 255 bytes on the wire (RFC 1035 2.3.4).
const MAX_NAME: usize = 255;
/// Compression pointers followed per name. Pointers must also point backwards, which alone
/// rules out loops; the cap bounds the work for a long backward chain.
const MAX_POINTERS: usize = 64;
/// Records decoded per message: real messages have a handful; this bounds hostile counts.
const MAX_RECORDS: usize = 256;

pub(super) fn dissect(d: &mut Dissector, payload: Range<usize>, reason: Reason, tcp: bool) {
    let mut lb = d.layer(
        payload.start,
        payload.end,
        "DNS",
        OsiLayer::Application,
        TcpIpLayer::Application,
    );
    lb.reason(reason);
    let r = decode(&mut lb, tcp);
    d.push_result(lb, r);
}

fn decode(lb: &mut LayerBuilder, tcp: bool) -> Result<((), String), Malformed> {
    // Over TCP each message is preceded by its length (RFC 1035 4.2.2).
    let base = if tcp {
        lb.u16(0, "dns.length", "Length")?;
        2
    } else {
        0
    };
    lb.need(base + field::HEADER_LEN)?;
    let msg = lb.slice(base..lb.available())?;
    let id = lb.u16(base + field::ID, "dns.id", "Transaction ID")?;
    let flags = lb.u16(base + field::FLAGS, "dns.flags", "Flags")?;
    let fr = base + field::FLAGS..base + field::FLAGS + 2;
    let response = flags & 0x8000 != 0;
    lb.flag(fr.clone(), "dns.flags.response", "Response", response);
    lb.bits(
        fr.clone(),
        "dns.flags.opcode",
        "Opcode",
        ((flags >> 11) & 0xf).into(),
    );
    if response {
        lb.flag(
            fr.clone(),
            "dns.flags.authoritative",
            "Authoritative",
            flags & 0x0400 != 0,
        );
    }
    lb.flag(
        fr.clone(),
        "dns.flags.truncated",
        "Truncated",
        flags & 0x0200 != 0,
    );
    lb.flag(
        fr.clone(),
        "dns.flags.recdesired",
        "Recursion desired",
        flags & 0x0100 != 0,
    );
    if response {
        lb.flag(
            fr.clone(),
            "dns.flags.recavail",
            "Recursion available",
            flags & 0x0080 != 0,
        );
        lb.bits(
            fr.clone(),
            "dns.flags.rcode",
            "Reply code",
            (flags & 0xf).into(),
        );
    }
    let qd = lb.u16(base + field::QDCOUNT, "dns.count.queries", "Questions")?;
    let an = lb.u16(base + field::ANCOUNT, "dns.count.answers", "Answer RRs")?;
    let ns = lb.u16(base + field::NSCOUNT, "dns.count.auth_rr", "Authority RRs")?;
    let ar = lb.u16(base + field::ARCOUNT, "dns.count.add_rr", "Additional RRs")?;
    lb.cover(base + field::HEADER_LEN);

    let mut r = Reader {
        lb,
        msg,
        base,
        at: field::HEADER_LEN,
    };
    // Built with `Line`, not `format!`: DNS is a fifth of a typical lab capture.
    let mut summary = Line::new();
    if (flags >> 11) & 0xf != 0 {
        summary
            .s("DNS opcode ")
            .n((flags >> 11) & 0xf)
            .s(" ")
            .hex4(id);
    } else {
        summary
            .s("Standard query")
            .s(if response { " response" } else { "" })
            .s(" ")
            .hex4(id);
    }
    if response && flags & 0xf != 0 {
        summary.s(" ").s(rcode_name(flags & 0xf));
    }
    let mut budget = MAX_RECORDS;
    for _ in 0..qd {
        if budget == 0 {
            break;
        }
        budget -= 1;
        let (name, ty) = r.question()?;
        summary.s(" ").s(type_name(ty)).s(" ").s(&name);
    }
    for (count, _section) in [(an, "answer"), (ns, "authority"), (ar, "additional")] {
        for _ in 0..count {
            if budget == 0 {
                break;
            }
            budget -= 1;
            let rdata = r.record()?;
            if _section == "answer" {
                summary.s(" ").s(&rdata);
            }
        }
    }
    if budget == 0 {
        r.lb.note(format!("only the first {MAX_RECORDS} records are decoded"));
    }
    let end = r.at;
    r.lb.cover(base + end);
    Ok(((), summary.done()))
}

/// Walks a DNS message, recording fields as it goes. `at` is an offset in `msg`; fields are
/// placed at `base + at` in the layer (after the TCP length prefix, if any).
struct Reader<'l, 'a> {
    lb: &'l mut LayerBuilder<'a>,
    msg: &'a [u8],
    base: usize,
    at: usize,
}

impl Reader<'_, '_> {
    fn u16(&self, at: usize) -> Result<u16, Malformed> {
        self.lb.read_u16(self.base + at)
    }

    fn question(&mut self) -> Result<(String, u16), Malformed> {
        let (name, len) = self.name(self.at)?;
        let at = self.at;
        self.lb.field_with(
            self.base + at..self.base + at + len,
            "dns.qry.name",
            "Name",
            || Value::Text(name.clone()),
        );
        let ty = self.u16(at + len)?;
        self.lb.field(
            self.base + at + len..self.base + at + len + 2,
            "dns.qry.type",
            "Type",
            Value::U64(ty.into()),
        );
        self.lb
            .u16(self.base + at + len + 2, "dns.qry.class", "Class")?;
        self.at = at + len + 4;
        self.lb.cover(self.base + self.at);
        Ok((name, ty))
    }

    /// One resource record; returns its data as text for the summary ("A 127.0.0.1").
    fn record(&mut self) -> Result<String, Malformed> {
        let at = self.at;
        let (name, len) = self.name(at)?;
        let b = self.base + at + len;
        self.lb
            .field_with(self.base + at..b, "dns.resp.name", "Name", || {
                Value::Text(name)
            });
        let ty = self.lb.u16(b, "dns.resp.type", "Type")?;
        let class = self.lb.read_u16(b + 2)?;
        // mDNS borrows the class's top bit as "cache flush".
        self.lb.field(
            b + 2..b + 4,
            "dns.resp.class",
            "Class",
            Value::U64((class & 0x7fff).into()),
        );
        self.lb.u32(b + 4, "dns.resp.ttl", "Time to live")?;
        let rdlen = usize::from(self.lb.u16(b + 8, "dns.resp.len", "Data length")?);
        let rd = b + 10;
        let rdata = self.lb.slice(rd..rd + rdlen)?;
        let text = self.rdata(ty, rd, rdata)?;
        self.at = at + len + 10 + rdlen;
        self.lb.cover(self.base + self.at);
        let name = type_name(ty);
        let mut line = String::with_capacity(name.len() + 1 + text.len());
        line.push_str(name);
        line.push(' ');
        line.push_str(&text);
        Ok(line)
    }

    fn rdata(&mut self, ty: u16, rd: usize, rdata: &[u8]) -> Result<String, Malformed> {
        let r = rd..rd + rdata.len();
        Ok(match (ty, rdata.len()) {
            (1, 4) => {
                let a = Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]);
                self.lb.field(r, "dns.a", "Address", Value::Ipv4(a));
                Line::new().ipv4(a).done()
            }
            (28, 16) => {
                let mut raw = [0u8; 16];
                raw.copy_from_slice(rdata);
                let a = Ipv6Addr::from(raw);
                self.lb.field(r, "dns.aaaa", "AAAA address", Value::Ipv6(a));
                a.to_string()
            }
            (2 | 5 | 12, _) => {
                let (name, _) = self.name(rd - self.base)?;
                let fname = match ty {
                    2 => "dns.ns",
                    5 => "dns.cname",
                    _ => "dns.ptr.domain_name",
                };
                self.lb
                    .field_with(r, fname, "Name", || Value::Text(name.clone()));
                name
            }
            (15, 3..) => {
                let pref = u16::from_be_bytes([rdata[0], rdata[1]]);
                self.lb.field(
                    rd..rd + 2,
                    "dns.mx.preference",
                    "Preference",
                    Value::U64(pref.into()),
                );
                let (name, _) = self.name(rd - self.base + 2)?;
                self.lb.field_with(
                    rd + 2..r.end,
                    "dns.mx.mail_exchange",
                    "Mail exchange",
                    || Value::Text(name.clone()),
                );
                format!("{pref} {name}")
            }
            (16, 1..) => {
                let n = usize::from(rdata[0]).min(rdata.len() - 1);
                let text = String::from_utf8_lossy(&rdata[1..1 + n]).into_owned();
                self.lb.field_with(rd..rd + 1 + n, "dns.txt", "Text", || {
                    Value::Text(text.clone())
                });
                text
            }
            _ => format!("({} bytes)", rdata.len()),
        })
    }

    /// Read the name at `start` (see [`Self::raw_name`]); a compression loop is reported in a
    /// note and the name shown as Wireshark shows it, and decoding goes on: the bytes the name
    /// takes in place are known, so the rest of the message can still be read.
    fn name(&mut self, start: usize) -> Result<(String, usize), Malformed> {
        let (name, len, looped) = self.raw_name(start)?;
        if let Some(at) = looped {
            self.lb.note(format!(
                "malformed name: the compression pointer at message offset {at} does not point backwards, so following it would loop forever"
            ));
            return Ok(("<Name contains a pointer that loops>".to_string(), len));
        }
        Ok((name, len))
    }

    /// Read the name at `start`: returns it in dotted form, the bytes it takes in place (a
    /// pointer takes two, whatever it points to), and where a looping pointer was found.
    fn raw_name(&self, start: usize) -> Result<(String, usize, Option<usize>), Malformed> {
        let mut name = String::new();
        let mut at = start;
        let mut in_place = None;
        let mut pointers = 0;
        loop {
            let len = *self.msg.get(at).ok_or_else(|| self.truncated(at))?;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    let in_place = in_place.unwrap_or_else(|| at + 1 - start);
                    if name.is_empty() {
                        name.push_str("<Root>");
                    }
                    return Ok((name, in_place, None));
                }
                0x00 => {
                    let label = self
                        .msg
                        .get(at + 1..at + 1 + usize::from(len))
                        .ok_or_else(|| self.truncated(at))?;
                    if !name.is_empty() {
                        name.push('.');
                    }
                    name.extend(
                        label
                            .iter()
                            .map(|&c| if c.is_ascii_graphic() { c as char } else { '?' }),
                    );
                    if name.len() > MAX_NAME {
                        return Err(self.invalid(start, "name longer than 255 bytes"));
                    }
                    at += 1 + usize::from(len);
                }
                0xc0 => {
                    let lo = *self.msg.get(at + 1).ok_or_else(|| self.truncated(at))?;
                    let target = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
                    let in_place = *in_place.get_or_insert_with(|| at + 2 - start);
                    pointers += 1;
                    // Pointing backwards only: a pointer to itself or forward could loop.
                    if target >= at || pointers > MAX_POINTERS {
                        return Ok((name, in_place, Some(at)));
                    }
                    at = target;
                }
                _ => return Err(self.invalid(at, format!("label type 0x{len:02x} is reserved"))),
            }
        }
    }

    fn truncated(&self, at: usize) -> Malformed {
        self.lb.truncated(self.base + at + 1)
    }

    fn invalid(&self, at: usize, what: impl Into<std::borrow::Cow<'static, str>>) -> Malformed {
        self.lb.invalid(self.base + at, what)
    }
}

fn type_name(ty: u16) -> &'static str {
    match ty {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        41 => "OPT",
        65 => "HTTPS",
        255 => "ANY",
        _ => "TYPE?",
    }
}

fn rcode_name(rcode: u16) -> &'static str {
    match rcode {
        1 => "Format error",
        2 => "Server failure",
        3 => "No such name",
        4 => "Not implemented",
        5 => "Refused",
        _ => "Error",
    }
}
