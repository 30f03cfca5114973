//! DNS (RFC 1035): header, questions and resource records, with name compression.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use super::{Dissector, LayerBuilder, Malformed};
use crate::model::{Protocol, Reason, Value};
use std::fmt::Write as _;

/// The message's fields, each declared once; the filter's registry takes their names from
/// `field::NAMES`. The header's fields are fixed within the header, which starts 2 bytes in
/// over TCP; a question's and a record's type and class are fixed after its name, whose
/// length varies; the data and the names themselves are where the dissector finds them.
pub(super) mod field {
    crate::model::fields! {
        /// Over TCP each message is preceded by its length (RFC 1035 4.2.2).
        LENGTH = "dns.length", "Length", 0..2;
        ID = "dns.id", "Transaction ID", 0..2;
        FLAGS = "dns.flags", "Flags", 2..4;
        RESPONSE = "dns.flags.response", "Response", 2..4;
        OPCODE = "dns.flags.opcode", "Opcode", 2..4;
        AUTHORITATIVE = "dns.flags.authoritative", "Authoritative", 2..4;
        TRUNCATED = "dns.flags.truncated", "Truncated", 2..4;
        RECDESIRED = "dns.flags.recdesired", "Recursion desired", 2..4;
        RECAVAIL = "dns.flags.recavail", "Recursion available", 2..4;
        RCODE = "dns.flags.rcode", "Reply code", 2..4;
        QDCOUNT = "dns.count.queries", "Questions", 4..6;
        ANCOUNT = "dns.count.answers", "Answer RRs", 6..8;
        NSCOUNT = "dns.count.auth_rr", "Authority RRs", 8..10;
        ARCOUNT = "dns.count.add_rr", "Additional RRs", 10..12;
        QRY_NAME = "dns.qry.name", "Name";
        /// After the question's name.
        QRY_TYPE = "dns.qry.type", "Type", 0..2;
        QRY_CLASS = "dns.qry.class", "Class", 2..4;
        RESP_NAME = "dns.resp.name", "Name";
        /// After the record's name.
        RESP_TYPE = "dns.resp.type", "Type", 0..2;
        RESP_CLASS = "dns.resp.class", "Class", 2..4;
        RESP_TTL = "dns.resp.ttl", "Time to live", 4..8;
        RESP_LEN = "dns.resp.len", "Data length", 8..10;
        A = "dns.a", "Address";
        AAAA = "dns.aaaa", "AAAA address";
        NS = "dns.ns", "Name";
        CNAME = "dns.cname", "Name";
        PTR = "dns.ptr.domain_name", "Name";
        MX_PREFERENCE = "dns.mx.preference", "Preference";
        MX_EXCHANGE = "dns.mx.mail_exchange", "Mail exchange";
        TXT = "dns.txt", "Text";
    }
    pub const HEADER_LEN: usize = 12;
    /// A record's type, class, time to live and data length after its name.
    pub const RECORD_FIXED_LEN: usize = 10;
}

/// A name is at most 255 bytes on the wire (RFC 1035 2.3.4).
const MAX_NAME: usize = 255;
/// Compression pointers followed per name. Pointers must also point backwards, which alone
/// rules out loops; the cap bounds the work for a long backward chain.
const MAX_POINTERS: usize = 64;
/// Records decoded per message: real messages have a handful; this bounds hostile counts.
const MAX_RECORDS: usize = 256;

pub(super) fn dissect(d: &mut Dissector, payload: Range<usize>, reason: Reason, tcp: bool) {
    let mut lb = d.layer(payload.start, payload.end, Protocol::Dns);
    lb.reason(reason);
    let r = decode(&mut lb, tcp);
    d.push_result(lb, r);
}

