//! The display filter language: parse once, then test each [`Packet`] in user space.
//!
//! ```text
//! tcp                              a protocol anywhere in the layer chain
//! port 7007   src port 7007        TCP or UDP port (either side, or one side)
//! host 127.0.0.1   dst host ::1    IPv4 or IPv6 address
//! tcp.flags.syn                    a bare field: true if a flag is set, else if present
//! ip.ttl > 60   tcp.port == 80     comparisons: == != < <= > >= (and eq ne lt le gt ge)
//! http.request.uri contains "/ws"  substring (text) or subsequence (bytes)
//! tcp and not port 22              and, or, not (also &&, ||, !) and ( )
//! tcp port 80                      tcpdump style: a qualifier after a protocol means "and"
//! ```
//!
//! Field names are the dissector's Wireshark-style names (`ip.src`, `tcp.dstport`,
//! `dns.qry.name`), plus a few virtual ones: `tcp.port` / `udp.port` (either port), `ip.addr` /
//! `ipv6.addr` / `eth.addr` (either address), `tcp.stream` / `udp.stream` (the flow tracker's
//! stream index), `frame.number`, `frame.len`, `frame.cap_len`. A dotted name must be in
//! [`field_names`] (or be a dotted prefix of one): a typo such as `tcp.prot` is
//! a parse error with the nearest known name, not a filter that silently matches nothing.
//!
//! A filter that does not parse is an [`InspectError::Filter`] whose message carries the filter
//! with a caret under the bad spot.

use std::net::IpAddr;

use crate::error::{InspectError, Result};
use crate::model::{Packet, Protocol, Value};

/// A parsed filter, ready to test packets. Cheap to clone and to share between threads.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    expr: Expr,
    text: String,
}

impl Filter {
    /// Parse a filter; an empty (or all-space) text matches every packet.
    pub fn parse(text: &str) -> Result<Filter> {
        let tokens = lex(text)?;
        let mut p = Parser {
            text,
            tokens,
            at: 0,
        };
        let expr = if p.peek().kind == Tok::End {
            Expr::True
        } else {
            let e = p.or()?;
            if p.peek().kind != Tok::End {
                let t = p.peek().clone();
                return Err(p.error_at(t.pos, &format!("unexpected {}", describe(&t.kind))));
            }
            e
        };
        Ok(Filter {
            expr,
            text: text.to_string(),
        })
    }

    /// Does the packet pass?
    pub fn matches(&self, p: &Packet) -> bool {
        self.expr.eval(p)
    }

    /// Ports one of which every matching packet must carry (TCP or UDP, either side), if the
    /// filter implies that: `udp port 53` gives `[53]`, `port 1 or tcp.port == 2` gives `[1, 2]`,
    /// `tcp` gives `None`. Live capture hands these to the kernel so that everything else is
    /// dropped before it costs anything; the filter itself still decides.
    pub fn required_ports(&self) -> Option<Vec<u16>> {
        self.expr.required_ports()
    }

    /// Whether evaluating the filter reads fields: everything but protocol names (and the empty
    /// filter) does. Without fields, a view that shows only summaries may dissect with
    /// [`crate::dissect::Context::summaries_only`].
    pub fn needs_fields(&self) -> bool {
        self.expr.needs_fields()
    }

    /// The filter as typed.
    pub fn text(&self) -> &str {
        &self.text
    }
}

