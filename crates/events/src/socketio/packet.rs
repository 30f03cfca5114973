//! Socket.IO protocol v5 packets, carried in Engine.IO `message` packets. Pure encode and decode.
//!
//! The text form is `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`:
//!
//! | digit | type | example |
//! |---|---|---|
//! | 0 | CONNECT | `0/chat,{"token":"x"}` (client, with auth); `0{"sid":"a1"}` (server) |
//! | 1 | DISCONNECT | `1/chat,` |
//! | 2 | EVENT | `2/chat,3["message","hi"]` (ack id 3) |
//! | 3 | ACK | `3/chat,3[{"ok":true}]` |
//! | 4 | CONNECT_ERROR | `4/chat,{"message":"not allowed"}` |
//! | 5 | BINARY_EVENT | `51-["up",{"_placeholder":true,"num":0}]` then one binary attachment |
//! | 6 | BINARY_ACK | `61-/chat,3[{"_placeholder":true,"num":0}]` then one binary attachment |
//!
//! The main namespace `/` is written by leaving the namespace out. Binary values are taken out
//! of the JSON, replaced by placeholders `{"_placeholder":true,"num":N}`, and sent after the
//! packet as N+1 separate binary Engine.IO messages; [`Reassembler`] puts them back.
//!
//! Inside netlab a binary value is the JSON object `{"$binary":"<base64>"}` (see [`BINARY_KEY`]),
//! so the core, which only knows JSON, can carry it to any client.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

/// The key of netlab's JSON stand-in for a binary value: `{"$binary":"aGk="}`.
pub const BINARY_KEY: &str = "$binary";

/// At most this many attachments per packet: each one is buffered until the packet is whole,
/// so a bound keeps a client from making the server hold unlimited data for it.
pub const MAX_ATTACHMENTS: usize = 10;

/// Event names socket.io reserves for its own use: a client may not emit them.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The seven Socket.IO packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Connect,
    Disconnect,
    Event,
    Ack,
    ConnectError,
    BinaryEvent,
    BinaryAck,
}

impl Kind {
    pub fn digit(self) -> char {
        match self {
            Kind::Connect => '0',
            Kind::Disconnect => '1',
            Kind::Event => '2',
            Kind::Ack => '3',
            Kind::ConnectError => '4',
            Kind::BinaryEvent => '5',
            Kind::BinaryAck => '6',
        }
    }

    pub fn from_digit(c: char) -> Option<Kind> {
        Some(match c {
            '0' => Kind::Connect,
            '1' => Kind::Disconnect,
            '2' => Kind::Event,
            '3' => Kind::Ack,
            '4' => Kind::ConnectError,
            '5' => Kind::BinaryEvent,
            '6' => Kind::BinaryAck,
            _ => return None,
        })
    }

    /// The name as the specification writes it (`BINARY_EVENT`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Connect => "CONNECT",
            Kind::Disconnect => "DISCONNECT",
            Kind::Event => "EVENT",
            Kind::Ack => "ACK",
            Kind::ConnectError => "CONNECT_ERROR",
            Kind::BinaryEvent => "BINARY_EVENT",
            Kind::BinaryAck => "BINARY_ACK",
        }
    }

    fn is_binary(self) -> bool {
        matches!(self, Kind::BinaryEvent | Kind::BinaryAck)
    }
}

/// One Socket.IO packet, binary values already in place (as `{"$binary":...}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// EVENT and ACK even when the wire said BINARY_EVENT or BINARY_ACK: whether attachments are
    /// needed follows from the data, see [`Packet::encode`].
    pub kind: Kind,
    pub nsp: String,
    pub id: Option<u64>,
    pub data: Option<Value>,
}