fn decode(lb: &mut LayerBuilder, tcp: bool) -> Result<((), String), Malformed> {
    // Over TCP each message is preceded by its length (RFC 1035 4.2.2).
    let base = if tcp {
        lb.u16(field::LENGTH)?;
        2
    } else {
        0
    };
    lb.need(base + field::HEADER_LEN)?;
    let msg = lb.slice(base..lb.available())?;
    let id = lb.u16(field::ID.offset_by(base))?;
    let flags = lb.u16(field::FLAGS.offset_by(base))?;
    let response = flags & 0x8000 != 0;
    lb.flag(field::RESPONSE.offset_by(base), response);
    lb.bits(field::OPCODE.offset_by(base), ((flags >> 11) & 0xf).into());
    if response {
        lb.flag(field::AUTHORITATIVE.offset_by(base), flags & 0x0400 != 0);
    }
    lb.flag(field::TRUNCATED.offset_by(base), flags & 0x0200 != 0);
    lb.flag(field::RECDESIRED.offset_by(base), flags & 0x0100 != 0);
    if response {
        lb.flag(field::RECAVAIL.offset_by(base), flags & 0x0080 != 0);
        lb.bits(field::RCODE.offset_by(base), (flags & 0xf).into());
    }
    let qd = lb.u16(field::QDCOUNT.offset_by(base))?;
    let an = lb.u16(field::ANCOUNT.offset_by(base))?;
    let ns = lb.u16(field::NSCOUNT.offset_by(base))?;
    let ar = lb.u16(field::ARCOUNT.offset_by(base))?;
    lb.cover(base + field::HEADER_LEN);

    let mut r = Reader {
        lb,
        msg,
        base,
        at: field::HEADER_LEN,
        scratch: String::new(),
    };
    // Names are decoded straight into the summary (see `Reader::name`). Writing to a String
    // does not fail.
    let mut summary = String::new();
    if (flags >> 11) & 0xf != 0 {
        let _ = write!(summary, "DNS opcode {} 0x{id:04x}", (flags >> 11) & 0xf);
    } else {
        let response = if response { " response" } else { "" };
        let _ = write!(summary, "Standard query{response} 0x{id:04x}");
    }
    if response && flags & 0xf != 0 {
        summary.push(' ');
        summary.push_str(rcode_name(flags & 0xf));
    }
    let mut budget = MAX_RECORDS;
    for _ in 0..qd {
        if budget == 0 {
            break;
        }
        budget -= 1;
        r.question(&mut summary)?;
    }
    for (count, answer) in [(an, true), (ns, false), (ar, false)] {
        for _ in 0..count {
            if budget == 0 {
                break;
            }
            budget -= 1;
            // Only answers are shown in the summary; the other records are decoded for their
            // fields and to find malformed data.
            r.record(answer.then_some(&mut summary))?;
        }
    }
    if budget == 0 {
        r.lb.note_with(|| format!("only the first {MAX_RECORDS} records are decoded"));
    }
    let end = r.at;
    r.lb.cover(base + end);
    Ok(((), summary))
}

/// The text shown for a name whose compression pointers would loop (as Wireshark shows it).
const LOOPING_NAME: &str = "<Name contains a pointer that loops>";
/// What a name cut off by [`MAX_POINTERS`] is shown as.
const LONG_CHAIN_NAME: &str = "<Name has too many compression pointers>";

/// Why a name's compression pointers were not followed to the end, and the message offset of
/// the pointer where they stopped.
#[derive(Clone, Copy)]
enum Cut {
    /// The pointer does not point backwards: following it could loop.
    Loop(usize),
    /// The pointer would be the name's 65th.
    LongChain(usize),
}

/// Walks a DNS message, recording fields as it goes. `at` is an offset in `msg`; fields are
/// placed at `base + at` in the layer (after the TCP length prefix, if any).
struct Reader<'l, 'a> {
    lb: &'l mut LayerBuilder<'a>,
    msg: &'a [u8],
    base: usize,
    at: usize,
    /// Where a name that only a field needs is decoded before it is copied into the field's
    /// own string, so that string is allocated once at its final size. Allocated on first use,
    /// which a summaries-only dissection never makes.
    scratch: String,
}

impl Reader<'_, '_> {
    fn u16(&self, at: usize) -> Result<u16, Malformed> {
        self.lb.read_u16(self.base + at)
    }

