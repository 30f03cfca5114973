//! TLS records (RFC 8446, RFC 5246): record header, handshake type, the ClientHello's server
//! name (SNI). Everything after the handshake is encrypted, so it is only counted.

use std::ops::Range;

use super::{Dissector, LayerBuilder, Malformed, Units};
use crate::model::{Protocol, Reason, Value};

/// The record's fields, each declared once; the filter's registry takes their names from
/// `field::NAMES`. The record header, the handshake header and the start of a hello are at
/// fixed places in the record; after the session id, the lengths decide where things are.
pub(super) mod field {
    crate::model::fields! {
        CONTENT_TYPE = "tls.record.content_type", "Content type", 0..1;
        VERSION = "tls.record.version", "Version", 1..3;
        LENGTH = "tls.record.length", "Length", 3..5;
        APP_DATA = "tls.app_data", "Encrypted application data";
        HANDSHAKE_TYPE = "tls.handshake.type", "Handshake type", 5..6;
        /// 24 bits.
        HANDSHAKE_LENGTH = "tls.handshake.length", "Length", 6..9;
        HELLO_VERSION = "tls.handshake.version", "Version", 9..11;
        RANDOM = "tls.handshake.random", "Random", 11..43;
        SESSION_ID_LENGTH = "tls.handshake.session_id_length", "Session ID length", 43..44;
        CIPHER_SUITES_LENGTH = "tls.handshake.cipher_suites_length", "Cipher suites length";
        CIPHER_SUITE = "tls.handshake.ciphersuite", "Cipher suite";
        COMP_METHODS_LENGTH = "tls.handshake.comp_methods_length", "Compression methods length";
        COMP_METHOD = "tls.handshake.comp_method", "Compression method";
        EXTENSIONS_LENGTH = "tls.handshake.extensions_length", "Extensions length";
        /// The label names the extension: see `extension_name`.
        EXTENSION_TYPE = "tls.handshake.extension.type", "Extension";
        EXTENSION_LEN = "tls.handshake.extension.len", "Length";
        SERVER_NAME_LIST_LEN =
            "tls.handshake.extensions_server_name_list_len", "Server name list length";
        SERVER_NAME_TYPE = "tls.handshake.extensions_server_name_type", "Server name type";
        SERVER_NAME_LEN = "tls.handshake.extensions_server_name_len", "Server name length";
        SERVER_NAME = "tls.handshake.extensions_server_name", "Server name";
        SUPPORTED_VERSION = "tls.handshake.extensions.supported_version", "Supported version";
    }
    pub const HEADER_LEN: usize = 5;
}

/// Records per segment that get a layer each.
const MAX_RECORDS: usize = 16;

const PRESENTATION: &str = "TLS encrypts and authenticates: OSI calls that the presentation layer \
    (6); TCP/IP has no such layer, TLS is a library inside the application, between HTTP and TCP";

/// Whether a payload starts with a TLS record header (content type 20 to 23, version 3.x).
pub(super) fn looks_like(b: &[u8]) -> bool {
    matches!(b, [20..=23, 3, 0..=4, _, _, ..])
}

/// The records of one segment, a layer each.
pub(super) fn dissect(d: &mut Dissector, payload: Range<usize>, reason: Reason) {
    let units = Units {
        protocol: Protocol::Tls,
        max: MAX_RECORDS,
        what: "records",
    };
    units.decode(d, payload, &reason, |d, mut lb| {
        let at = lb.start();
        match record(&mut lb) {
            Ok((len, summary)) => {
                d.push(lb.finish(summary));
                Some(at + field::HEADER_LEN + len)
            }
            Err(e) => {
                d.fail(lb, e);
                None
            }
        }
    });
}

/// One record; returns its length (without the header) and a summary.
fn record(lb: &mut LayerBuilder) -> Result<(usize, String), Malformed> {
    lb.need(field::HEADER_LEN)?;
    let ct = lb.u8(field::CONTENT_TYPE)?;
    let version = lb.u16(field::VERSION)?;
    let len = usize::from(lb.u16(field::LENGTH)?);
    if !(20..=24).contains(&ct) {
        return Err(lb.invalid(0, format!("content type {ct} is not a TLS record type")));
    }
    let have = lb.available() - field::HEADER_LEN;
    lb.cover(field::HEADER_LEN + len.min(have));
    lb.note(PRESENTATION);
    let mut summary = format!("{} Record: {}", version_name(version), content_name(ct));
    if have < len {
        lb.note_with(|| {
            format!("the record continues in the next segment ({have} of {len} bytes here)")
        });
    }
    match ct {
        22 => match handshake(lb, len.min(have)) {
            Ok(hs) => {
                summary.push_str(": ");
                summary.push_str(&hs);
            }
            // Cut off by the segment's end: say so instead of calling the record broken.
            Err(_) if have < len => {}
            Err(e) => return Err(e),
        },
        23 => {
            let body = field::HEADER_LEN..field::HEADER_LEN + len.min(have);
            lb.field(body, field::APP_DATA, Value::U64(len as u64));
            lb.note("encrypted: only the two ends hold the keys, so the content cannot be shown");
        }
        _ => {}
    }
    Ok((len, summary))
}

