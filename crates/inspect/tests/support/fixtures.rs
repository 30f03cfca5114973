//! The catalogue of committed fixture captures, built byte by byte with `netlab_inspect::craft`.
//!
//! Shared by the generator (`cargo run -p netlab-inspect --example make_fixtures` writes them to
//! crates/inspect/tests/fixtures/) and by the tests (which check that the committed files are
//! exactly what this catalogue builds, then dissect them). Addresses are loopback or the
//! documentation ranges (192.0.2.0/24, 2001:db8::/32): these packets only ever live in files.

#![allow(dead_code)]

use std::net::IpAddr;

use netlab_inspect::craft::{self, Ipv4, Tcp, num};
use netlab_inspect::model::{LinkType, RawPacket, Timestamp};

/// One capture file: its name, what it shows, its link type and its frames.
pub struct Fixture {
    pub name: &'static str,
    pub about: &'static str,
    pub link: LinkType,
    pub frames: Vec<Frame>,
}

/// One frame: the captured bytes and the length it had on the wire (longer when the capture
/// kept only a prefix, as with a snap length).
pub struct Frame {
    pub bytes: Vec<u8>,
    pub orig_len: u32,
}

impl Fixture {
    /// The frames as packets, 1 ms apart from a fixed start, so files are reproducible.
    pub fn packets(&self) -> Vec<RawPacket> {
        self.frames
            .iter()
            .enumerate()
            .map(|(i, f)| RawPacket {
                ts: Timestamp {
                    secs: 1_700_000_000,
                    nanos: (i as u32) * 1_000_000,
                },
                link_type: self.link,
                orig_len: f.orig_len,
                bytes: f.bytes.clone(),
            })
            .collect()
    }
}

fn whole(bytes: Vec<u8>) -> Frame {
    let orig_len = bytes.len() as u32;
    Frame { bytes, orig_len }
}

/// Every fixture, in a fixed order.
pub fn all() -> Vec<Fixture> {
    vec![
        http_websocket(),
        tcp_flows(),
        netlab_protocols(),
        vlan_arp(),
        ipv4_options_fragments(),
        icmp_errors(),
        ipv6_extensions(),
        dns(),
        dns_tcp(),
        tls(),
        truncated(),
        link_null(),
        link_loop(),
        link_raw(),
        link_ipv4(),
        link_ipv6(),
        link_sll(),
        link_sll2(),
        socketio(),
    ]
}

pub const LO4: [u8; 4] = [127, 0, 0, 1];
pub const LO6: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DOC6_A: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a,
];
const DOC6_B: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
];
const MAC_A: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x0b];

const FIN: u16 = 0x001;
const SYN: u16 = 0x002;
const RST: u16 = 0x004;
const PSH: u16 = 0x008;
const ACK: u16 = 0x010;

/// Ethernet on lo: both MAC addresses zero.
fn lo_eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    craft::ethernet([0; 6], [0; 6], ethertype, payload)
}

/// SYN options as Linux sends them: MSS, SACK permitted, timestamps, NOP, window scale.
fn syn_options(mss: u16, tsval: u32, tsecr: u32, wscale: u8) -> Vec<u8> {
    let mut o = vec![2, 4];
    o.extend_from_slice(&mss.to_be_bytes());
    o.extend_from_slice(&[4, 2, 8, 10]);
    o.extend_from_slice(&tsval.to_be_bytes());
    o.extend_from_slice(&tsecr.to_be_bytes());
    o.extend_from_slice(&[1, 3, 3, wscale]);
    o
}

/// NOP, NOP, timestamps: what every later segment carries.
fn ts_options(tsval: u32, tsecr: u32) -> Vec<u8> {
    let mut o = vec![1, 1, 8, 10];
    o.extend_from_slice(&tsval.to_be_bytes());
    o.extend_from_slice(&tsecr.to_be_bytes());
    o
}

/// A TCP connection over IPv4 on lo between a client and a server port, framed in Ethernet.
struct Conn {
    client_port: u16,
    server_port: u16,
    /// Initial sequence numbers, chosen like a kernel's: large and unrelated.
    client_isn: u32,
    server_isn: u32,
}

impl Conn {
    /// One segment; `seq` and `ack` are relative to each side's ISN, as Wireshark shows them.
    fn seg(
        &self,
        from_client: bool,
        seq: u32,
        ack: u32,
        flags: u16,
        opts: Vec<u8>,
        payload: &[u8],
    ) -> Frame {
        let (sp, dp, isn, peer_isn) = if from_client {
            (
                self.client_port,
                self.server_port,
                self.client_isn,
                self.server_isn,
            )
        } else {
            (
                self.server_port,
                self.client_port,
                self.server_isn,
                self.client_isn,
            )
        };
        let tcp = Tcp {
            src_port: sp,
            dst_port: dp,
            seq: isn.wrapping_add(seq),
            ack: if flags & ACK != 0 {
                peer_isn.wrapping_add(ack)
            } else {
                0
            },
            flags,
            window: if flags & SYN != 0 { 65483 } else { 512 },
            options: opts,
        };
        let lo = IpAddr::from(LO4);
        let seg = tcp.build(lo, lo, payload);
        whole(lo_eth(
            num::ETH_IPV4,
            &Ipv4::new(LO4, LO4, num::IP_TCP).build(&seg),
        ))
    }