    /// One question; appends " TYPE name" to the summary.
    fn question(&mut self, line: &mut String) -> Result<(), Malformed> {
        let at = self.at;
        // " ", then the space that will follow the type, then the name.
        line.push_str("  ");
        let type_at = line.len() - 1;
        let (len, text) = self.name_text(at, Some(line))?;
        self.lb.field_with(
            self.base + at..self.base + at + len,
            field::QRY_NAME,
            || Value::Text(text.unwrap_or_default()),
        );
        let ty = self.u16(at + len)?;
        // The type comes after the name on the wire but before it in the summary: the name
        // is already in the line, so the type goes in front of it (a short move, no copy of
        // the name elsewhere).
        line.insert_str(type_at, type_name(ty));
        let after_name = self.base + at + len;
        let ty_field = field::QRY_TYPE.offset_by(after_name);
        self.lb.fixed(ty_field, Value::U64(ty.into()));
        self.lb.u16(field::QRY_CLASS.offset_by(after_name))?;
        self.at = at + len + 4;
        self.lb.cover(self.base + self.at);
        Ok(())
    }

    /// One resource record; when `summary` is given, appends its data as the summary shows
    /// it (" A 127.0.0.1").
    fn record(&mut self, mut summary: Option<&mut String>) -> Result<(), Malformed> {
        let at = self.at;
        let (len, name) = self.name_text(at, None)?;
        let b = self.base + at + len;
        self.lb.field_with(self.base + at..b, field::RESP_NAME, || {
            Value::Text(name.unwrap_or_default())
        });
        let ty = self.lb.u16(field::RESP_TYPE.offset_by(b))?;
        let class_field = field::RESP_CLASS.offset_by(b);
        let class = self.lb.read_u16(class_field.bytes.start)?;
        // mDNS borrows the class's top bit as "cache flush".
        self.lb
            .fixed(class_field, Value::U64((class & 0x7fff).into()));
        self.lb.u32(field::RESP_TTL.offset_by(b))?;
        let rdlen = usize::from(self.lb.u16(field::RESP_LEN.offset_by(b))?);
        let rd = b + field::RECORD_FIXED_LEN;
        let rdata = self.lb.slice(rd..rd + rdlen)?;
        if let Some(l) = summary.as_deref_mut() {
            let _ = write!(l, " {} ", type_name(ty));
        }
        self.rdata(ty, rd, rdata, summary)?;
        self.at = at + len + field::RECORD_FIXED_LEN + rdlen;
        self.lb.cover(self.base + self.at);
        Ok(())
    }