/// The handshake message at the start of the record's body.
fn handshake(lb: &mut LayerBuilder, body_len: usize) -> Result<String, Malformed> {
    let ty = lb.u8(field::HANDSHAKE_TYPE)?;
    let b = lb.slice(field::HANDSHAKE_LENGTH.bytes)?;
    let hlen = u32::from_be_bytes([0, b[0], b[1], b[2]]);
    lb.fixed(field::HANDSHAKE_LENGTH, Value::U64(hlen.into()));
    let name = handshake_name(ty);
    if body_len < 4 {
        return Ok(name.to_string());
    }
    match ty {
        1 => client_hello(lb).map(|sni| match sni {
            Some(s) => format!("{name}, SNI={s}"),
            None => name.to_string(),
        }),
        2 => server_hello(lb).map(|_| name.to_string()),
        _ => {
            // After the ServerHello of TLS 1.3 the handshake itself is encrypted; record type
            // 22 then carries what looks like garbage, which is expected.
            Ok(name.to_string())
        }
    }
}

/// Version, random and session id: the start of both hellos. Returns the offset after them.
fn hello_start(lb: &mut LayerBuilder) -> Result<usize, Malformed> {
    lb.u16(field::HELLO_VERSION)?;
    let random = lb.slice(field::RANDOM.bytes)?;
    lb.field_with(field::RANDOM.bytes, field::RANDOM.def(), || {
        Value::Bytes(random.to_vec())
    });
    let sid_len = usize::from(lb.u8(field::SESSION_ID_LENGTH)?);
    let sid = field::SESSION_ID_LENGTH.bytes.end;
    lb.slice(sid..sid + sid_len)?;
    Ok(sid + sid_len)
}

fn client_hello(lb: &mut LayerBuilder) -> Result<Option<String>, Malformed> {
    let mut p = hello_start(lb)?;
    let cs_len = usize::from(lb.u16_at(p, field::CIPHER_SUITES_LENGTH)?);
    lb.slice(p + 2..p + 2 + cs_len)?;
    for at in (p + 2..p + 2 + cs_len).step_by(2) {
        lb.u16_at(at, field::CIPHER_SUITE)?;
    }
    p += 2 + cs_len;
    let cm_len = usize::from(lb.u8_at(p, field::COMP_METHODS_LENGTH)?);
    p += 1 + cm_len;
    extensions(lb, p, true)
}

fn server_hello(lb: &mut LayerBuilder) -> Result<Option<String>, Malformed> {
    let p = hello_start(lb)?;
    lb.u16_at(p, field::CIPHER_SUITE)?;
    lb.u8_at(p + 2, field::COMP_METHOD)?;
    extensions(lb, p + 3, false)
}

/// The extension list; returns the server name when a ClientHello carries one.
fn extensions(lb: &mut LayerBuilder, at: usize, client: bool) -> Result<Option<String>, Malformed> {
    let Ok(total) = lb.read_u16(at) else {
        return Ok(None);
    };
    lb.field(
        at..at + 2,
        field::EXTENSIONS_LENGTH,
        Value::U64(total.into()),
    );
    let end = at + 2 + usize::from(total);
    let mut p = at + 2;
    let mut sni = None;
    while p + 4 <= end {
        let label = extension_name(lb.read_u16(p)?);
        let ty = lb.u16_at(p, field::EXTENSION_TYPE.labelled(label))?;
        let len = usize::from(lb.u16_at(p + 2, field::EXTENSION_LEN)?);
        let body = p + 4;
        lb.slice(body..body + len)?;
        match ty {
            0 if client && len >= 5 => {
                lb.u16_at(body, field::SERVER_NAME_LIST_LEN)?;
                lb.u8_at(body + 2, field::SERVER_NAME_TYPE)?;
                let n = usize::from(lb.u16_at(body + 3, field::SERVER_NAME_LEN)?);
                let name = lb.slice(body + 5..body + 5 + n)?;
                let name = String::from_utf8_lossy(name).into_owned();
                lb.field_with(body + 5..body + 5 + n, field::SERVER_NAME, || {
                    Value::Text(name.clone())
                });
                sni = Some(name);
            }
            43 if client && len >= 1 => {
                let n = usize::from(lb.read_u8(body)?);
                let mut v = body + 1;
                while v + 2 <= body + 1 + n.min(len - 1) {
                    lb.u16_at(v, field::SUPPORTED_VERSION)?;
                    v += 2;
                }
            }
            43 if !client && len == 2 => {
                let f = field::SUPPORTED_VERSION.labelled("Selected version");
                lb.u16_at(body, f)?;
            }
            _ => {}
        }
        p = body + len;
    }
    Ok(sni)
}

fn version_name(v: u16) -> &'static str {
    match v {
        0x0300 => "SSLv3",
        0x0301 => "TLSv1.0",
        0x0302 => "TLSv1.1",
        0x0303 => "TLSv1.2",
        0x0304 => "TLSv1.3",
        _ => "TLS",
    }
}

fn content_name(ct: u8) -> &'static str {
    match ct {
        20 => "Change Cipher Spec",
        21 => "Alert",
        22 => "Handshake",
        23 => "Application Data",
        24 => "Heartbeat",
        _ => "unknown",
    }
}

fn handshake_name(ty: u8) -> &'static str {
    match ty {
        0 => "Hello Request",
        1 => "Client Hello",
        2 => "Server Hello",
        4 => "New Session Ticket",
        8 => "Encrypted Extensions",
        11 => "Certificate",
        12 => "Server Key Exchange",
        13 => "Certificate Request",
        14 => "Server Hello Done",
        15 => "Certificate Verify",
        16 => "Client Key Exchange",
        20 => "Finished",
        _ => "Handshake message (or encrypted handshake)",
    }
}

fn extension_name(ty: u16) -> &'static str {
    match ty {
        0 => "Extension: server_name",
        10 => "Extension: supported_groups",
        13 => "Extension: signature_algorithms",
        16 => "Extension: application_layer_protocol_negotiation",
        43 => "Extension: supported_versions",
        45 => "Extension: psk_key_exchange_modes",
        51 => "Extension: key_share",
        _ => "Extension",
    }
}
