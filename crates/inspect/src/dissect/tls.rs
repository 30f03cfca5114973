//! TLS records (RFC 8446, RFC 5246): record header, handshake type, the ClientHello's server
//! name (SNI). Everything after the handshake is encrypted, so it is only counted.

use std::ops::Range;

use super::{Dissector, LayerBuilder, Malformed, Units};
use crate::model::{Protocol, Reason, Value};

/// Every field name this module can emit: the filter rejects names outside
/// [`crate::filter::field_names`], and `field_registry_covers_fixtures` keeps this list honest.
pub(crate) const FIELDS: &[&str] = &[
    "tls.app_data",
    "tls.handshake.cipher_suites_length",
    "tls.handshake.ciphersuite",
    "tls.handshake.comp_method",
    "tls.handshake.comp_methods_length",
    "tls.handshake.extension.len",
    "tls.handshake.extension.type",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.extensions_length",
    "tls.handshake.extensions_server_name",
    "tls.handshake.extensions_server_name_len",
    "tls.handshake.extensions_server_name_list_len",
    "tls.handshake.extensions_server_name_type",
    "tls.handshake.length",
    "tls.handshake.random",
    "tls.handshake.session_id_length",
    "tls.handshake.type",
    "tls.handshake.version",
    "tls.record.content_type",
    "tls.record.length",
    "tls.record.version",
];

mod field {
    pub const CONTENT_TYPE: usize = 0;
    pub const VERSION: usize = 1;
    pub const LENGTH: usize = 3;
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
    let ct = lb.u8(
        field::CONTENT_TYPE,
        "tls.record.content_type",
        "Content type",
    )?;
    let version = lb.u16(field::VERSION, "tls.record.version", "Version")?;
    let len = usize::from(lb.u16(field::LENGTH, "tls.record.length", "Length")?);
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
            lb.field(
                field::HEADER_LEN..field::HEADER_LEN + len.min(have),
                "tls.app_data",
                "Encrypted application data",
                Value::U64(len as u64),
            );
            lb.note("encrypted: only the two ends hold the keys, so the content cannot be shown");
        }
        _ => {}
    }
    Ok((len, summary))
}

/// The handshake message at the start of the record's body.
fn handshake(lb: &mut LayerBuilder, body_len: usize) -> Result<String, Malformed> {
    let h = field::HEADER_LEN;
    let ty = lb.u8(h, "tls.handshake.type", "Handshake type")?;
    let b = lb.slice(h + 1..h + 4)?;
    let hlen = u32::from_be_bytes([0, b[0], b[1], b[2]]);
    lb.field(
        h + 1..h + 4,
        "tls.handshake.length",
        "Length",
        Value::U64(hlen.into()),
    );
    let name = handshake_name(ty);
    if body_len < 4 {
        return Ok(name.to_string());
    }
    match ty {
        1 => client_hello(lb, h + 4).map(|sni| match sni {
            Some(s) => format!("{name}, SNI={s}"),
            None => name.to_string(),
        }),
        2 => server_hello(lb, h + 4).map(|_| name.to_string()),
        _ => {
            // After the ServerHello of TLS 1.3 the handshake itself is encrypted; record type
            // 22 then carries what looks like garbage, which is expected.
            Ok(name.to_string())
        }
    }
}

/// Version, random and session id: the start of both hellos. Returns the offset after them.
fn hello_start(lb: &mut LayerBuilder, at: usize) -> Result<usize, Malformed> {
    lb.u16(at, "tls.handshake.version", "Version")?;
    let random = lb.slice(at + 2..at + 34)?;
    lb.field_with(at + 2..at + 34, "tls.handshake.random", "Random", || {
        Value::Bytes(random.to_vec())
    });
    let sid_len = usize::from(lb.u8(
        at + 34,
        "tls.handshake.session_id_length",
        "Session ID length",
    )?);
    lb.slice(at + 35..at + 35 + sid_len)?;
    Ok(at + 35 + sid_len)
}

fn client_hello(lb: &mut LayerBuilder, at: usize) -> Result<Option<String>, Malformed> {
    let mut p = hello_start(lb, at)?;
    let cs_len = usize::from(lb.u16(
        p,
        "tls.handshake.cipher_suites_length",
        "Cipher suites length",
    )?);
    lb.slice(p + 2..p + 2 + cs_len)?;
    for at in (p + 2..p + 2 + cs_len).step_by(2) {
        lb.u16(at, "tls.handshake.ciphersuite", "Cipher suite")?;
    }
    p += 2 + cs_len;
    let cm_len = usize::from(lb.u8(
        p,
        "tls.handshake.comp_methods_length",
        "Compression methods length",
    )?);
    p += 1 + cm_len;
    extensions(lb, p, true)
}

fn server_hello(lb: &mut LayerBuilder, at: usize) -> Result<Option<String>, Malformed> {
    let p = hello_start(lb, at)?;
    lb.u16(p, "tls.handshake.ciphersuite", "Cipher suite")?;
    lb.u8(p + 2, "tls.handshake.comp_method", "Compression method")?;
    extensions(lb, p + 3, false)
}

/// The extension list; returns the server name when a ClientHello carries one.
fn extensions(lb: &mut LayerBuilder, at: usize, client: bool) -> Result<Option<String>, Malformed> {
    let Ok(total) = lb.read_u16(at) else {
        return Ok(None);
    };
    lb.field(
        at..at + 2,
        "tls.handshake.extensions_length",
        "Extensions length",
        Value::U64(total.into()),
    );
    let end = at + 2 + usize::from(total);
    let mut p = at + 2;
    let mut sni = None;
    while p + 4 <= end {
        let ty = lb.u16(
            p,
            "tls.handshake.extension.type",
            extension_name(lb.read_u16(p)?),
        )?;
        let len = usize::from(lb.u16(p + 2, "tls.handshake.extension.len", "Length")?);
        let body = p + 4;
        lb.slice(body..body + len)?;
        match ty {
            0 if client && len >= 5 => {
                lb.u16(
                    body,
                    "tls.handshake.extensions_server_name_list_len",
                    "Server name list length",
                )?;
                lb.u8(
                    body + 2,
                    "tls.handshake.extensions_server_name_type",
                    "Server name type",
                )?;
                let n = usize::from(lb.u16(
                    body + 3,
                    "tls.handshake.extensions_server_name_len",
                    "Server name length",
                )?);
                let name = lb.slice(body + 5..body + 5 + n)?;
                let name = String::from_utf8_lossy(name).into_owned();
                lb.field_with(
                    body + 5..body + 5 + n,
                    "tls.handshake.extensions_server_name",
                    "Server name",
                    || Value::Text(name.clone()),
                );
                sni = Some(name);
            }
            43 if client && len >= 1 => {
                let n = usize::from(lb.read_u8(body)?);
                let mut v = body + 1;
                while v + 2 <= body + 1 + n.min(len - 1) {
                    lb.u16(
                        v,
                        "tls.handshake.extensions.supported_version",
                        "Supported version",
                    )?;
                    v += 2;
                }
            }
            43 if !client && len == 2 => {
                lb.u16(
                    body,
                    "tls.handshake.extensions.supported_version",
                    "Selected version",
                )?;
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