/// Why text or bytes are not a Socket.IO packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SioError {
    #[error("an empty Socket.IO packet; every packet starts with its type digit 0-6")]
    Empty,
    #[error("unknown Socket.IO packet type {0:?}; the types are 0 (CONNECT) to 6 (BINARY_ACK)")]
    UnknownType(char),
    #[error("illegal attachments: a binary packet starts with <count>- (e.g. 51-[...])")]
    IllegalAttachments,
    #[error("{count} attachments is more than the {max} this server accepts in one packet")]
    TooManyAttachments { count: usize, max: usize },
    #[error("the ack id is not a number that fits in 64 bits")]
    BadAckId,
    #[error("the packet's data is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("invalid payload for {kind}: {expected}")]
    InvalidPayload {
        kind: &'static str,
        expected: &'static str,
    },
    #[error("a placeholder points at attachment {0}, which the packet does not have")]
    BadPlaceholder(String),
    #[error("binary data arrived but no binary packet is waiting for attachments")]
    UnexpectedBinary,
    #[error("a text packet arrived while a binary packet still waits for {0} attachment(s)")]
    ExpectedBinary(usize),
}

impl Packet {
    /// A packet with the main namespace and no ack id.
    pub fn new(kind: Kind, nsp: &str, data: Option<Value>) -> Packet {
        Packet {
            kind,
            nsp: nsp.to_string(),
            id: None,
            data,
        }
    }

    /// The event name of an EVENT (a string, or a number as socket.io allows).
    pub fn event_name(&self) -> Option<String> {
        if !matches!(self.kind, Kind::Event | Kind::BinaryEvent) {
            return None;
        }
        match self.data.as_ref()?.as_array()?.first()? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Encode: the text packet, then the attachments to send as binary messages after it.
    /// Data holding `{"$binary":...}` values goes out as BINARY_EVENT / BINARY_ACK.
    pub fn encode(&self) -> (String, Vec<Vec<u8>>) {
        let mut attachments = Vec::new();
        let data = self
            .data
            .as_ref()
            .map(|d| take_binaries(d, &mut attachments));
        let kind = match self.kind {
            Kind::Event | Kind::BinaryEvent if !attachments.is_empty() => Kind::BinaryEvent,
            Kind::Ack | Kind::BinaryAck if !attachments.is_empty() => Kind::BinaryAck,
            Kind::BinaryEvent => Kind::Event,
            Kind::BinaryAck => Kind::Ack,
            k => k,
        };
        let mut out = header(kind, attachments.len(), &self.nsp, self.id);
        if let Some(d) = data {
            out.push_str(&d.to_string());
        }
        (out, attachments)
    }

    /// Decode the text part. A binary packet comes back with the number of attachments still
    /// to come; its data holds placeholders until [`Reassembler`] (or [`fill_placeholders`])
    /// puts the bytes in.
    pub fn decode(text: &str) -> Result<(Packet, usize), SioError> {
        let mut rest = text;
        let first = rest.chars().next().ok_or(SioError::Empty)?;
        let kind = Kind::from_digit(first).ok_or(SioError::UnknownType(first))?;
        rest = &rest[first.len_utf8()..];

        let mut attachments = 0;
        if kind.is_binary() {
            let dash = rest.find('-').ok_or(SioError::IllegalAttachments)?;
            let count = &rest[..dash];
            if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SioError::IllegalAttachments);
            }
            attachments = count.parse().map_err(|_| SioError::IllegalAttachments)?;
            if attachments > MAX_ATTACHMENTS {
                return Err(SioError::TooManyAttachments {
                    count: attachments,
                    max: MAX_ATTACHMENTS,
                });
            }
            rest = &rest[dash + 1..];
        }

        let mut nsp = "/".to_string();
        if rest.starts_with('/') {
            // The namespace runs to the comma, or to the end of the packet.
            let end = rest.find(',').unwrap_or(rest.len());
            nsp = rest[..end].to_string();
            rest = rest.get(end + 1..).unwrap_or("");
        }

        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let id = if digits > 0 {
            Some(rest[..digits].parse().map_err(|_| SioError::BadAckId)?)
        } else {
            None
        };
        rest = &rest[digits..];

        let data = if rest.is_empty() {
            None
        } else {
            let v: Value =
                serde_json::from_str(rest).map_err(|e| SioError::InvalidJson(e.to_string()))?;
            Some(v)
        };
        check_payload(kind, data.as_ref())?;
        if kind.is_binary() && data.is_some() {
            check_placeholders(data.as_ref().unwrap_or(&Value::Null), attachments)?;
        }
        Ok((
            Packet {
                kind,
                nsp,
                id,
                data,
            },
            attachments,
        ))
    }
}