    /// Record the data of a record of type `ty` at `rd`; when `summary` is given, append it
    /// as text. A failure leaves the summary half written, which does not matter: the layer
    /// then becomes a malformed one with a summary of its own.
    fn rdata(
        &mut self,
        ty: u16,
        rd: usize,
        rdata: &[u8],
        summary: Option<&mut String>,
    ) -> Result<(), Malformed> {
        let r = rd..rd + rdata.len();
        match (ty, rdata.len()) {
            (1, 4) => {
                let a = Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]);
                self.lb.field(r, field::A, Value::Ipv4(a));
                if let Some(l) = summary {
                    let _ = write!(l, "{a}");
                }
            }
            (28, 16) => {
                let mut raw = [0u8; 16];
                raw.copy_from_slice(rdata);
                let a = Ipv6Addr::from(raw);
                self.lb.field(r, field::AAAA, Value::Ipv6(a));
                if let Some(l) = summary {
                    let _ = write!(l, "{a}");
                }
            }
            (2 | 5 | 12, _) => {
                let (_, name) = self.name_text(rd - self.base, summary)?;
                let f = match ty {
                    2 => field::NS,
                    5 => field::CNAME,
                    _ => field::PTR,
                };
                self.lb
                    .field_with(r, f, || Value::Text(name.unwrap_or_default()));
            }
            (15, 3..) => {
                let pref = u16::from_be_bytes([rdata[0], rdata[1]]);
                let pref_value = Value::U64(pref.into());
                self.lb.field(rd..rd + 2, field::MX_PREFERENCE, pref_value);
                let summary = summary.map(|l| {
                    let _ = write!(l, "{pref} ");
                    l
                });
                let (_, name) = self.name_text(rd - self.base + 2, summary)?;
                self.lb.field_with(rd + 2..r.end, field::MX_EXCHANGE, || {
                    Value::Text(name.unwrap_or_default())
                });
            }
            (16, 1..) => {
                let n = usize::from(rdata[0]).min(rdata.len() - 1);
                // Borrowed when the text is valid UTF-8, as it nearly always is.
                let text = String::from_utf8_lossy(&rdata[1..1 + n]);
                self.lb.field_with(rd..rd + 1 + n, field::TXT, || {
                    Value::Text(text.clone().into_owned())
                });
                if let Some(l) = summary {
                    l.push_str(&text);
                }
            }
            _ => {
                if let Some(l) = summary {
                    let _ = write!(l, "({} bytes)", rdata.len());
                }
            }
        }
        Ok(())
    }

    /// Read the name at `start` for the summary and a field: appended to `summary` when
    /// given, and returned as text only when fields are recorded. Returns the bytes the name
    /// takes in place. In a summaries-only dissection a name that no summary shows is only
    /// walked (for its length and its errors), never written.
    fn name_text(
        &mut self,
        start: usize,
        summary: Option<&mut String>,
    ) -> Result<(usize, Option<String>), Malformed> {
        match summary {
            Some(line) => {
                let from = line.len();
                let len = self.name(start, Some(line))?;
                Ok((len, self.lb.keep.then(|| line[from..].to_owned())))
            }
            None if self.lb.keep => {
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.clear();
                // Room for the longest name accepted plus the label that makes it too long,
                // so the buffer never grows.
                scratch.reserve(MAX_NAME + 64);
                let r = self.name(start, Some(&mut scratch));
                let text = scratch.as_str().to_owned();
                self.scratch = scratch;
                Ok((r?, Some(text)))
            }
            None => Ok((self.name(start, None)?, None)),
        }
    }

    /// Read the name at `start` (see [`Self::raw_name`]), appending it to `out` when given; a
    /// compression loop is reported in a note and the name shown as Wireshark shows it, and
    /// decoding goes on: the bytes the name takes in place are known, so the rest of the
    /// message can still be read.
    fn name(&mut self, start: usize, mut out: Option<&mut String>) -> Result<usize, Malformed> {
        let from = out.as_ref().map_or(0, |o| o.len());
        let (len, cut) = self.raw_name(start, out.as_deref_mut())?;
        if let Some(cut) = cut {
            self.lb.note_with(|| match cut {
                Cut::Loop(at) => format!(
                    "malformed name: the compression pointer at message offset {at} does not point backwards, so following it would loop forever"
                ),
                Cut::LongChain(at) => format!(
                    "malformed name: the compression pointer at message offset {at} would be the name's {}th; this inspector follows at most {MAX_POINTERS} per name, so the name is not shown",
                    MAX_POINTERS + 1
                ),
            });
            if let Some(out) = out {
                out.truncate(from);
                out.push_str(match cut {
                    Cut::Loop(_) => LOOPING_NAME,
                    Cut::LongChain(_) => LONG_CHAIN_NAME,
                });
            }
        }
        Ok(len)
    }

    /// Read the name at `start`, appending it in dotted form to `out` when given (without
    /// `out` the name is only walked: its length is counted all the same, so the checks and
    /// errors are the same either way). Returns the bytes it takes in place (a pointer takes
    /// two, whatever it points to) and where and why pointers stopped being followed; then `out`
    /// holds the part read before.
    fn raw_name(
        &self,
        start: usize,
        mut out: Option<&mut String>,
    ) -> Result<(usize, Option<Cut>), Malformed> {
        // The length of the dotted name so far: every label byte becomes one character.
        let mut written = 0;
        let mut at = start;
        let mut in_place = None;
        let mut pointers = 0;
        loop {
            let len = *self.msg.get(at).ok_or_else(|| self.truncated(at))?;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    let in_place = in_place.unwrap_or_else(|| at + 1 - start);
                    if written == 0 {
                        if let Some(out) = out {
                            out.push_str("<Root>");
                        }
                    }
                    return Ok((in_place, None));
                }
                0x00 => {
                    let label = self
                        .msg
                        .get(at + 1..at + 1 + usize::from(len))
                        .ok_or_else(|| self.truncated(at))?;
                    let dot = usize::from(written > 0);
                    if let Some(out) = out.as_deref_mut() {
                        if dot == 1 {
                            out.push('.');
                        }
                        out.extend(
                            label
                                .iter()
                                .map(|&c| if c.is_ascii_graphic() { c as char } else { '?' }),
                        );
                    }
                    written += dot + label.len();
                    if written > MAX_NAME {
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
                    if target >= at {
                        return Ok((in_place, Some(Cut::Loop(at))));
                    }
                    if pointers > MAX_POINTERS {
                        return Ok((in_place, Some(Cut::LongChain(at))));
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

#[cfg(test)]
mod tests {
    use super::super::{Context, dissect_with};
    use crate::model::LinkType;

    /// A raw-IP frame carrying `msg` in UDP from port 53 (checksums are not verified).
    fn frame(msg: &[u8]) -> Vec<u8> {
        let total = 28 + msg.len();
        let mut f = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0,
            0,
            64,
            17,
            0,
            0,
        ];
        f.extend([10, 0, 0, 1, 10, 0, 0, 2]);
        let udp = 8 + msg.len();
        f.extend([0, 53, 0x30, 0x39, (udp >> 8) as u8, udp as u8, 0, 0]);
        f.extend(msg);
        f
    }

    /// Decode `msg` in full and summaries-only: both must give the same layers and summary.
    /// Returns the DNS layer's summary (or the malformed one), then its name and data fields
    /// (`name@offset+len=value`) and its notes, one a line.
    fn decode(msg: &[u8]) -> String {
        let f = frame(msg);
        let full = dissect_with(LinkType::RAW, &f, &Context::default());
        let lean = dissect_with(
            LinkType::RAW,
            &f,
            &Context {
                summaries_only: true,
                ..Context::default()
            },
        );
        let l = &full.layers[2];
        let ll = &lean.layers[2];
        assert_eq!(l.summary.text(), ll.summary.text());
        assert_eq!(l.byte_range, ll.byte_range);
        assert_eq!(full.malformed, lean.malformed);
        let mut out = l.summary.text().into_owned();
        for f in &l.fields {
            if f.name.starts_with("dns.count") || f.name.starts_with("dns.flags") {
                continue;
            }
            out += &format!("\n{}@{}+{}={:?}", f.name, f.offset, f.len, f.value);
        }
        for n in &l.notes {
            out += &format!("\nnote: {n}");
        }
        out
    }

    fn check(msg: &[u8], expect: &str) {
        let got = decode(msg);
        assert!(got == expect, "got:\n{got}\nexpected:\n{expect}");
    }

    /// A response header with the given counts.
    fn header(qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80];
        for c in [qd, an, ns, ar] {
            m.extend(c.to_be_bytes());
        }
        m
    }

    fn labels(m: &mut Vec<u8>, name: &[&str]) {
        for l in name {
            m.push(l.len() as u8);
            m.extend(l.as_bytes());
        }
    }

    #[test]
    fn compressed_names_in_every_section() {
        let mut m = header(1, 2, 1, 1);
        labels(&mut m, &["www", "example", "com"]);
        m.extend([0, 0, 1, 0, 1]);
        // Answer: CNAME, its owner a pointer to the question, its data a label then a pointer.
        m.extend([
            0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'c', b'd', b'n', 0xc0, 16,
        ]);
        // Answer: A, owner a pointer to the CNAME's data (a pointer to a pointer).
        m.extend([0xc0, 45, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        // Authority: NS, shown in no summary; then an MX in the additional section.
        m.extend([
            0xc0, 16, 0, 2, 0, 1, 0, 0, 0, 60, 0, 5, 2, b'n', b's', 0xc0, 16,
        ]);
        m.extend([0xc0, 16, 0, 15, 0, 1, 0, 0, 0, 60, 0, 4, 0, 10, 0xc0, 12]);
        check(
            &m,
            "Standard query response 0x1234 A www.example.com CNAME cdn.example.com A 192.0.2.1\n\
             dns.id@28+2=U64(4660)\n\
             dns.qry.name@40+17=Text(\"www.example.com\")\n\
             dns.qry.type@57+2=U64(1)\n\
             dns.qry.class@59+2=U64(1)\n\
             dns.resp.name@61+2=Text(\"www.example.com\")\n\
             dns.resp.type@63+2=U64(5)\n\
             dns.resp.class@65+2=U64(1)\n\
             dns.resp.ttl@67+4=U64(60)\n\
             dns.resp.len@71+2=U64(6)\n\
             dns.cname@73+6=Text(\"cdn.example.com\")\n\
             dns.resp.name@79+2=Text(\"cdn.example.com\")\n\
             dns.resp.type@81+2=U64(1)\n\
             dns.resp.class@83+2=U64(1)\n\
             dns.resp.ttl@85+4=U64(60)\n\
             dns.resp.len@89+2=U64(4)\n\
             dns.a@91+4=Ipv4(192.0.2.1)\n\
             dns.resp.name@95+2=Text(\"example.com\")\n\
             dns.resp.type@97+2=U64(2)\n\
             dns.resp.class@99+2=U64(1)\n\
             dns.resp.ttl@101+4=U64(60)\n\
             dns.resp.len@105+2=U64(5)\n\
             dns.ns@107+5=Text(\"ns.example.com\")\n\
             dns.resp.name@112+2=Text(\"example.com\")\n\
             dns.resp.type@114+2=U64(15)\n\
             dns.resp.class@116+2=U64(1)\n\
             dns.resp.ttl@118+4=U64(60)\n\
             dns.resp.len@122+2=U64(4)\n\
             dns.mx.preference@124+2=U64(10)\n\
             dns.mx.mail_exchange@126+2=Text(\"www.example.com\")",
        );
    }

    #[test]
    fn root_mx_txt_aaaa_and_unknown_answers() {
        let mut m = header(1, 5, 0, 0);
        m.extend([0, 0, 255, 0, 1]);
        m.extend([
            0, 0, 15, 0, 1, 0, 0, 0, 60, 0, 10, 0, 5, 2, b'm', b'x', 3, b'o', b'r', b'g',
        ]);
        m.extend([0]);
        m.extend([
            0, 0, 16, 0, 1, 0, 0, 0, 60, 0, 6, 5, b'h', 0xff, b' ', b'i', 0x01,
        ]);
        m.extend([0, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
        m.extend([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        m.extend([0, 0, 99, 0, 1, 0, 0, 0, 60, 0, 3, 1, 2, 3]);
        m.extend([0, 0, 12, 0, 1, 0, 0, 0, 60, 0, 1, 0]);
        check(
            &m,
            "Standard query response 0x1234 ANY <Root> MX 5 mx.org TXT h� i AAAA 2001:db8::1 TYPE? (3 bytes) PTR <Root>\n\
             dns.id@28+2=U64(4660)\n\
             dns.qry.name@40+1=Text(\"<Root>\")\n\
             dns.qry.type@41+2=U64(255)\n\
             dns.qry.class@43+2=U64(1)\n\
             dns.resp.name@45+1=Text(\"<Root>\")\n\
             dns.resp.type@46+2=U64(15)\n\
             dns.resp.class@48+2=U64(1)\n\
             dns.resp.ttl@50+4=U64(60)\n\
             dns.resp.len@54+2=U64(10)\n\
             dns.mx.preference@56+2=U64(5)\n\
             dns.mx.mail_exchange@58+8=Text(\"mx.org\")\n\
             dns.resp.name@66+1=Text(\"<Root>\")\n\
             dns.resp.type@67+2=U64(16)\n\
             dns.resp.class@69+2=U64(1)\n\
             dns.resp.ttl@71+4=U64(60)\n\
             dns.resp.len@75+2=U64(6)\n\
             dns.txt@77+6=Text(\"h� i\\u{1}\")\n\
             dns.resp.name@83+1=Text(\"<Root>\")\n\
             dns.resp.type@84+2=U64(28)\n\
             dns.resp.class@86+2=U64(1)\n\
             dns.resp.ttl@88+4=U64(60)\n\
             dns.resp.len@92+2=U64(16)\n\
             dns.aaaa@94+16=Ipv6(2001:db8::1)\n\
             dns.resp.name@110+1=Text(\"<Root>\")\n\
             dns.resp.type@111+2=U64(99)\n\
             dns.resp.class@113+2=U64(1)\n\
             dns.resp.ttl@115+4=U64(60)\n\
             dns.resp.len@119+2=U64(3)\n\
             dns.resp.name@124+1=Text(\"<Root>\")\n\
             dns.resp.type@125+2=U64(12)\n\
             dns.resp.class@127+2=U64(1)\n\
             dns.resp.ttl@129+4=U64(60)\n\
             dns.resp.len@133+2=U64(1)\n\
             dns.ptr.domain_name@135+1=Text(\"<Root>\")",
        );
    }

    #[test]
    fn looping_pointers_are_noted_and_decoding_goes_on() {
        let mut m = header(2, 1, 0, 0);
        // A pointer to itself, then a label followed by a forward pointer.
        m.extend([0xc0, 12, 0, 1, 0, 1]);
        m.extend([1, b'a', 0xc0, 30, 0, 1, 0, 1]);
        m.extend([0xc0, 18, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
        check(
            &m,
            "Standard query response 0x1234 A <Name contains a pointer that loops> A <Name contains a pointer that loops> A 127.0.0.1\n\
             dns.id@28+2=U64(4660)\n\
             dns.qry.name@40+2=Text(\"<Name contains a pointer that loops>\")\n\
             dns.qry.type@42+2=U64(1)\n\
             dns.qry.class@44+2=U64(1)\n\
             dns.qry.name@46+4=Text(\"<Name contains a pointer that loops>\")\n\
             dns.qry.type@50+2=U64(1)\n\
             dns.qry.class@52+2=U64(1)\n\
             dns.resp.name@54+2=Text(\"<Name contains a pointer that loops>\")\n\
             dns.resp.type@56+2=U64(1)\n\
             dns.resp.class@58+2=U64(1)\n\
             dns.resp.ttl@60+4=U64(60)\n\
             dns.resp.len@64+2=U64(4)\n\
             dns.a@66+4=Ipv4(127.0.0.1)\n\
             note: malformed name: the compression pointer at message offset 12 does not point backwards, so following it would loop forever\n\
             note: malformed name: the compression pointer at message offset 20 does not point backwards, so following it would loop forever\n\
             note: malformed name: the compression pointer at message offset 20 does not point backwards, so following it would loop forever",
        );
    }

    /// A question "x", an opaque record holding a chain of `n` pointers, each to the one
    /// before it (the first to the question's name), then a CNAME pointing at the last.
    fn pointer_chain(n: usize) -> Vec<u8> {
        let mut m = header(1, 2, 0, 0);
        m.extend([1, b'x', 0, 0, 1, 0, 1]);
        m.extend([0, 0, 99, 0, 1, 0, 0, 0, 60]);
        m.extend(u16::try_from(2 * n).unwrap().to_be_bytes());
        let mut to = 12u16;
        for _ in 0..n {
            let here = m.len() as u16;
            m.extend((0xc000 | to).to_be_bytes());
            to = here;
        }
        m.extend([0, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2]);
        m.extend((0xc000 | to).to_be_bytes());
        m
    }

    /// What `check` prints for `pointer_chain(n)` whose CNAME reads `cname`, then `more`:
    /// everything else follows from `n` (the first answer's data is the chain, 2 bytes a
    /// pointer, and the CNAME answer comes after it).
    fn pointer_chain_dump(n: usize, cname: &str, more: &str) -> String {
        let len = 2 * n;
        let at = 58 + len;
        format!(
            "Standard query response 0x1234 A x TYPE? ({len} bytes) CNAME {cname}\n\
             dns.id@28+2=U64(4660)\n\
             dns.qry.name@40+3=Text(\"x\")\n\
             dns.qry.type@43+2=U64(1)\n\
             dns.qry.class@45+2=U64(1)\n\
             dns.resp.name@47+1=Text(\"<Root>\")\n\
             dns.resp.type@48+2=U64(99)\n\
             dns.resp.class@50+2=U64(1)\n\
             dns.resp.ttl@52+4=U64(60)\n\
             dns.resp.len@56+2=U64({len})\n\
             dns.resp.name@{at}+1=Text(\"<Root>\")\n\
             dns.resp.type@{}+2=U64(5)\n\
             dns.resp.class@{}+2=U64(1)\n\
             dns.resp.ttl@{}+4=U64(60)\n\
             dns.resp.len@{}+2=U64(2)\n\
             dns.cname@{}+2=Text(\"{cname}\"){more}",
            at + 1,
            at + 3,
            at + 5,
            at + 9,
            at + 11,
        )
    }

    #[test]
    fn a_long_backward_pointer_chain_is_cut() {
        check(&pointer_chain(63), &pointer_chain_dump(63, "x", ""));
        check(
            &pointer_chain(64),
            &pointer_chain_dump(
                64,
                "<Name has too many compression pointers>",
                "\nnote: malformed name: the compression pointer at message offset 30 would be the \
                 name's 65th; this inspector follows at most 64 per name, so the name is not shown",
            ),
        );
    }

    /// A question whose name has `n` labels of 63 bytes, then one of `last` bytes (if any).
    fn long_name(n: usize, last: u8) -> Vec<u8> {
        let mut m = header(1, 0, 0, 0);
        for _ in 0..n {
            m.push(63);
            m.extend([b'a'; 63]);
        }
        if last > 0 {
            m.push(last);
            m.extend(std::iter::repeat_n(b'b', usize::from(last)));
        }
        m.extend([0, 0, 1, 0, 1]);
        m
    }

    #[test]
    fn names_up_to_255_bytes_pass_and_longer_ones_are_malformed() {
        // 4 labels of 63 with their 3 dots: 255 bytes, the most a name may have.
        let name = vec!["a".repeat(63); 4].join(".");
        let ok = decode(&long_name(4, 0));
        assert_eq!(
            ok.lines().next(),
            Some(format!("Standard query response 0x1234 A {name}").as_str())
        );
        let name = format!("{}.{}", vec!["a".repeat(63); 3].join("."), "b".repeat(62));
        let ok = decode(&long_name(3, 62));
        assert_eq!(
            ok.lines().next(),
            Some(format!("Standard query response 0x1234 A {name}").as_str())
        );
        check(
            &long_name(4, 1),
            "malformed: DNS invalid at frame offset 40: name longer than 255 bytes\n\
             dns.id@28+2=U64(4660)\n\
             note: decoding stopped here; the 275 bytes from offset 28 on are not decoded",
        );
    }

    #[test]
    fn truncated_and_reserved_labels_are_malformed() {
        let mut m = header(1, 0, 0, 0);
        m.extend([3, b'a', b'b']);
        check(
            &m,
            "malformed: DNS truncated: needs 13 bytes at frame offset 28, only 15 captured\n\
             dns.id@28+2=U64(4660)\n\
             note: decoding stopped here; the 15 bytes from offset 28 on are not decoded",
        );
        let mut m = header(1, 0, 0, 0);
        m.extend([0xc0]);
        check(
            &m,
            "malformed: DNS truncated: needs 13 bytes at frame offset 28, only 13 captured\n\
             dns.id@28+2=U64(4660)\n\
             note: decoding stopped here; the 13 bytes from offset 28 on are not decoded",
        );
        let mut m = header(1, 0, 0, 0);
        m.extend([1, b'a', 0x40, 0, 0, 1, 0, 1]);
        check(
            &m,
            "malformed: DNS invalid at frame offset 42: label type 0x40 is reserved\n\
             dns.id@28+2=U64(4660)\n\
             note: decoding stopped here; the 20 bytes from offset 28 on are not decoded",
        );
        let mut m = header(1, 1, 0, 0);
        m.extend([0, 0, 1, 0, 1, 0, 0, 5, 0, 1, 0, 0, 0, 1, 0, 2, 1, b'a']);
        check(
            &m,
            "malformed: DNS truncated: needs 31 bytes at frame offset 28, only 30 captured\n\
             dns.id@28+2=U64(4660)\n\
             dns.qry.name@40+1=Text(\"<Root>\")\n\
             dns.qry.type@41+2=U64(1)\n\
             dns.qry.class@43+2=U64(1)\n\
             dns.resp.name@45+1=Text(\"<Root>\")\n\
             dns.resp.type@46+2=U64(5)\n\
             dns.resp.class@48+2=U64(1)\n\
             dns.resp.ttl@50+4=U64(1)\n\
             dns.resp.len@54+2=U64(2)\n\
             note: decoding stopped here; the 30 bytes from offset 28 on are not decoded",
        );
        let mut m = header(1, 0, 0, 0);
        m.extend([1, b'a', 0]);
        check(
            &m,
            "malformed: DNS truncated: needs 17 bytes at frame offset 28, only 15 captured\n\
             dns.id@28+2=U64(4660)\n\
             dns.qry.name@40+3=Text(\"a\")\n\
             note: decoding stopped here; the 15 bytes from offset 28 on are not decoded",
        );
    }
}
