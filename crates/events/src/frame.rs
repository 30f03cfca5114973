//! The frames of the tiny event protocol, and their typed decoding.
//!
//! A frame is one JSON object typed by its `"type"` field. Decoding is done by hand from a
//! `serde_json::Value` rather than by a derived `Deserialize` so that every way a frame can be
//! wrong gets its own error code ([`FrameError::code`]): the server sends that code back to the
//! client in an `error` frame, and a student reading the wire sees exactly what was wrong.

use serde::Serialize;
use serde_json::{Map, Value};

/// The protocol version announced in `hello`. Bumped only for an incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// The namespace used when a frame leaves out `"ns"`.
pub const DEFAULT_NS: &str = "/";

/// One frame, in either direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Frame {
    /// Server to client, once, as soon as the connection opens: the rules of this server.
    Hello {
        version: u32,
        ping_interval_ms: u64,
        ping_timeout_ms: u64,
        max_frame_bytes: usize,
    },
    /// Client to server: join a namespace, optionally with credentials or a resume request.
    Connect {
        ns: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        auth: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
    },
    /// Server to client: the namespace accepted the socket.
    Connected {
        ns: String,
        sid: String,
        session: String,
        recovered: bool,
    },
    /// Server to client: the namespace (its middleware) refused the socket.
    ConnectError { ns: String, message: String },
    /// Either direction: a named event with arguments.
    Event {
        ns: String,
        name: String,
        args: Vec<Value>,
        /// Present when the sender wants an acknowledgement with this id.
        #[serde(skip_serializing_if = "Option::is_none")]
        ack: Option<u64>,
        /// Present on reliable events: the per-session sequence number.
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Either direction: the reply to an event that carried an ack id.
    Ack {
        ns: String,
        id: u64,
        args: Vec<Value>,
    },
    /// Either direction: cumulative confirmation of reliable events up to and including `seq`.
    Received { ns: String, seq: u64 },
    /// Either direction: leave a namespace (client) or be removed from it (server).
    Disconnect {
        ns: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Server to client heartbeat; the client answers `pong`.
    Ping,
    /// Client to server heartbeat answer.
    Pong,
    /// Server to client: a protocol error; the server closes the connection after it.
    Error { code: String, message: String },
    /// Server to client: one event of the client's (`name`) was not carried out, for the reason
    /// in `code` and `message` (e.g. `too_large`: what it would make the server send is longer
    /// than `max_frame_bytes`). Not an error of the connection: it stays open. An `error` frame
    /// would not do, since every client reads `error` as "the server is closing".
    Refused {
        ns: String,
        name: String,
        code: String,
        message: String,
    },
}

/// The resume request inside `connect`: the session token and the last reliable seq received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resume {
    pub session: String,
    pub seq: u64,
}

impl Frame {
    /// The namespace a frame belongs to, if it is a namespaced frame.
    pub fn ns(&self) -> Option<&str> {
        match self {
            Frame::Connect { ns, .. }
            | Frame::Connected { ns, .. }
            | Frame::ConnectError { ns, .. }
            | Frame::Event { ns, .. }
            | Frame::Ack { ns, .. }
            | Frame::Received { ns, .. }
            | Frame::Disconnect { ns, .. }
            | Frame::Refused { ns, .. } => Some(ns),
            _ => None,
        }
    }