/// The payload rules of the specification, per packet type.
fn check_payload(kind: Kind, data: Option<&Value>) -> Result<(), SioError> {
    let bad = |expected| {
        Err(SioError::InvalidPayload {
            kind: kind.name(),
            expected,
        })
    };
    match (kind, data) {
        (Kind::Connect, None) | (Kind::Connect, Some(Value::Object(_))) => Ok(()),
        (Kind::Connect, _) => bad("the auth payload is an object"),
        (Kind::Disconnect, None) => Ok(()),
        (Kind::Disconnect, Some(_)) => bad("DISCONNECT carries no data"),
        (Kind::ConnectError, Some(Value::Object(_) | Value::String(_))) => Ok(()),
        (Kind::ConnectError, _) => bad("an object {\"message\":...} or a string"),
        (Kind::Event | Kind::BinaryEvent, Some(Value::Array(a))) => match a.first() {
            Some(Value::Number(_)) => Ok(()),
            Some(Value::String(s)) if !RESERVED_EVENTS.contains(&s.as_str()) => Ok(()),
            Some(Value::String(_)) => {
                bad("an event name that is not reserved (connect, disconnect, ...)")
            }
            _ => bad("an array whose first element is the event name"),
        },
        (Kind::Event | Kind::BinaryEvent, _) => bad("an array [\"name\", ...args]"),
        (Kind::Ack | Kind::BinaryAck, Some(Value::Array(_))) => Ok(()),
        (Kind::Ack | Kind::BinaryAck, _) => bad("an array of the ack's arguments"),
    }
}

fn placeholder_num(v: &Value) -> Option<&Value> {
    let o = v.as_object()?;
    (o.get("_placeholder") == Some(&Value::Bool(true)))
        .then(|| o.get("num").unwrap_or(&Value::Null))
}

/// Every placeholder must point at an attachment the packet announced.
fn check_placeholders(v: &Value, count: usize) -> Result<(), SioError> {
    if let Some(num) = placeholder_num(v) {
        return match num.as_u64() {
            Some(n) if (n as usize) < count => Ok(()),
            _ => Err(SioError::BadPlaceholder(num.to_string())),
        };
    }
    match v {
        Value::Array(a) => a.iter().try_for_each(|x| check_placeholders(x, count)),
        Value::Object(o) => o.values().try_for_each(|x| check_placeholders(x, count)),
        _ => Ok(()),
    }
}

/// netlab's JSON stand-in for bytes: `{"$binary":"<base64>"}`.
pub fn binary_value(bytes: &[u8]) -> Value {
    json!({ BINARY_KEY: BASE64.encode(bytes) })
}

/// The bytes of a `{"$binary":...}` value, if `v` is one.
pub fn binary_bytes(v: &Value) -> Option<Vec<u8>> {
    let o = v.as_object()?;
    if o.len() != 1 {
        return None;
    }
    BASE64.decode(o.get(BINARY_KEY)?.as_str()?).ok()
}

/// Replace placeholders by the attachments they point at (as `{"$binary":...}` values).
pub fn fill_placeholders(v: &Value, attachments: &[Vec<u8>]) -> Result<Value, SioError> {
    if let Some(num) = placeholder_num(v) {
        return num
            .as_u64()
            .and_then(|n| attachments.get(n as usize))
            .map(|b| binary_value(b))
            .ok_or_else(|| SioError::BadPlaceholder(num.to_string()));
    }
    Ok(match v {
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| fill_placeholders(x, attachments))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), fill_placeholders(x, attachments)?)))
                .collect::<Result<Map<_, _>, SioError>>()?,
        ),
        other => other.clone(),
    })
}