    /// Data segments after the handshake, each side's sequence numbers carried on: `(from the
    /// client?, payload)` in order.
    fn exchange(&self, msgs: &[(bool, Vec<u8>)]) -> Vec<Frame> {
        let (mut c, mut s) = (1u32, 1u32);
        let mut out = Vec::new();
        for (from_client, bytes) in msgs {
            let (seq, ack) = if *from_client { (c, s) } else { (s, c) };
            let opts = ts_options(1002, 2000);
            out.push(self.seg(*from_client, seq, ack, PSH | ACK, opts, bytes));
            let side = if *from_client { &mut c } else { &mut s };
            *side += bytes.len() as u32;
        }
        out
    }

    fn handshake(&self) -> Vec<Frame> {
        vec![
            self.seg(true, 0, 0, SYN, syn_options(65495, 1000, 0, 7), b""),
            self.seg(
                false,
                0,
                1,
                SYN | ACK,
                syn_options(65495, 2000, 1000, 7),
                b"",
            ),
            self.seg(true, 1, 1, ACK, ts_options(1001, 2000), b""),
        ]
    }
}

const WS_REQUEST: &[u8] = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:7080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const WS_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// A WebSocket frame; client frames are masked with `key`.
pub fn ws_frame(fin: bool, opcode: u8, key: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | opcode];
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(mask_bit | n as u8),
        n if n <= 0xffff => {
            f.push(mask_bit | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(mask_bit | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match key {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

/// An HTTP page fetch, then a WebSocket upgrade carrying netlab event frames (port 7080).
fn http_websocket() -> Fixture {
    let page = Conn {
        client_port: 50000,
        server_port: 7080,
        client_isn: 0x1000_0000,
        server_isn: 0x2000_0000,
    };
    let get =
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:7080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
    let ok =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<h1>hi</h1>\r\n";
    let mut frames = page.handshake();
    frames.push(page.seg(true, 1, 1, PSH | ACK, ts_options(1002, 2000), get));
    frames.push(page.seg(
        false,
        1,
        1 + get.len() as u32,
        PSH | ACK,
        ts_options(2001, 1002),
        ok,
    ));

    let ws = Conn {
        client_port: 50002,
        server_port: 7080,
        client_isn: 0x3000_0000,
        server_isn: 0x4000_0000,
    };
    frames.extend(ws.handshake());
    let (c, s) = (1 + WS_REQUEST.len() as u32, 1 + WS_RESPONSE.len() as u32);
    frames.push(ws.seg(true, 1, 1, PSH | ACK, ts_options(1002, 2000), WS_REQUEST));
    frames.push(ws.seg(false, 1, c, PSH | ACK, ts_options(2001, 1002), WS_RESPONSE));
    let hello = ws_frame(true, 1, None, br#"{"type":"hello","sid":"s1"}"#);
    frames.push(ws.seg(false, s, c, PSH | ACK, ts_options(2002, 1002), &hello));
    let s = s + hello.len() as u32;
    let event = ws_frame(
        true,
        1,
        Some([0x37, 0xfa, 0x21, 0x3d]),
        br#"{"type":"event","name":"chat","data":"hi"}"#,
    );
    frames.push(ws.seg(true, c, s, PSH | ACK, ts_options(1003, 2002), &event));
    let c = c + event.len() as u32;
    let close = ws_frame(true, 8, Some([1, 2, 3, 4]), &1000u16.to_be_bytes());
    frames.push(ws.seg(true, c, s, PSH | ACK, ts_options(1004, 2002), &close));
    let c = c + close.len() as u32;
    frames.push(ws.seg(false, s, c, FIN | ACK, ts_options(2003, 1004), b""));
    frames.push(ws.seg(true, c, s + 1, FIN | ACK, ts_options(1005, 2003), b""));
    frames.push(ws.seg(false, s + 1, c + 1, ACK, ts_options(2004, 1005), b""));
    Fixture {
        name: "http-websocket",
        about: "HTTP GET and 200; a WebSocket upgrade (101) then masked and unmasked frames carrying netlab events",
        link: LinkType::ETHERNET,
        frames,
    }
}

/// A TCP exchange with a retransmission, an out-of-order segment, a duplicate ACK, a segment
/// larger than the MTU (as GSO produces on lo) and a FIN teardown; then a refused connection.
fn tcp_flows() -> Fixture {
    let c = Conn {
        client_port: 41000,
        server_port: 9000,
        client_isn: 0xfffffff0,
        server_isn: 0x0000_1000,
    };
    let mut frames = c.handshake();
    frames.push(c.seg(true, 1, 1, PSH | ACK, ts_options(1002, 2000), b"hello"));
    frames.push(c.seg(true, 1, 1, PSH | ACK, ts_options(1010, 2000), b"hello"));
    frames.push(c.seg(false, 1, 6, ACK, ts_options(2001, 1010), b""));
    frames.push(c.seg(true, 11, 1, PSH | ACK, ts_options(1011, 2001), b"third"));
    frames.push(c.seg(false, 1, 6, ACK, ts_options(2002, 1011), b""));
    frames.push(c.seg(true, 6, 1, PSH | ACK, ts_options(1012, 2002), b"world"));
    frames.push(c.seg(false, 1, 16, ACK, ts_options(2003, 1012), b""));
    let big = vec![b'x'; 4000];
    frames.push(c.seg(false, 1, 16, PSH | ACK, ts_options(2004, 1012), &big));
    frames.push(c.seg(true, 16, 4001, FIN | ACK, ts_options(1013, 2004), b""));
    frames.push(c.seg(false, 4001, 17, FIN | ACK, ts_options(2005, 1013), b""));
    frames.push(c.seg(true, 17, 4002, ACK, ts_options(1014, 2005), b""));
    let refused = Conn {
        client_port: 41002,
        server_port: 9001,
        client_isn: 0x5555_0000,
        server_isn: 0,
    };
    frames.push(refused.seg(true, 0, 0, SYN, syn_options(65495, 3000, 0, 7), b""));
    frames.push(refused.seg(false, 0, 1, RST | ACK, vec![], b""));
    Fixture {
        name: "tcp-flows",
        about: "handshake, retransmission, out-of-order, duplicate ACK, a 4000-byte GSO segment, FIN teardown, a refused SYN",
        link: LinkType::ETHERNET,
        frames,
    }
}

/// netlab's own protocols: echo over UDP and TCP (7007), event lines over TCP (7070).
fn netlab_protocols() -> Fixture {
    let lo = IpAddr::from(LO4);
    let udp = |sp: u16, dp: u16, data: &[u8]| {
        whole(lo_eth(
            num::ETH_IPV4,
            &Ipv4::new(LO4, LO4, num::IP_UDP).build(&craft::udp(lo, lo, sp, dp, data)),
        ))
    };
    let mut frames = vec![udp(45000, 7007, b"hello"), udp(7007, 45000, b"hello")];
    let echo = Conn {
        client_port: 45002,
        server_port: 7007,
        client_isn: 0x0a00_0000,
        server_isn: 0x0b00_0000,
    };
    frames.extend(echo.handshake());
    frames.push(echo.seg(true, 1, 1, PSH | ACK, ts_options(1002, 2000), b"ping\n"));
    frames.push(echo.seg(false, 1, 6, PSH | ACK, ts_options(2001, 1002), b"ping\n"));
    let ev = Conn {
        client_port: 45004,
        server_port: 7070,
        client_isn: 0x0c00_0000,
        server_isn: 0x0d00_0000,
    };
    frames.extend(ev.handshake());
    let lines = b"{\"type\":\"hello\",\"v\":1}\n{\"type\":\"event\",\"name\":\"chat\",\"data\":\"hi\",\"ack\":1}\n";
    frames.push(ev.seg(true, 1, 1, PSH | ACK, ts_options(1002, 2000), lines));
    let c = 1 + lines.len() as u32;
    let partial = b"{\"type\":\"ack\",\"id\":1}\n{\"type\":\"ev";
    frames.push(ev.seg(false, 1, c, PSH | ACK, ts_options(2001, 1002), partial));
    let rest = b"ent\",\"name\":\"chat\",\"data\":\"hi\"}\n";
    frames.push(ev.seg(
        false,
        1 + partial.len() as u32,
        c,
        PSH | ACK,
        ts_options(2002, 1002),
        rest,
    ));
    // HTTP long-polling (port 7080): the response body carries the same JSON lines.
    let poll = Conn {
        client_port: 45006,
        server_port: 7080,
        client_isn: 0x0e00_0000,
        server_isn: 0x0f00_0000,
    };
    frames.extend(poll.handshake());
    let get = b"GET /poll?sid=s1 HTTP/1.1\r\nHost: 127.0.0.1:7080\r\n\r\n";
    frames.push(poll.seg(true, 1, 1, PSH | ACK, ts_options(1002, 2000), get));
    let body = "{\"type\":\"event\",\"name\":\"chat\",\"data\":\"hi\"}\n{\"type\":\"ping\"}\n";
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    frames.push(poll.seg(
        false,
        1,
        1 + get.len() as u32,
        PSH | ACK,
        ts_options(2001, 1002),
        response.as_bytes(),
    ));
    Fixture {
        name: "netlab-protocols",
        about: "netlab echo over UDP and TCP (port 7007); event frames as JSON lines over TCP (port 7070), one split across segments, and in an HTTP long-polling response (port 7080)",
        link: LinkType::ETHERNET,
        frames,
    }
}

/// A socket.io session (port 7080, path /socket.io/): the Engine.IO handshake over long-polling,
/// a POST carrying CONNECT and an EVENT with an ack id in one body (joined by 0x1e), the GET
/// answering two packets, then the upgrade to WebSocket (`2probe`, `3probe`, `5`), an EVENT with
/// an ack and its ACK, a BINARY_EVENT with its attachment, and the heartbeat.
fn socketio() -> Fixture {
    let http = |head: &str, body: &[u8]| {
        let mut b = format!("{head}Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        b.extend_from_slice(body);
        b
    };
    let poll = Conn {
        client_port: 46000,
        server_port: 7080,
        client_isn: 0x5000_0000,
        server_isn: 0x6000_0000,
    };
    let mut frames = poll.handshake();
    let msgs: Vec<(bool, Vec<u8>)> = vec![
        (true, b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1:7080\r\n\r\n".to_vec()),
        (false, http("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\n", br#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#)),
        (true, http("POST /socket.io/?EIO=4&transport=polling&sid=lv_VI97HAXpY6yYWAAAC HTTP/1.1\r\nHost: 127.0.0.1:7080\r\nContent-Type: text/plain;charset=UTF-8\r\n", b"40/chat,{\"name\":\"ada\"}\x1e42/chat,0[\"join\",\"lobby\"]")),
        (false, http("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n", b"ok")),
        (true, b"GET /socket.io/?EIO=4&transport=polling&sid=lv_VI97HAXpY6yYWAAAC HTTP/1.1\r\nHost: 127.0.0.1:7080\r\n\r\n".to_vec()),
        (false, http("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\n", b"40/chat,{\"pid\":\"p1\",\"sid\":\"s1\"}\x1e43/chat,0[{\"ok\":true,\"room\":\"lobby\"}]")),
    ];
    frames.extend(poll.exchange(&msgs));
    let ws = Conn {
        client_port: 46002,
        server_port: 7080,
        client_isn: 0x7000_0000,
        server_isn: 0x7100_0000,
    };
    frames.extend(ws.handshake());
    let key = Some([0x11, 0x22, 0x33, 0x44]);
    let upgrade = b"GET /socket.io/?EIO=4&transport=websocket&sid=lv_VI97HAXpY6yYWAAAC HTTP/1.1\r\nHost: 127.0.0.1:7080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec();
    let msgs: Vec<(bool, Vec<u8>)> = vec![
        (true, upgrade),
        (false, WS_RESPONSE.to_vec()),
        (true, ws_frame(true, 1, key, b"2probe")),
        (false, ws_frame(true, 1, None, b"3probe")),
        (true, ws_frame(true, 1, key, b"5")),
        (
            true,
            ws_frame(true, 1, key, br#"42/chat,3["message","lobby","hi"]"#),
        ),
        (
            false,
            ws_frame(
                true,
                1,
                None,
                br#"42/chat,["message",{"name":"ada","room":"lobby","text":"hi"},"7"]"#,
            ),
        ),
        (false, ws_frame(true, 1, None, br#"43/chat,3[{"ok":true}]"#)),
        (
            true,
            ws_frame(
                true,
                1,
                key,
                br#"451-["upload",{"_placeholder":true,"num":0}]"#,
            ),
        ),
        (true, ws_frame(true, 2, key, &[1, 2, 3, 4])),
        (false, ws_frame(true, 1, None, b"2")),
        (true, ws_frame(true, 1, key, b"3")),
    ];
    frames.extend(ws.exchange(&msgs));
    Fixture {
        name: "socketio",
        about: "a socket.io session on port 7080: Engine.IO handshake and packets over long-polling (several per body), the upgrade to WebSocket, Socket.IO CONNECT, EVENT, ACK and BINARY_EVENT, the heartbeat",
        link: LinkType::ETHERNET,
        frames,
    }
}

/// 802.1Q and 802.1ad (Q-in-Q) tags, and an ARP request and reply.
fn vlan_arp() -> Fixture {
    let (a, b) = ([192, 0, 2, 10], [192, 0, 2, 11]);
    let udp = craft::udp(IpAddr::from(a), IpAddr::from(b), 45000, 7007, b"tagged");
    let ip = Ipv4::new(a, b, num::IP_UDP).build(&udp);
    let tagged = craft::ethernet(
        MAC_B,
        MAC_A,
        num::ETH_VLAN,
        &craft::vlan_tag(3, 100, num::ETH_IPV4, &ip),
    );
    let echo = craft::icmpv4(8, 0, [0x12, 0x34, 0, 1], b"abcdefgh");
    let ip2 = Ipv4::new(a, b, num::IP_ICMP).build(&echo);
    let inner = craft::vlan_tag(0, 100, num::ETH_IPV4, &ip2);
    let qinq = craft::ethernet(
        MAC_B,
        MAC_A,
        0x88a8,
        &craft::vlan_tag(5, 200, num::ETH_VLAN, &inner),
    );
    let mut who_has = vec![0, 1, 8, 0, 6, 4, 0, 1];
    who_has.extend_from_slice(&MAC_A);
    who_has.extend_from_slice(&a);
    who_has.extend_from_slice(&[0; 6]);
    who_has.extend_from_slice(&b);
    let mut is_at = vec![0, 1, 8, 0, 6, 4, 0, 2];
    is_at.extend_from_slice(&MAC_B);
    is_at.extend_from_slice(&b);
    is_at.extend_from_slice(&MAC_A);
    is_at.extend_from_slice(&a);
    Fixture {
        name: "vlan-arp",
        about: "an 802.1Q-tagged UDP datagram, a double-tagged (802.1ad + 802.1Q) ping, an ARP request and reply (padded to 60 bytes)",
        link: LinkType::ETHERNET,
        frames: vec![
            whole(tagged),
            whole(qinq),
            whole(pad60(craft::ethernet(
                [0xff; 6],
                MAC_A,
                num::ETH_ARP,
                &who_has,
            ))),
            whole(pad60(craft::ethernet(MAC_A, MAC_B, num::ETH_ARP, &is_at))),
        ],
    }
}

/// Ethernet's minimum frame is 60 bytes before the FCS: short frames are padded with zeros.
fn pad60(mut f: Vec<u8>) -> Vec<u8> {
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// An IPv4 packet with options (router alert + record route), and a UDP datagram of 3000
/// bytes cut into three fragments.
fn ipv4_options_fragments() -> Fixture {
    let (a, b) = ([192, 0, 2, 10], [192, 0, 2, 11]);
    let mut with_opts = Ipv4::new(a, b, num::IP_UDP);
    // Router alert (4 bytes), then a record route with room for one address, and an EOL.
    with_opts.options = vec![148, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0];
    let udp = craft::udp(IpAddr::from(a), IpAddr::from(b), 45000, 7007, b"options");
    let mut frames = vec![whole(craft::ethernet(
        MAC_B,
        MAC_A,
        num::ETH_IPV4,
        &with_opts.build(&udp),
    ))];
    let data: Vec<u8> = (0..3000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let datagram = craft::udp(IpAddr::from(a), IpAddr::from(b), 45000, 7007, &data);
    for (i, chunk) in datagram.chunks(1480).enumerate() {
        let mut ip = Ipv4::new(a, b, num::IP_UDP);
        ip.id = 0x4242;
        ip.dont_fragment = false;
        ip.more_fragments = (i + 1) * 1480 < datagram.len();
        ip.frag_offset = (i * 1480 / 8) as u16;
        frames.push(whole(craft::ethernet(
            MAC_B,
            MAC_A,
            num::ETH_IPV4,
            &ip.build(chunk),
        )));
    }
    Fixture {
        name: "ipv4-options-fragments",
        about: "IPv4 options (router alert, record route); one UDP datagram in three fragments",
        link: LinkType::ETHERNET,
        frames,
    }
}

/// Ping, and ICMP errors that quote the packet that caused them.
fn icmp_errors() -> Fixture {
    let lo = IpAddr::from(LO4);
    let data: Vec<u8> = (0..56u8).collect();
    let ping = |ty: u8| {
        let m = craft::icmpv4(ty, 0, [0x00, 0x2a, 0x00, 0x01], &data);
        whole(lo_eth(
            num::ETH_IPV4,
            &Ipv4::new(LO4, LO4, num::IP_ICMP).build(&m),
        ))
    };
    let dgram =
        Ipv4::new(LO4, LO4, num::IP_UDP).build(&craft::udp(lo, lo, 40000, 9, b"anyone there?"));
    let unreach = craft::icmpv4(3, 3, [0; 4], &dgram);
    let syn = Tcp {
        src_port: 41000,
        dst_port: 80,
        seq: 0xdead_beef,
        flags: SYN,
        window: 65483,
        ..Tcp::default()
    };
    let mut syn_ip = Ipv4::new([192, 0, 2, 10], [192, 0, 2, 99], num::IP_TCP);
    syn_ip.ttl = 1;
    let syn_pkt = syn_ip.build(&syn.build(
        IpAddr::from([192, 0, 2, 10]),
        IpAddr::from([192, 0, 2, 99]),
        b"",
    ));
    // A router quotes the IP header and the first 8 bytes of the datagram (RFC 792).
    let expired = craft::icmpv4(11, 0, [0; 4], &syn_pkt[..28]);
    let router = Ipv4::new([192, 0, 2, 1], [192, 0, 2, 10], num::IP_ICMP).build(&expired);
    Fixture {
        name: "icmp-errors",
        about: "ping request and reply; port unreachable quoting a UDP datagram; TTL exceeded quoting 8 bytes of a TCP SYN",
        link: LinkType::ETHERNET,
        frames: vec![
            ping(8),
            ping(0),
            whole(lo_eth(
                num::ETH_IPV4,
                &Ipv4::new(LO4, LO4, num::IP_ICMP).build(&unreach),
            )),
            whole(craft::ethernet(MAC_A, MAC_B, num::ETH_IPV4, &router)),
        ],
    }
}

/// IPv6 with extension headers, fragments and ICMPv6.
fn ipv6_extensions() -> Fixture {
    let eth6 = |p: &[u8]| whole(craft::ethernet(MAC_B, MAC_A, num::ETH_IPV6, p));
    let (a, b) = (IpAddr::from(DOC6_A), IpAddr::from(DOC6_B));
    let syn = Tcp {
        src_port: 41000,
        dst_port: 443,
        seq: 1,
        flags: SYN,
        window: 64800,
        options: syn_options(1440, 5, 0, 7),
        ..Tcp::default()
    };
    let seg = syn.build(a, b, b"");
    let chain = craft::ipv6_options_header(60, &craft::ipv6_options_header(num::IP_TCP, &seg));
    let mut frames = vec![eth6(&craft::ipv6(DOC6_A, DOC6_B, 0, 64, &chain))];
    let data: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
    let dgram = craft::udp(a, b, 45000, 7007, &data);
    let (first, second) = dgram.split_at(1448);
    frames.push(eth6(&craft::ipv6(
        DOC6_A,
        DOC6_B,
        44,
        64,
        &craft::ipv6_fragment_header(num::IP_UDP, 0, true, 7, first),
    )));
    frames.push(eth6(&craft::ipv6(
        DOC6_A,
        DOC6_B,
        44,
        64,
        &craft::ipv6_fragment_header(num::IP_UDP, 181, false, 7, second),
    )));
    let lo6 = |p: &[u8]| whole(lo_eth(num::ETH_IPV6, p));
    let req = craft::icmpv6(LO6, LO6, 128, 0, [0, 7, 0, 1], b"ping6");
    let rep = craft::icmpv6(LO6, LO6, 129, 0, [0, 7, 0, 1], b"ping6");
    frames.push(lo6(&craft::ipv6(LO6, LO6, num::IP_ICMPV6, 64, &req)));
    frames.push(lo6(&craft::ipv6(LO6, LO6, num::IP_ICMPV6, 64, &rep)));
    let lo = IpAddr::from(LO6);
    let offending = craft::ipv6(
        LO6,
        LO6,
        num::IP_UDP,
        64,
        &craft::udp(lo, lo, 40000, 9, b"hello?"),
    );
    let unreach = craft::icmpv6(LO6, LO6, 1, 4, [0; 4], &offending);
    frames.push(lo6(&craft::ipv6(LO6, LO6, num::IP_ICMPV6, 64, &unreach)));
    Fixture {
        name: "ipv6-extensions",
        about: "IPv6 hop-by-hop + destination options before a TCP SYN; a UDP datagram in two fragments; ICMPv6 echo and port unreachable",
        link: LinkType::ETHERNET,
        frames,
    }
}

/// A DNS name in wire form (no compression).
pub fn dns_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn dns_header(id: u16, flags: u16, qd: u16, an: u16) -> Vec<u8> {
    let mut h = Vec::new();
    for v in [id, flags, qd, an, 0, 0] {
        h.extend_from_slice(&v.to_be_bytes());
    }
    h
}

/// A DNS message whose answers use name compression: www.example.com is a CNAME for
/// example.com (a pointer into the question), which has an A record (a pointer again).
pub fn dns_response() -> Vec<u8> {
    let mut m = dns_header(0x1a2b, 0x8180, 1, 2);
    m.extend(dns_name("www.example.com"));
    m.extend_from_slice(&[0, 1, 0, 1]);
    // Answer 1: name = pointer to offset 12 (the question's name), CNAME, IN, TTL 300.
    m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0x01, 0x2c, 0, 2, 0xc0, 16]);
    // Answer 2: name = pointer to offset 16 ("example.com"), A, IN, TTL 60, 192.0.2.80.
    m.extend_from_slice(&[0xc0, 16, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 80]);
    m
}

fn dns() -> Fixture {
    let lo = IpAddr::from(LO4);
    let mut query = dns_header(0x1a2b, 0x0100, 1, 0);
    query.extend(dns_name("www.example.com"));
    query.extend_from_slice(&[0, 1, 0, 1]);
    let udp4 = |sp: u16, dp: u16, m: &[u8]| {
        whole(lo_eth(
            num::ETH_IPV4,
            &Ipv4::new(LO4, LO4, num::IP_UDP).build(&craft::udp(lo, lo, sp, dp, m)),
        ))
    };
    let mut aaaa_q = dns_header(0x0777, 0x0100, 1, 0);
    aaaa_q.extend(dns_name("ipv6.example"));
    aaaa_q.extend_from_slice(&[0, 28, 0, 1]);
    let mut aaaa_r = dns_header(0x0777, 0x8180, 1, 1);
    aaaa_r.extend(dns_name("ipv6.example"));
    aaaa_r.extend_from_slice(&[0, 28, 0, 1, 0xc0, 12, 0, 28, 0, 1, 0, 0, 0x0e, 0x10, 0, 16]);
    aaaa_r.extend_from_slice(&DOC6_B);
    let mut nx = dns_header(0x0888, 0x8183, 1, 0);
    nx.extend(dns_name("nope.example"));
    nx.extend_from_slice(&[0, 1, 0, 1]);
    let lo6 = IpAddr::from(LO6);
    let udp6 = |sp: u16, dp: u16, m: &[u8]| {
        whole(lo_eth(
            num::ETH_IPV6,
            &craft::ipv6(LO6, LO6, num::IP_UDP, 64, &craft::udp(lo6, lo6, sp, dp, m)),
        ))
    };
    Fixture {
        name: "dns",
        about: "DNS A query and a response with compressed names (CNAME then A); AAAA over IPv6; an NXDOMAIN",
        link: LinkType::ETHERNET,
        frames: vec![
            udp4(53000, 53, &query),
            udp4(53, 53000, &dns_response()),
            udp6(53002, 53, &aaaa_q),
            udp6(53, 53002, &aaaa_r),
            udp4(53, 53004, &nx),
        ],
    }
}

/// DNS over TCP (RFC 7766): each message after a 2-byte length, as for a large answer or a
/// zone transfer.
fn dns_tcp() -> Fixture {
    let c = Conn {
        client_port: 53010,
        server_port: 53,
        client_isn: 0x6000_0000,
        server_isn: 0x6100_0000,
    };
    let mut frames = c.handshake();
    let mut query = dns_header(0x1a2b, 0x0100, 1, 0);
    query.extend(dns_name("www.example.com"));
    query.extend_from_slice(&[0, 1, 0, 1]);
    let prefixed = |m: &[u8]| {
        let mut v = (m.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(m);
        v
    };
    let q = prefixed(&query);
    frames.push(c.seg(true, 1, 1, PSH | ACK, ts_options(1002, 2000), &q));
    let r = prefixed(&dns_response());
    frames.push(c.seg(
        false,
        1,
        1 + q.len() as u32,
        PSH | ACK,
        ts_options(2001, 1002),
        &r,
    ));
    Fixture {
        name: "dns-tcp",
        about: "DNS over TCP: the query and the compressed response, each after its 2-byte length",
        link: LinkType::ETHERNET,
        frames,
    }
}

/// A TLS 1.3 ClientHello with SNI, the ServerHello, ChangeCipherSpec and application data.
pub fn client_hello(sni: &str) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend((0..32u8).map(|i| i.wrapping_mul(7)));
    body.push(32);
    body.extend((0..32u8).map(|i| 0xa0 ^ i));
    body.extend_from_slice(&[0, 6, 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f, 1, 0]);
    let mut exts = Vec::new();
    let name = sni.as_bytes();
    exts.extend_from_slice(&[0, 0]);
    exts.extend_from_slice(&((name.len() + 5) as u16).to_be_bytes());
    exts.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    exts.push(0);
    exts.extend_from_slice(&(name.len() as u16).to_be_bytes());
    exts.extend_from_slice(name);
    exts.extend_from_slice(&[0, 43, 0, 5, 4, 3, 4, 3, 3]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend(exts);
    tls_handshake_record(1, 0x0301, &body)
}

fn tls_handshake_record(hs_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut hs = vec![hs_type];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(body);
    tls_record(22, version, &hs)
}

fn tls_record(ct: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ct];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn tls() -> Fixture {
    let c = Conn {
        client_port: 41500,
        server_port: 443,
        client_isn: 0x7000_0000,
        server_isn: 0x7100_0000,
    };
    let mut frames = c.handshake();
    let hello = client_hello("example.org");
    frames.push(c.seg(true, 1, 1, PSH | ACK, ts_options(1002, 2000), &hello));
    let mut sh = vec![3, 3];
    sh.extend((0..32u8).map(|i| i.wrapping_mul(13)));
    sh.push(32);
    sh.extend((0..32u8).map(|i| 0xa0 ^ i));
    sh.extend_from_slice(&[0x13, 0x01, 0, 0, 6, 0, 43, 0, 2, 3, 4]);
    let mut flight = tls_handshake_record(2, 0x0303, &sh);
    flight.extend(tls_record(20, 0x0303, &[1]));
    flight.extend(tls_record(23, 0x0303, &[0x5a; 40]));
    let c_next = 1 + hello.len() as u32;
    frames.push(c.seg(false, 1, c_next, PSH | ACK, ts_options(2001, 1002), &flight));
    frames.push(c.seg(
        true,
        c_next,
        1 + flight.len() as u32,
        PSH | ACK,
        ts_options(1003, 2001),
        &tls_record(23, 0x0303, &[0x33; 24]),
    ));
    Fixture {
        name: "tls",
        about: "a TLS 1.3 ClientHello with SNI example.org; ServerHello, ChangeCipherSpec and encrypted data in one segment",
        link: LinkType::ETHERNET,
        frames,
    }
}

/// Frames cut short or lying about their lengths: each must end in a "malformed" layer (or a
/// note, for a snap-length cut) without losing the layers before the damage.
fn truncated() -> Fixture {
    let lo = IpAddr::from(LO4);
    let syn = Tcp {
        src_port: 41000,
        dst_port: 9000,
        seq: 1,
        flags: SYN,
        window: 65483,
        options: syn_options(65495, 1, 0, 7),
        ..Tcp::default()
    };
    let syn_frame = lo_eth(
        num::ETH_IPV4,
        &Ipv4::new(LO4, LO4, num::IP_TCP).build(&syn.build(lo, lo, b"")),
    );
    let http = Tcp {
        src_port: 41000,
        dst_port: 8080,
        seq: 1,
        ack: 1,
        flags: PSH | ACK,
        window: 512,
        options: vec![],
    };
    let body = format!(
        "GET /{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(400)
    );
    let http_frame = lo_eth(
        num::ETH_IPV4,
        &Ipv4::new(LO4, LO4, num::IP_TCP).build(&http.build(lo, lo, body.as_bytes())),
    );
    let mut bad_ihl = Ipv4::new(LO4, LO4, num::IP_UDP).build(&craft::udp(lo, lo, 1, 2, b"x"));
    bad_ihl[0] = 0x44;
    let mut bad_udp = craft::udp(lo, lo, 45000, 7007, b"hi");
    bad_udp[4..6].copy_from_slice(&4u16.to_be_bytes());
    let mut looped = dns_header(0x0bad, 0x0100, 1, 0);
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    let dns_loop = lo_eth(
        num::ETH_IPV4,
        &Ipv4::new(LO4, LO4, num::IP_UDP).build(&craft::udp(lo, lo, 53000, 53, &looped)),
    );
    let mut ext = craft::ipv6(
        LO6,
        LO6,
        0,
        64,
        &craft::ipv6_options_header(num::IP_UDP, b""),
    );
    ext[41] = 8; // hop-by-hop length 72 bytes, in a packet that has 8
    Fixture {
        name: "truncated",
        about: "cut inside Ethernet, IPv4 and TCP headers; bad IPv4 header length; UDP length below 8; a DNS compression loop; an IPv6 extension header running past the packet; an HTTP request cut by a 100-byte snap length",
        link: LinkType::ETHERNET,
        frames: vec![
            Frame {
                bytes: syn_frame[..10].to_vec(),
                orig_len: syn_frame.len() as u32,
            },
            Frame {
                bytes: syn_frame[..26].to_vec(),
                orig_len: syn_frame.len() as u32,
            },
            Frame {
                bytes: syn_frame[..64].to_vec(),
                orig_len: syn_frame.len() as u32,
            },
            whole(lo_eth(num::ETH_IPV4, &bad_ihl)),
            whole(lo_eth(
                num::ETH_IPV4,
                &Ipv4::new(LO4, LO4, num::IP_UDP).build(&bad_udp),
            )),
            whole(dns_loop),
            whole(lo_eth(num::ETH_IPV6, &ext)),
            Frame {
                bytes: http_frame[..100].to_vec(),
                orig_len: http_frame.len() as u32,
            },
        ],
    }
}

fn udp4_packet(sp: u16, dp: u16, data: &[u8]) -> Vec<u8> {
    let lo = IpAddr::from(LO4);
    Ipv4::new(LO4, LO4, num::IP_UDP).build(&craft::udp(lo, lo, sp, dp, data))
}

fn udp6_packet(sp: u16, dp: u16, data: &[u8]) -> Vec<u8> {
    let lo = IpAddr::from(LO6);
    craft::ipv6(LO6, LO6, num::IP_UDP, 64, &craft::udp(lo, lo, sp, dp, data))
}

fn prefixed(prefix: &[u8], packet: &[u8]) -> Frame {
    let mut f = prefix.to_vec();
    f.extend_from_slice(packet);
    whole(f)
}

fn link_null() -> Fixture {
    Fixture {
        name: "linktype-null",
        about: "DLT_NULL (0), BSD loopback: a 4-byte family in the capturing host's byte order (little-endian here): IPv4 and IPv6 (family 30, macOS)",
        link: LinkType::NULL,
        frames: vec![
            prefixed(&2u32.to_le_bytes(), &udp4_packet(45000, 7007, b"null4")),
            prefixed(&30u32.to_le_bytes(), &udp6_packet(45000, 7007, b"null6")),
        ],
    }
}

fn link_loop() -> Fixture {
    Fixture {
        name: "linktype-loop",
        about: "DLT_LOOP (108), OpenBSD loopback: the family is big-endian (IPv6 is 24 there)",
        link: LinkType::LOOP,
        frames: vec![
            prefixed(&2u32.to_be_bytes(), &udp4_packet(45000, 7007, b"loop4")),
            prefixed(&24u32.to_be_bytes(), &udp6_packet(45000, 7007, b"loop6")),
        ],
    }
}

fn link_raw() -> Fixture {
    Fixture {
        name: "linktype-raw",
        about: "LINKTYPE_RAW (101): no link header; the IP version nibble says IPv4 or IPv6",
        link: LinkType::RAW,
        frames: vec![
            whole(udp4_packet(45000, 7007, b"raw4")),
            whole(udp6_packet(45000, 7007, b"raw6")),
        ],
    }
}

fn link_ipv4() -> Fixture {
    let mut query = dns_header(0x4444, 0x0100, 1, 0);
    query.extend(dns_name("example.com"));
    query.extend_from_slice(&[0, 1, 0, 1]);
    Fixture {
        name: "linktype-ipv4",
        about: "LINKTYPE_IPV4 (228): every frame is an IPv4 packet",
        link: LinkType::IPV4,
        frames: vec![whole(udp4_packet(53006, 53, &query))],
    }
}

fn link_ipv6() -> Fixture {
    let m = craft::icmpv6(LO6, LO6, 128, 0, [0, 9, 0, 1], b"v6");
    Fixture {
        name: "linktype-ipv6",
        about: "LINKTYPE_IPV6 (229): every frame is an IPv6 packet",
        link: LinkType::IPV6,
        frames: vec![whole(craft::ipv6(LO6, LO6, num::IP_ICMPV6, 64, &m))],
    }
}

/// A cooked v1 header: packet type, ARPHRD type, address length, 8-byte address slot, protocol.
fn sll_header(pkttype: u16, hatype: u16, addr: &[u8], proto: u16) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&pkttype.to_be_bytes());
    h.extend_from_slice(&hatype.to_be_bytes());
    h.extend_from_slice(&(addr.len() as u16).to_be_bytes());
    let mut slot = [0u8; 8];
    slot[..addr.len()].copy_from_slice(addr);
    h.extend_from_slice(&slot);
    h.extend_from_slice(&proto.to_be_bytes());
    h
}

fn link_sll() -> Fixture {
    let c = Conn {
        client_port: 45010,
        server_port: 7007,
        client_isn: 0x0101_0101,
        server_isn: 0,
    };
    let syn_eth = c
        .seg(true, 0, 0, SYN, syn_options(65495, 1, 0, 7), b"")
        .bytes;
    Fixture {
        name: "linktype-sll",
        about: "LINUX_SLL (113), `tcpdump -i any`: an outgoing TCP SYN on lo and an incoming IPv6 UDP datagram from an Ethernet card",
        link: LinkType::LINUX_SLL,
        frames: vec![
            prefixed(&sll_header(4, 772, &[0; 6], num::ETH_IPV4), &syn_eth[14..]),
            prefixed(
                &sll_header(0, 1, &MAC_A, num::ETH_IPV6),
                &udp6_packet(45000, 7007, b"sll6"),
            ),
        ],
    }
}

fn link_sll2() -> Fixture {
    let mut h = Vec::new();
    h.extend_from_slice(&num::ETH_IPV4.to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(&1u32.to_be_bytes());
    h.extend_from_slice(&772u16.to_be_bytes());
    h.extend_from_slice(&[0, 6]);
    h.extend_from_slice(&[0; 8]);
    Fixture {
        name: "linktype-sll2",
        about: "LINUX_SLL2 (276): the cooked header that also names the interface (index 1, lo)",
        link: LinkType::LINUX_SLL2,
        frames: vec![prefixed(&h, &udp4_packet(45000, 7007, b"sll2"))],
    }
}