// ---- the tree ----

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    True,
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// One of the layer protocol names (matched case-insensitively).
    Proto(&'static [Protocol]),
    Port(Dir, u16),
    Host(Dir, IpAddr),
    Field(String, Option<(Op, Lit)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Either,
    Src,
    Dst,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
}

/// A literal on the right of a comparison, kept in every form it could be read as, so it can
/// be compared with whatever type the field turns out to have.
#[derive(Debug, Clone, PartialEq)]
struct Lit {
    text: String,
    num: Option<u64>,
    ip: Option<IpAddr>,
    bytes: Option<Vec<u8>>,
    boolean: Option<bool>,
}

/// Filter keywords for protocols, and the layers each one matches.
const PROTOCOLS: &[(&str, &[Protocol])] = &[
    ("eth", &[Protocol::Ethernet]),
    ("vlan", &[Protocol::Vlan]),
    ("sll", &[Protocol::LinuxSll, Protocol::LinuxSll2]),
    ("null", &[Protocol::NullLoopback]),
    ("arp", &[Protocol::Arp]),
    ("ip", &[Protocol::Ipv4]),
    ("ipv6", &[Protocol::Ipv6]),
    ("icmp", &[Protocol::Icmp]),
    ("icmpv6", &[Protocol::Icmpv6]),
    ("tcp", &[Protocol::Tcp]),
    ("udp", &[Protocol::Udp]),
    ("dns", &[Protocol::Dns]),
    ("http", &[Protocol::Http]),
    ("ws", &[Protocol::WebSocket]),
    ("websocket", &[Protocol::WebSocket]),
    ("tls", &[Protocol::Tls]),
    ("echo", &[Protocol::Echo]),
    ("events", &[Protocol::Events]),
    ("engineio", &[Protocol::EngineIo]),
    ("socketio", &[Protocol::SocketIo]),
    ("data", &[Protocol::Data]),
    ("malformed", &[Protocol::Malformed]),
];

/// Field-name prefixes besides the protocol keywords (`frame.len`, `ip.addr`, ...).
const OTHER_PREFIXES: &[&str] = &["frame", "ipv6", "data", "sll", "null", "dns", "http"];

/// Every field name a filter may use: what each dissector module and the flow tracker can emit,
/// plus the filter's virtual fields (`tcp.port`, `ip.addr`, `frame.len`, ...). Sorted, no
/// duplicates. The filter checks names against it at parse time, so a typo such as `tcp.prot`
/// is an error rather than a filter that silently matches nothing; the test
/// `field_registry_covers_fixtures` fails if a dissector emits a name missing here.
pub fn field_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<&'static str> = crate::dissect::FIELDS.concat();
        names.extend_from_slice(crate::flows::field::NAMES);
        names.extend(EITHER_FIELDS.iter().map(|(name, _)| *name));
        names.extend(FRAME_FIELDS.iter().map(|(name, _)| *name));
        names.sort_unstable();
        names.dedup();
        names
    })
}

/// The filter's own fields, each declared once here: they join the dissector's names in
/// [`field_names`]. These stand for either of two fields (`tcp.port == 80` holds when either
/// port is 80), as in Wireshark.
const EITHER_FIELDS: [(&str, [&str; 2]); 5] = [
    ("tcp.port", ["tcp.srcport", "tcp.dstport"]),
    ("udp.port", ["udp.srcport", "udp.dstport"]),
    ("ip.addr", ["ip.src", "ip.dst"]),
    ("ipv6.addr", ["ipv6.src", "ipv6.dst"]),
    ("eth.addr", ["eth.src", "eth.dst"]),
];

/// How a frame field's value is found in a packet.
type FrameValue = fn(&Packet) -> u64;

/// The filter's own fields that the capture says rather than the bytes.
const FRAME_FIELDS: [(&str, FrameValue); 3] = [
    ("frame.number", |p| p.number),
    ("frame.len", |p| u64::from(p.raw.orig_len)),
    ("frame.cap_len", |p| p.raw.bytes.len() as u64),
];

fn protocol(word: &str) -> Option<&'static [Protocol]> {
    PROTOCOLS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(word))
        .map(|(_, v)| *v)
}

// ---- evaluation ----

impl Expr {
    fn required_ports(&self) -> Option<Vec<u16>> {
        match self {
            Expr::Port(_, p) => Some(vec![*p]),
            Expr::Field(name, Some((Op::Eq, lit)))
                if matches!(
                    name.as_str(),
                    "tcp.port"
                        | "udp.port"
                        | "tcp.srcport"
                        | "tcp.dstport"
                        | "udp.srcport"
                        | "udp.dstport"
                ) =>
            {
                lit.num.and_then(|n| u16::try_from(n).ok()).map(|p| vec![p])
            }
            Expr::And(a, b) => a.required_ports().or_else(|| b.required_ports()),
            Expr::Or(a, b) => {
                let mut ports = a.required_ports()?;
                ports.extend(b.required_ports()?);
                ports.sort_unstable();
                ports.dedup();
                Some(ports)
            }
            _ => None,
        }
    }

    fn needs_fields(&self) -> bool {
        match self {
            Expr::True | Expr::Proto(_) => false,
            Expr::And(a, b) | Expr::Or(a, b) => a.needs_fields() || b.needs_fields(),
            Expr::Not(a) => a.needs_fields(),
            Expr::Port(..) | Expr::Host(..) | Expr::Field(..) => true,
        }
    }