/// The reverse: take every `{"$binary":...}` value out into `out`, leaving placeholders.
fn take_binaries(v: &Value, out: &mut Vec<Vec<u8>>) -> Value {
    if let Some(bytes) = binary_bytes(v) {
        out.push(bytes);
        return json!({"_placeholder": true, "num": out.len() - 1});
    }
    match v {
        Value::Array(a) => Value::Array(a.iter().map(|x| take_binaries(x, out)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), take_binaries(x, out)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// An EVENT's text written straight from the core's event: `2/chat,["message",{..},"7"]` for
/// event `message` with one argument in `/chat`, `offset` 7. The same text [`Packet::encode`]
/// gives for the packet holding `[name, ...args, "offset"]`, without building that packet first
/// (a copy of every argument, per recipient). `None` when an argument holds a binary value,
/// which needs attachments: build the [`Packet`] then.
pub fn encode_event(
    nsp: &str,
    id: Option<u64>,
    name: &str,
    args: &[Value],
    offset: Option<u64>,
) -> Option<String> {
    if args.iter().any(has_binary) {
        return None;
    }
    // Written as bytes (serde_json writes into a Vec directly), then checked as UTF-8 once.
    let mut out = header(Kind::Event, 0, nsp, id).into_bytes();
    out.push(b'[');
    // Writing JSON into a Vec cannot fail (a `Value` has only string keys).
    serde_json::to_writer(&mut out, name).ok()?;
    for a in args {
        out.push(b',');
        serde_json::to_writer(&mut out, a).ok()?;
    }
    if let Some(offset) = offset {
        out.push(b',');
        serde_json::to_writer(&mut out, &offset.to_string()).ok()?;
    }
    out.push(b']');
    String::from_utf8(out).ok()
}

/// What comes before a packet's data: its type digit, for a binary packet the number of
/// attachments and a dash, the namespace and a comma unless it is "/", and the ack id.
fn header(kind: Kind, attachments: usize, nsp: &str, id: Option<u64>) -> String {
    let mut out = String::new();
    out.push(kind.digit());
    if kind.is_binary() {
        out.push_str(&attachments.to_string());
        out.push('-');
    }
    if nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
    if let Some(id) = id {
        out.push_str(&id.to_string());
    }
    out
}

/// Whether `v` holds a `{"$binary":...}` value anywhere (as [`Packet::encode`] would find it).
fn has_binary(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.iter().any(has_binary),
        Value::Object(o) => binary_bytes(v).is_some() || o.values().any(has_binary),
        _ => false,
    }
}

/// Turns the stream of Engine.IO messages back into whole Socket.IO packets: a binary packet
/// is complete once its attachments have arrived, each as one binary message.
#[derive(Debug, Default)]
pub struct Reassembler {
    pending: Option<(Packet, usize, Vec<Vec<u8>>)>,
}

impl Reassembler {
    /// A text message: a whole packet, or the start of a binary one (then `Ok(None)`).
    pub fn text(&mut self, text: &str) -> Result<Option<Packet>, SioError> {
        if let Some((_, want, got)) = &self.pending {
            return Err(SioError::ExpectedBinary(want - got.len()));
        }
        let (packet, attachments) = Packet::decode(text)?;
        if attachments == 0 {
            return Ok(Some(unbinary(packet, &[])?));
        }
        self.pending = Some((packet, attachments, Vec::new()));
        Ok(None)
    }

    /// A binary message: the next attachment of the waiting packet.
    pub fn binary(&mut self, bytes: Vec<u8>) -> Result<Option<Packet>, SioError> {
        let Some((_, want, got)) = &mut self.pending else {
            return Err(SioError::UnexpectedBinary);
        };
        got.push(bytes);
        if got.len() < *want {
            return Ok(None);
        }
        let Some((packet, _, got)) = self.pending.take() else {
            return Err(SioError::UnexpectedBinary);
        };
        unbinary(packet, &got).map(Some)
    }

    /// Attachments still awaited (0 when no packet is half-received).
    pub fn waiting(&self) -> usize {
        self.pending
            .as_ref()
            .map_or(0, |(_, want, got)| want - got.len())
    }
}

fn unbinary(mut p: Packet, attachments: &[Vec<u8>]) -> Result<Packet, SioError> {
    p.kind = match p.kind {
        Kind::BinaryEvent => Kind::Event,
        Kind::BinaryAck => Kind::Ack,
        k => k,
    };
    if !attachments.is_empty()
        && let Some(d) = &p.data
    {
        p.data = Some(fill_placeholders(d, attachments)?);
    }
    Ok(p)
}
