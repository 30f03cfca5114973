//! Engine.IO protocol v4 packets: the transport layer under Socket.IO. Pure encode and decode.
//!
//! A packet is one type digit and its data. Over WebSocket each packet is one frame: a text frame
//! `<type><data>`, or a binary frame whose bytes are a `message` packet's data. Over HTTP
//! long-polling several packets travel in one body (a *payload*), joined by the record separator
//! `\x1e`; a binary message in a payload is written `b<base64>`.
//!
//! | digit | type | meaning |
//! |---|---|---|
//! | 0 | open | server to client, once: the handshake JSON |
//! | 1 | close | either side: the session is over |
//! | 2 | ping | server to client heartbeat (and the client's `2probe` during an upgrade) |
//! | 3 | pong | the answer (and the server's `3probe`) |
//! | 4 | message | application data: here, one Socket.IO packet or one of its attachments |
//! | 5 | upgrade | client to server: switch to the probed WebSocket now |
//! | 6 | noop | nothing; ends a pending poll during an upgrade |

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The record separator that joins the packets of a long-polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// The Engine.IO protocol version this implementation speaks (`EIO=4` in the URL).
pub const PROTOCOL: u32 = 4;

/// The data of an Engine.IO packet: text, or bytes (only `message` packets carry bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    Text(String),
    Binary(Vec<u8>),
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// The handshake: `0{"sid":...}` (the JSON is kept as text; see [`Handshake`]).
    Open(String),
    Close,
    /// A ping with optional text (`2probe` during an upgrade).
    Ping(String),
    Pong(String),
    Message(Data),
    Upgrade,
    Noop,
}

/// Why bytes are not an Engine.IO packet or payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EioError {
    #[error("an empty Engine.IO packet; every packet starts with its type digit 0-6")]
    Empty,
    #[error("unknown Engine.IO packet type {0:?}; the types are 0 (open) to 6 (noop)")]
    UnknownType(char),
    #[error(
        "the Engine.IO packet is not valid UTF-8 text; binary data goes in binary frames or as b<base64>"
    )]
    NotUtf8,
    #[error("bad base64 after 'b' in a polling payload: {0}")]
    BadBase64(String),
    #[error("Engine.IO packet type {0} carries no data, but data followed it")]
    UnexpectedData(char),
    #[error("the payload is {len} bytes, over maxPayload {max}; send less per request")]
    TooLarge { len: usize, max: usize },
}

impl Packet {
    /// The type digit.
    pub fn type_digit(&self) -> char {
        match self {
            Packet::Open(_) => '0',
            Packet::Close => '1',
            Packet::Ping(_) => '2',
            Packet::Pong(_) => '3',
            Packet::Message(_) => '4',
            Packet::Upgrade => '5',
            Packet::Noop => '6',
        }
    }

    /// The type's name as the specification writes it.
    pub fn type_name(&self) -> &'static str {
        type_name(self.type_digit()).unwrap_or("?")
    }

    /// Text form: the WebSocket text frame, or one record of a polling payload. A binary message
    /// is written `b<base64>` (its polling form); over WebSocket use [`Packet::ws_frame`].
    pub fn encode_text(&self) -> String {
        let mut out = String::new();
        match self {
            Packet::Message(Data::Binary(bytes)) => {
                out.push('b');
                out.push_str(&BASE64.encode(bytes));
            }
            _ => {
                out.push(self.type_digit());
                match self {
                    Packet::Open(s) | Packet::Ping(s) | Packet::Pong(s) => out.push_str(s),
                    Packet::Message(Data::Text(s)) => out.push_str(s),
                    _ => {}
                }
            }
        }
        out
    }

    /// The WebSocket frame for this packet: binary messages as raw bytes, the rest as text.
    pub fn ws_frame(&self) -> Data {
        match self {
            Packet::Message(Data::Binary(b)) => Data::Binary(b.clone()),
            p => Data::Text(p.encode_text()),
        }
    }

    /// Decode one text packet (a WebSocket text frame or one payload record). `b<base64>` is
    /// accepted too: it is how a polling payload carries a binary message.
    pub fn decode_text(text: &str) -> Result<Packet, EioError> {
        let mut chars = text.chars();
        let first = chars.next().ok_or(EioError::Empty)?;
        let rest = chars.as_str();
        let no_data = |p: Packet| {
            if rest.is_empty() {
                Ok(p)
            } else {
                Err(EioError::UnexpectedData(first))
            }
        };
        match first {
            '0' => Ok(Packet::Open(rest.to_string())),
            '1' => no_data(Packet::Close),
            '2' => Ok(Packet::Ping(rest.to_string())),
            '3' => Ok(Packet::Pong(rest.to_string())),
            '4' => Ok(Packet::Message(Data::Text(rest.to_string()))),
            '5' => no_data(Packet::Upgrade),
            '6' => no_data(Packet::Noop),
            'b' => BASE64
                .decode(rest)
                .map(|b| Packet::Message(Data::Binary(b)))
                .map_err(|e| EioError::BadBase64(e.to_string())),
            c => Err(EioError::UnknownType(c)),
        }
    }

    /// Decode one WebSocket frame: text is a packet, binary is a message's bytes.
    pub fn decode_ws(frame: Data) -> Result<Packet, EioError> {
        match frame {
            Data::Text(t) => Packet::decode_text(&t),
            Data::Binary(b) => Ok(Packet::Message(Data::Binary(b))),
        }
    }
}

/// The name of a type digit (`'4'` is "message"), for labels and errors.
pub fn type_name(digit: char) -> Option<&'static str> {
    Some(match digit {
        '0' => "open",
        '1' => "close",
        '2' => "ping",
        '3' => "pong",
        '4' => "message",
        '5' => "upgrade",
        '6' => "noop",
        _ => return None,
    })
}

/// Join packets into one long-polling payload (a response body).
pub fn encode_payload<'a>(packets: impl IntoIterator<Item = &'a Packet>) -> String {
    let mut out = String::new();
    for (i, p) in packets.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR as char);
        }
        out.push_str(&p.encode_text());
    }
    out
}

/// Split a long-polling payload (a POST body) into packets, refusing bodies over `max_payload`.
pub fn decode_payload(body: &[u8], max_payload: usize) -> Result<Vec<Packet>, EioError> {
    if body.len() > max_payload {
        return Err(EioError::TooLarge {
            len: body.len(),
            max: max_payload,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| EioError::NotUtf8)?;
    text.split(SEPARATOR as char)
        .map(Packet::decode_text)
        .collect()
}

/// The handshake the server sends in its `open` packet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    pub sid: String,
    /// Transports the client may upgrade to: `["websocket"]` from polling, `[]` over WebSocket.
    pub upgrades: Vec<String>,
    /// Milliseconds between the server's pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong before it closes the session.
    pub ping_timeout: u64,
    /// The largest polling body or WebSocket message the server accepts, in bytes.
    pub max_payload: usize,
}

impl Handshake {
    /// The `open` packet carrying this handshake.
    pub fn packet(&self) -> Packet {
        let json = serde_json::to_string(self).unwrap_or_default();
        Packet::Open(json)
    }
}