    fn eval(&self, p: &Packet) -> bool {
        match self {
            Expr::True => true,
            Expr::And(a, b) => a.eval(p) && b.eval(p),
            Expr::Or(a, b) => a.eval(p) || b.eval(p),
            Expr::Not(a) => !a.eval(p),
            Expr::Proto(protocols) => p
                .dissection
                .layers
                .iter()
                .any(|l| protocols.contains(&l.protocol)),
            Expr::Port(dir, port) => {
                let names: &[&str] = match dir {
                    Dir::Either => &["tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport"],
                    Dir::Src => &["tcp.srcport", "udp.srcport"],
                    Dir::Dst => &["tcp.dstport", "udp.dstport"],
                };
                any_value(p, names, |v| number(v) == Some(u64::from(*port)))
            }
            Expr::Host(dir, addr) => {
                let names: &[&str] = match dir {
                    Dir::Either => &["ip.src", "ip.dst", "ipv6.src", "ipv6.dst"],
                    Dir::Src => &["ip.src", "ipv6.src"],
                    Dir::Dst => &["ip.dst", "ipv6.dst"],
                };
                any_value(p, names, |v| address(v) == Some(*addr))
            }
            Expr::Field(name, None) => field_true(p, name),
            Expr::Field(name, Some((Op::Ne, lit))) => {
                // Wireshark's meaning: the field is there and no occurrence equals the value.
                let mut present = false;
                let equal = with_values(p, name, &mut |v| {
                    present = true;
                    compare(v, Op::Eq, lit)
                });
                present && !equal
            }
            Expr::Field(name, Some((op, lit))) => {
                with_values(p, name, &mut |v| compare(v, *op, lit))
            }
        }
    }
}

/// A bare field: a flag must be set; any other field must be present.
fn field_true(p: &Packet, name: &str) -> bool {
    with_values(p, name, &mut |v| !matches!(v, Value::Bool(false)))
}

fn any_value(p: &Packet, names: &[&str], mut f: impl FnMut(&Value) -> bool) -> bool {
    names.iter().any(|n| with_values(p, n, &mut f))
}

/// Call `f` on each value of the (possibly virtual) field until it returns true.
fn with_values(p: &Packet, name: &str, f: &mut dyn FnMut(&Value) -> bool) -> bool {
    if let Some((_, pair)) = EITHER_FIELDS.iter().find(|(n, _)| *n == name) {
        return pair.iter().any(|n| with_values(p, n, f));
    }
    if let Some(v) = virtual_field(p, name) {
        return f(&v);
    }
    p.dissection
        .layers
        .iter()
        .flat_map(|l| l.fields.iter())
        .filter(|fl| fl.name == name)
        .any(|fl| f(&fl.value))
}

/// Fields that come from the capture or the flow tracker rather than the dissector.
fn virtual_field(p: &Packet, name: &str) -> Option<Value> {
    if let Some((_, value)) = FRAME_FIELDS.iter().find(|(n, _)| *n == name) {
        return Some(Value::U64(value(p)));
    }
    let is = |proto| p.dissection.layer(proto).is_some();
    Some(Value::U64(match name {
        "tcp.stream" if is(Protocol::Tcp) => u64::from(p.flow.as_ref()?.stream),
        "udp.stream" if is(Protocol::Udp) => u64::from(p.flow.as_ref()?.stream),
        _ => return None,
    }))
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::U64(n) => Some(*n),
        Value::Bool(b) => Some(u64::from(*b)),
        _ => None,
    }
}

/// An address field's value (typed, or text that spells an address).
fn address(v: &Value) -> Option<IpAddr> {
    match v {
        Value::Text(s) => s.parse().ok(),
        other => other.as_ip(),
    }
}

fn compare(v: &Value, op: Op, lit: &Lit) -> bool {
    use std::cmp::Ordering;
    if op == Op::Contains {
        return match v {
            Value::Text(s) => s.contains(&lit.text),
            Value::Bytes(b) => {
                contains_bytes(b, lit.bytes.as_deref().unwrap_or(lit.text.as_bytes()))
            }
            other => other.to_string().contains(&lit.text),
        };
    }
    let ordering: Option<Ordering> = match v {
        Value::U64(n) => lit.num.map(|l| n.cmp(&l)),
        Value::Bool(b) => lit.boolean.map(|l| b.cmp(&l)),
        Value::Bytes(b) => lit.bytes.as_ref().map(|l| b.cmp(l)),
        Value::Mac(m) => lit.bytes.as_ref().map(|l| m.0[..].cmp(l)),
        Value::Ipv4(_) | Value::Ipv6(_) => match (v.as_ip(), lit.ip) {
            (Some(a), Some(l)) => Some(a.cmp(&l)),
            _ => None,
        },
        Value::Text(s) => match (s.parse::<IpAddr>(), lit.ip) {
            (Ok(a), Some(l)) => Some(a.cmp(&l)),
            _ => Some(s.as_str().cmp(&lit.text)),
        },
    };
    let Some(o) = ordering else { return false };
    match op {
        Op::Eq => o == Ordering::Equal,
        Op::Ne => o != Ordering::Equal,
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
        Op::Contains => false,
    }
}

fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

// ---- lexing ----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Op(Op),
    Word(String),
    Str(String),
    End,
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    kind: Tok,
    /// Character position of the token's first character.
    pos: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::And => "'and'".into(),
        Tok::Or => "'or'".into(),
        Tok::Not => "'not'".into(),
        Tok::Op(_) => "a comparison operator".into(),
        Tok::Word(w) => format!("'{w}'"),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::End => "the end of the filter".into(),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '/')
}

fn lex(text: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        let pos = i;
        let (kind, len) = match (c, two.as_str()) {
            (c, _) if c.is_whitespace() => {
                i += 1;
                continue;
            }
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            (_, "&&") => (Tok::And, 2),
            (_, "||") => (Tok::Or, 2),
            (_, "==") => (Tok::Op(Op::Eq), 2),
            (_, "!=") => (Tok::Op(Op::Ne), 2),
            (_, "<=") => (Tok::Op(Op::Le), 2),
            (_, ">=") => (Tok::Op(Op::Ge), 2),
            ('<', _) => (Tok::Op(Op::Lt), 1),
            ('>', _) => (Tok::Op(Op::Gt), 1),
            ('!', _) => (Tok::Not, 1),
            ('=', _) => {
                return Err(filter_error(
                    text,
                    pos,
                    "a single '=' is not an operator: use '=='",
                ));
            }
            ('"', _) => {
                let (s, len) = lex_string(text, &chars[i..], pos)?;
                (Tok::Str(s), len)
            }
            (c, _) if is_word_char(c) => {
                let len = chars[i..].iter().take_while(|&&c| is_word_char(c)).count();
                let w: String = chars[i..i + len].iter().collect();
                let kind = match w.to_ascii_lowercase().as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "eq" => Tok::Op(Op::Eq),
                    "ne" => Tok::Op(Op::Ne),
                    "lt" => Tok::Op(Op::Lt),
                    "le" => Tok::Op(Op::Le),
                    "gt" => Tok::Op(Op::Gt),
                    "ge" => Tok::Op(Op::Ge),
                    "contains" => Tok::Op(Op::Contains),
                    _ => Tok::Word(w),
                };
                (kind, len)
            }
            (c, _) => {
                return Err(filter_error(
                    text,
                    pos,
                    &format!("unexpected character '{c}'"),
                ));
            }
        };
        out.push(Token { kind, pos });
        i += len;
    }
    out.push(Token {
        kind: Tok::End,
        pos: chars.len(),
    });
    Ok(out)
}