    /// The value of `"type"` for this frame, as it appears on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Frame::Hello { .. } => "hello",
            Frame::Connect { .. } => "connect",
            Frame::Connected { .. } => "connected",
            Frame::ConnectError { .. } => "connect_error",
            Frame::Event { .. } => "event",
            Frame::Ack { .. } => "ack",
            Frame::Received { .. } => "received",
            Frame::Disconnect { .. } => "disconnect",
            Frame::Ping => "ping",
            Frame::Pong => "pong",
            Frame::Error { .. } => "error",
            Frame::Refused { .. } => "refused",
        }
    }

    /// Shorthand for an event frame without ack id or seq.
    pub fn event(ns: &str, name: &str, args: Vec<Value>) -> Frame {
        Frame::Event {
            ns: ns.to_string(),
            name: name.to_string(),
            args,
            ack: None,
            seq: None,
        }
    }

    /// Encode as compact JSON (no trailing newline; the codec adds it).
    pub fn to_json(&self) -> String {
        // Serializing this enum cannot fail: every field is a string, number, bool or Value.
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!("{{\"type\":\"error\",\"code\":\"internal\",\"message\":\"{e}\"}}")
        })
    }

    /// Decode one frame from the bytes of one line (without its newline).
    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        let text = std::str::from_utf8(bytes).map_err(|e| FrameError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        let value: Value =
            serde_json::from_str(text).map_err(|e| FrameError::InvalidJson(e.to_string()))?;
        Frame::from_value(value)
    }

    /// Decode one frame from an already parsed JSON value.
    pub fn from_value(value: Value) -> Result<Frame, FrameError> {
        let Value::Object(obj) = value else {
            return Err(FrameError::NotAnObject);
        };
        let kind = match obj.get("type") {
            None => return Err(FrameError::MissingType),
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(FrameError::field("type", "a string")),
        };
        let f = Fields(&obj);
        Ok(match kind {
            "hello" => Frame::Hello {
                version: f.num_req("version", "a version number below 2^32")?,
                ping_interval_ms: f.u64_req("ping_interval_ms")?,
                ping_timeout_ms: f.u64_req("ping_timeout_ms")?,
                max_frame_bytes: f.num_req("max_frame_bytes", "a size this machine can address")?,
            },
            "connect" => Frame::Connect {
                ns: f.ns()?,
                auth: obj.get("auth").filter(|v| !v.is_null()).cloned(),
                resume: f.resume()?,
            },
            "connected" => Frame::Connected {
                ns: f.ns()?,
                sid: f.str_req("sid")?,
                session: f.str_req("session")?,
                recovered: f.bool_or("recovered", false)?,
            },
            "connect_error" => Frame::ConnectError {
                ns: f.ns()?,
                message: f.str_req("message")?,
            },
            "event" => Frame::Event {
                ns: f.ns()?,
                name: f.str_req("name")?,
                args: f.args()?,
                ack: f.ack_id("ack")?,
                seq: f.u64_opt("seq")?,
            },
            "ack" => Frame::Ack {
                ns: f.ns()?,
                id: f
                    .ack_id("id")?
                    .ok_or(FrameError::BadAckId("missing".into()))?,
                args: f.args()?,
            },
            "received" => Frame::Received {
                ns: f.ns()?,
                seq: f.u64_req("seq")?,
            },
            "disconnect" => Frame::Disconnect {
                ns: f.ns()?,
                reason: f.str_opt("reason")?,
            },
            "ping" => Frame::Ping,
            "pong" => Frame::Pong,
            "error" => Frame::Error {
                code: f.str_req("code")?,
                message: f.str_req("message")?,
            },
            "refused" => Frame::Refused {
                ns: f.ns()?,
                name: f.str_req("name")?,
                code: f.str_req("code")?,
                message: f.str_req("message")?,
            },
            other => return Err(FrameError::UnknownType(truncate(other))),
        })
    }
}

/// Keep error messages short when echoing attacker-controlled text back.
fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Typed field access on a frame object; each accessor names the field it complains about.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn ns(&self) -> Result<String, FrameError> {
        match self.get("ns") {
            None => Ok(DEFAULT_NS.to_string()),
            Some(Value::String(s)) if s.starts_with('/') => Ok(s.clone()),
            Some(_) => Err(FrameError::field("ns", "a string starting with '/'")),
        }
    }

    fn str_opt(&self, key: &'static str) -> Result<Option<String>, FrameError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(FrameError::field(key, "a string")),
        }
    }

    fn str_req(&self, key: &'static str) -> Result<String, FrameError> {
        self.str_opt(key)?
            .ok_or(FrameError::MissingField { field: key })
    }

    fn u64_opt(&self, key: &'static str) -> Result<Option<u64>, FrameError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or(FrameError::field(key, "a non-negative integer")),
        }
    }

    fn u64_req(&self, key: &'static str) -> Result<u64, FrameError> {
        self.u64_opt(key)?
            .ok_or(FrameError::MissingField { field: key })
    }

    /// A required number that must fit `T`: checked, not cast, so that 4294967297 is not read
    /// as version 1 (nor a size as something else on a 32-bit machine).
    fn num_req<T: TryFrom<u64>>(
        &self,
        key: &'static str,
        expected: &'static str,
    ) -> Result<T, FrameError> {
        T::try_from(self.u64_req(key)?).map_err(|_| FrameError::field(key, expected))
    }

    fn bool_or(&self, key: &'static str, default: bool) -> Result<bool, FrameError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(FrameError::field(key, "true or false")),
        }
    }

    /// Ack ids get their own error: a wrong one is the classic mistake when typing in `nc`.
    fn ack_id(&self, key: &'static str) -> Result<Option<u64>, FrameError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| FrameError::BadAckId(truncate(&v.to_string()))),
        }
    }

    fn args(&self) -> Result<Vec<Value>, FrameError> {
        match self.get("args") {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(_) => Err(FrameError::field("args", "an array")),
        }
    }

    fn resume(&self) -> Result<Option<Resume>, FrameError> {
        let Some(v) = self.get("resume") else {
            return Ok(None);
        };
        let Value::Object(obj) = v else {
            return Err(FrameError::field("resume", "an object {session, seq}"));
        };
        let inner = Fields(obj);
        Ok(Some(Resume {
            session: inner.str_req("session")?,
            seq: inner.u64_opt("seq")?.unwrap_or(0),
        }))
    }
}