/// A double-quoted string with `\"` and `\\` escapes; returns the text and chars consumed.
fn lex_string(text: &str, rest: &[char], pos: usize) -> Result<(String, usize)> {
    let mut s = String::new();
    let mut i = 1;
    while i < rest.len() {
        match rest[i] {
            '"' => return Ok((s, i + 1)),
            '\\' if i + 1 < rest.len() => {
                s.push(rest[i + 1]);
                i += 2;
            }
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
    Err(filter_error(text, pos, "this string has no closing '\"'"))
}

// ---- parsing: or > and > not > primary ----

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.at]
    }

    fn next(&mut self) -> Token {
        let t = self.tokens[self.at].clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        t
    }

    fn error_at(&self, pos: usize, message: &str) -> InspectError {
        filter_error(self.text, pos, message)
    }

    fn or(&mut self) -> Result<Expr> {
        let mut left = self.and()?;
        while self.peek().kind == Tok::Or {
            self.next();
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr> {
        let mut left = self.not()?;
        loop {
            match &self.peek().kind {
                Tok::And => {
                    self.next();
                }
                // tcpdump's "tcp port 80": a qualifier right after an expression means "and".
                Tok::Word(w) if is_qualifier(w) => {}
                _ => return Ok(left),
            }
            let right = self.not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
    }

    fn not(&mut self) -> Result<Expr> {
        if self.peek().kind == Tok::Not {
            self.next();
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr> {
        let t = self.next();
        match t.kind {
            Tok::LParen => {
                let e = self.or()?;
                let close = self.next();
                if close.kind != Tok::RParen {
                    return Err(self.error_at(
                        close.pos,
                        &format!(
                            "expected ')' to close the '(' at position {}, found {}",
                            t.pos + 1,
                            describe(&close.kind)
                        ),
                    ));
                }
                Ok(e)
            }
            Tok::Word(w) => self.word(w, t.pos),
            other => Err(self.error_at(
                t.pos,
                &format!(
                    "expected a protocol, field, 'port', 'host' or '(' but found {}",
                    describe(&other)
                ),
            )),
        }
    }

    fn word(&mut self, w: String, pos: usize) -> Result<Expr> {
        let lower = w.to_ascii_lowercase();
        match lower.as_str() {
            "src" | "dst" => {
                let dir = if lower == "src" { Dir::Src } else { Dir::Dst };
                let t = self.peek().clone();
                match &t.kind {
                    Tok::Word(k) if k.eq_ignore_ascii_case("port") => {
                        self.next();
                        self.port(dir)
                    }
                    Tok::Word(k) if k.eq_ignore_ascii_case("host") => {
                        self.next();
                        self.host(dir)
                    }
                    // tcpdump's "src 127.0.0.1" is "src host 127.0.0.1".
                    Tok::Word(a) if a.parse::<IpAddr>().is_ok() => self.host(dir),
                    other => Err(self.error_at(
                        t.pos,
                        &format!(
                            "expected 'port' or 'host' after '{w}', found {}",
                            describe(other)
                        ),
                    )),
                }
            }
            "port" => self.port(Dir::Either),
            "host" => self.host(Dir::Either),
            _ => self.field_or_protocol(w, pos),
        }
    }

    fn port(&mut self, dir: Dir) -> Result<Expr> {
        let t = self.next();
        match &t.kind {
            Tok::Word(n) => match parse_number(n).and_then(|n| u16::try_from(n).ok()) {
                Some(p) => Ok(Expr::Port(dir, p)),
                None => Err(self.error_at(t.pos, &format!("'{n}' is not a port number (0-65535)"))),
            },
            other => Err(self.error_at(
                t.pos,
                &format!("expected a port number, found {}", describe(other)),
            )),
        }
    }

    fn host(&mut self, dir: Dir) -> Result<Expr> {
        let t = self.next();
        match &t.kind {
            Tok::Word(a) => match a.parse::<IpAddr>() {
                Ok(ip) => Ok(Expr::Host(dir, ip)),
                Err(_) => Err(self.error_at(
                    t.pos,
                    &format!(
                        "'{a}' is not an IPv4 or IPv6 address (host names are not looked up; \
                         use 127.0.0.1 or ::1)"
                    ),
                )),
            },
            other => Err(self.error_at(
                t.pos,
                &format!(
                    "expected an address after 'host', found {}",
                    describe(other)
                ),
            )),
        }
    }

    fn field_or_protocol(&mut self, w: String, pos: usize) -> Result<Expr> {
        let mut lower = w.to_ascii_lowercase();
        // `ws` is a protocol name here (as in Wireshark's display filters), so `ws.opcode`
        // means the WebSocket field Wireshark calls `websocket.opcode`.
        let alias = lower.starts_with("ws.");
        if alias {
            lower = format!("websocket.{}", &lower[3..]);
        }
        if w.parse::<IpAddr>().is_ok() || parse_number(&w).is_some() {
            return Err(self.error_at(pos, &unknown_word(&w)));
        }
        let is_field = lower.contains('.');
        if !is_field {
            if let Some(names) = protocol(&lower) {
                if let Tok::Op(_) = self.peek().kind {
                    let t = self.peek().clone();
                    return Err(self.error_at(
                        t.pos,
                        &format!("'{w}' is a protocol, not a field: compare a field such as '{lower}.len'"),
                    ));
                }
                return Ok(Expr::Proto(names));
            }
            return Err(self.error_at(pos, &unknown_word(&w)));
        }
        if !known_field(&lower) {
            let prefix = lower.split('.').next().unwrap_or_default();
            let message = if protocol(prefix).is_none() && !OTHER_PREFIXES.contains(&prefix) {
                format!(
                    "unknown protocol '{prefix}' in field name '{w}'{}",
                    suggestion(prefix)
                )
            } else {
                format!(
                    "unknown field '{lower}'{}",
                    field_suggestion(&lower, prefix)
                )
            };
            // Speak the student's spelling back: `ws.opcod`, did you mean `ws.opcode`?
            let message = if alias {
                message.replace("'websocket.", "'ws.")
            } else {
                message
            };
            return Err(self.error_at(pos, &message));
        }
        let Tok::Op(op) = self.peek().kind else {
            return Ok(Expr::Field(lower, None));
        };
        self.next();
        let t = self.next();
        let text = match t.kind {
            Tok::Word(v) => v,
            Tok::Str(s) => s,
            other => {
                return Err(self.error_at(
                    t.pos,
                    &format!(
                        "expected a value to compare '{w}' with, found {}",
                        describe(&other)
                    ),
                ));
            }
        };
        Ok(Expr::Field(lower, Some((op, literal(text)))))
    }
}

fn is_qualifier(w: &str) -> bool {
    ["port", "host", "src", "dst"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(w))
}

fn unknown_word(w: &str) -> String {
    if w.parse::<IpAddr>().is_ok() {
        return format!("'{w}' is an address: write 'host {w}'");
    }
    if parse_number(w).is_some() {
        return format!(
            "'{w}' is a number: write 'port {w}' or compare a field, e.g. 'ip.ttl == {w}'"
        );
    }
    format!("unknown protocol or keyword '{w}'{}", suggestion(w))
}

/// "; did you mean 'tcp'?" for a near miss among the protocol keywords.
fn suggestion(w: &str) -> String {
    let w = w.to_ascii_lowercase();
    let best = PROTOCOLS
        .iter()
        .map(|(k, _)| *k)
        .chain(["port", "host", "src", "dst", "and", "or", "not"])
        .map(|k| (edit_distance(&w, k), k))
        .min();
    match best {
        Some((d, k)) if d <= 2 && d < w.len() => format!("; did you mean '{k}'?"),
        _ => "; known protocols: eth, arp, ip, ipv6, icmp, icmpv6, tcp, udp, dns, http, ws, tls, \
              echo, events"
            .into(),
    }
}

/// A name the dissector (or the filter itself) can produce, or a dotted prefix of one:
/// `tcp.flags` is known because `tcp.flags.syn` is.
fn known_field(name: &str) -> bool {
    field_names().iter().any(|k| {
        k.strip_prefix(name)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

/// "; did you mean 'tcp.port'?" for the nearest known field, else the known fields that share
/// the protocol prefix, so the student sees what to type instead.
fn field_suggestion(name: &str, prefix: &str) -> String {
    let best = field_names()
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .min();
    if let Some((d, k)) = best {
        if d <= 2 && d < name.len() {
            return format!("; did you mean '{k}'?");
        }
    }
    let under: Vec<&str> = field_names()
        .iter()
        .copied()
        .filter(|k| k.split('.').next() == Some(prefix))
        .collect();
    match under.len() {
        0 => "; see docs/src/inspect-filters.md for the field names".into(),
        n if n <= 8 => format!("; known '{prefix}' fields: {}", under.join(", ")),
        n => format!(
            "; known '{prefix}' fields include {} (and {} more)",
            under[..8].join(", "),
            n - 8
        ),
    }
}

/// Edit distance counting a swap of neighbours as one edit ("prot" is one edit from "port").
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

fn parse_number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Colon-separated hex bytes, as MAC addresses and byte fields print: "00:11:22" or "0a".
fn parse_bytes(s: &str) -> Option<Vec<u8>> {
    if !s.contains(':') {
        return None;
    }
    s.split(':')
        .map(|h| {
            if h.len() == 2 {
                u8::from_str_radix(h, 16).ok()
            } else {
                None
            }
        })
        .collect()
}

fn literal(text: String) -> Lit {
    Lit {
        num: parse_number(&text),
        ip: text.parse().ok(),
        bytes: parse_bytes(&text),
        boolean: match text.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        text,
    }
}

/// A filter error with the filter on one line and a caret under character `pos` on the next.
fn filter_error(text: &str, pos: usize, message: &str) -> InspectError {
    let rendered = format!("  {text}\n  {}^ {message}", " ".repeat(pos));
    InspectError::Filter {
        message: message.to_string(),
        pos,
        rendered,
    }
}

#[cfg(test)]
mod tests;