/// Everything that can be wrong with one frame (or the line that carries it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("the line is not valid UTF-8 (first bad byte at offset {offset}); send UTF-8 text")]
    NotUtf8 { offset: usize },
    #[error("the line is not valid JSON ({0}); send one JSON object per line")]
    InvalidJson(String),
    #[error("the frame is not a JSON object; send {{\"type\":...}}")]
    NotAnObject,
    #[error("the frame has no \"type\" field; every frame needs one, e.g. {{\"type\":\"ping\"}}")]
    MissingType,
    #[error(
        "unknown frame type {0:?}; known types: connect, event, ack, received, disconnect, pong"
    )]
    UnknownType(String),
    #[error("the frame has no {field:?} field, which this type requires")]
    MissingField { field: &'static str },
    #[error("field {field:?} must be {expected}")]
    InvalidField {
        field: &'static str,
        expected: &'static str,
    },
    #[error("bad ack id {0}: ack ids are non-negative integers, increasing per connection")]
    BadAckId(String),
    #[error("the frame is longer than {max} bytes; split the data or raise max_frame_bytes")]
    TooLarge { max: usize },
}

impl FrameError {
    fn field(field: &'static str, expected: &'static str) -> Self {
        FrameError::InvalidField { field, expected }
    }

    /// The machine-readable code sent in the `error` frame.
    pub fn code(&self) -> &'static str {
        match self {
            FrameError::NotUtf8 { .. } => "not_utf8",
            FrameError::InvalidJson(_) => "invalid_json",
            FrameError::NotAnObject => "not_an_object",
            FrameError::MissingType => "missing_type",
            FrameError::UnknownType(_) => "unknown_type",
            FrameError::MissingField { .. } | FrameError::InvalidField { .. } => "invalid_frame",
            FrameError::BadAckId(_) => "bad_ack_id",
            FrameError::TooLarge { .. } => "frame_too_large",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roundtrip(f: Frame) {
        let text = f.to_json();
        assert_eq!(Frame::decode(text.as_bytes()).unwrap(), f, "{text}");
    }

    #[test]
    fn every_frame_type_round_trips() {
        roundtrip(Frame::Hello {
            version: 1,
            ping_interval_ms: 25000,
            ping_timeout_ms: 20000,
            max_frame_bytes: 1 << 20,
        });
        roundtrip(Frame::Connect {
            ns: "/chat".into(),
            auth: Some(json!({"name": "ada"})),
            resume: Some(Resume {
                session: "abc".into(),
                seq: 41,
            }),
        });
        roundtrip(Frame::Connected {
            ns: "/".into(),
            sid: "s".into(),
            session: "t".into(),
            recovered: true,
        });
        roundtrip(Frame::ConnectError {
            ns: "/a".into(),
            message: "no".into(),
        });
        roundtrip(Frame::Event {
            ns: "/".into(),
            name: "m".into(),
            args: vec![json!(1), json!("x")],
            ack: Some(7),
            seq: Some(42),
        });
        roundtrip(Frame::Ack {
            ns: "/".into(),
            id: 7,
            args: vec![],
        });
        roundtrip(Frame::Received {
            ns: "/".into(),
            seq: 3,
        });
        roundtrip(Frame::Disconnect {
            ns: "/".into(),
            reason: Some("bye".into()),
        });
        roundtrip(Frame::Ping);
        roundtrip(Frame::Pong);
        roundtrip(Frame::Error {
            code: "c".into(),
            message: "m".into(),
        });
        roundtrip(Frame::Refused {
            ns: "/chat".into(),
            name: "message".into(),
            code: "too_large".into(),
            message: "m".into(),
        });
    }

    #[test]
    fn ns_defaults_to_root_and_args_to_empty() {
        let f = Frame::decode(br#"{"type":"event","name":"hi"}"#).unwrap();
        assert_eq!(f, Frame::event("/", "hi", vec![]));
    }

    #[test]
    fn wire_shape_matches_the_spec() {
        let f = Frame::event("/chat", "message", vec![json!("hi")]);
        assert_eq!(
            f.to_json(),
            r#"{"type":"event","ns":"/chat","name":"message","args":["hi"]}"#
        );
        assert_eq!(Frame::Ping.to_json(), r#"{"type":"ping"}"#);
        let refused = Frame::Refused {
            ns: "/chat".into(),
            name: "message".into(),
            code: "too_large".into(),
            message: "m".into(),
        };
        assert_eq!(
            refused.to_json(),
            r#"{"type":"refused","ns":"/chat","name":"message","code":"too_large","message":"m"}"#
        );
    }

    /// Found by the `frame_decoder` fuzz target (crates/events/fuzz, 2026-11-26): a number
    /// with more significant digits than an f64 holds was parsed one ulp off (serde_json's
    /// default fast float parser is not correctly rounded), so decode -> encode -> decode
    /// changed it, and every relay through the server could move it again.
    #[test]
    fn long_float_arguments_survive_a_relay() {
        let lines: &[&[u8]] = &[
            br#"{"type":"event","ns":"/chat","name":"join","args":[66666666666666666666666666666666666665555],"ack":1}"#,
            br#"{"type":"event","ns":"/chat","name":"join","args":[5555556666666666666666666666666666666666666666666665555]}"#,
            br#"{"type":"ack","ns":"/","id":1,"args":[0.1000000000000000055511151231257827021181583404541015625]}"#,
        ];
        for bytes in lines {
            let first = Frame::decode(bytes).unwrap();
            let text = first.to_json();
            let again = Frame::decode(text.as_bytes()).unwrap();
            assert_eq!(again, first, "{}", String::from_utf8_lossy(bytes));
        }
        // And it is the nearest f64 to the decimal text, as Rust's own parser gives.
        let Frame::Event { args, .. } = Frame::decode(lines[0]).unwrap() else {
            panic!("not an event")
        };
        let want: f64 = "66666666666666666666666666666666666665555".parse().unwrap();
        assert_eq!(args[0].as_f64(), Some(want));
    }

    #[test]
    fn each_mistake_has_its_code() {
        let cases: &[(&[u8], &str)] = &[
            (b"\xff\xfe", "not_utf8"),
            (b"{nope", "invalid_json"),
            (b"[1,2]", "not_an_object"),
            (br#"{"ns":"/"}"#, "missing_type"),
            (br#"{"type":"shout"}"#, "unknown_type"),
            (br#"{"type":"event"}"#, "invalid_frame"),
            (br#"{"type":"event","name":"x","args":3}"#, "invalid_frame"),
            (
                br#"{"type":"event","name":"x","ns":"chat"}"#,
                "invalid_frame",
            ),
            (br#"{"type":"event","name":"x","ack":-1}"#, "bad_ack_id"),
            (br#"{"type":"ack","id":"seven"}"#, "bad_ack_id"),
            (br#"{"type":"ack"}"#, "bad_ack_id"),
        ];
        for (bytes, code) in cases {
            let err = Frame::decode(bytes).unwrap_err();
            assert_eq!(err.code(), *code, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn a_hello_version_too_big_for_u32_is_an_error_not_a_wrap() {
        let hello = |version: u64| {
            format!(
                r#"{{"type":"hello","version":{version},"ping_interval_ms":1,"ping_timeout_ms":1,"max_frame_bytes":1}}"#
            )
        };
        let err = Frame::decode(hello(4_294_967_297).as_bytes()).unwrap_err();
        assert_eq!(err.code(), "invalid_frame");
        assert!(err.to_string().contains("version"), "{err}");
        let ok = Frame::decode(hello(4_294_967_295).as_bytes()).unwrap();
        assert!(
            matches!(
                ok,
                Frame::Hello {
                    version: u32::MAX,
                    ..
                }
            ),
            "{ok:?}"
        );
    }
}
