//! socket.io clients on netlab's core, frames in, frames out, on a hand-moved clock: the
//! conformance app's behaviour, the chat with a netlab-protocol user in the same room, acks both
//! ways, binary, namespaces, connection state recovery, and what a bad client gets.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netlab_events::Frame;
use netlab_events::core::{Config as CoreConfig, ConnId, Core};
use netlab_events::socketio::engineio::Data;
use netlab_events::socketio::session::Config as EioConfig;
use netlab_events::socketio::{Config, Connection, ConnectionError, Poll, Transport, conformance};
use proptest::prelude::Strategy;
use serde_json::{Value, json};

const MS: Duration = Duration::from_millis(1);

struct H {
    core: Core,
    now: Instant,
    config: Config,
    next_sid: u32,
}

impl H {
    fn new() -> H {
        let mut core = Core::new(CoreConfig {
            seed: 7,
            ..CoreConfig::default()
        });
        conformance::install(&mut core);
        netlab_events::chat::install(&mut core);
        H {
            core,
            now: Instant::now(),
            config: Config {
                engine: EioConfig {
                    ping_interval: 300 * MS,
                    ping_timeout: 200 * MS,
                    max_payload: 1_000_000,
                },
                connect_timeout: 1000 * MS,
            },
            next_sid: 0,
        }
    }

    /// A WebSocket-only client, past its handshake.
    fn ws(&mut self) -> Connection {
        self.next_sid += 1;
        let sid = format!("s{}", self.next_sid);
        let mut c = Connection::open(
            &mut self.core,
            sid,
            Transport::WebSocket,
            &self.config,
            self.now,
        );
        let hs = self.out(&mut c);
        assert_eq!(hs.len(), 1);
        assert!(hs[0].starts_with("0{\"sid\":\"s"), "{hs:?}");
        c
    }

    /// A long-polling client, its first poll begun (its body is the handshake).
    fn polling(&mut self) -> Connection {
        let mut c = Connection::open(
            &mut self.core,
            "p".into(),
            Transport::Polling,
            &self.config,
            self.now,
        );
        c.begin_poll(&mut self.core, self.now).unwrap();
        c
    }

    /// Send one Engine.IO message (a Socket.IO packet's text).
    fn send(&mut self, c: &mut Connection, text: &str) -> Result<(), ConnectionError> {
        c.receive_ws(&mut self.core, Data::Text(format!("4{text}")), self.now)
    }

    fn send_bin(&mut self, c: &mut Connection, bytes: &[u8]) -> Result<(), ConnectionError> {
        c.receive_ws(&mut self.core, Data::Binary(bytes.to_vec()), self.now)
    }

    /// Everything for the client: text frames as they are, binary ones as `<bin HEX>`.
    fn out(&mut self, c: &mut Connection) -> Vec<String> {
        c.take_ws(&mut self.core, self.now)
            .into_iter()
            .map(|d| match d {
                Data::Text(t) => t,
                Data::Binary(b) => {
                    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                    format!("<bin {hex}>")
                }
            })
            .collect()
    }

    /// Connect to `nsp` with `auth`; returns the CONNECT answer's sid and pid.
    fn connect(&mut self, c: &mut Connection, nsp: &str, auth: Value) -> (String, String) {
        let prefix = if nsp == "/" {
            String::new()
        } else {
            format!("{nsp},")
        };
        self.send(c, &format!("0{prefix}{auth}")).unwrap();
        let out = self.out(c);
        let first = out
            .first()
            .unwrap_or_else(|| panic!("no answer to CONNECT"));
        let json = first
            .strip_prefix(&format!("40{prefix}"))
            .unwrap_or_else(|| panic!("not a CONNECT answer: {out:?}"));
        let v: Value = serde_json::from_str(json).unwrap();
        (
            v["sid"].as_str().unwrap().to_string(),
            v["pid"].as_str().unwrap().to_string(),
        )
    }

    /// A netlab-protocol (TCP) user in /chat, driven with the core's frames directly.
    fn tcp_user(&mut self, name: &str, room: &str) -> ConnId {
        let c = self.core.open(self.now);
        let frames = [
            Frame::Connect {
                ns: "/chat".into(),
                auth: Some(json!({ "name": name })),
                resume: None,
            },
            Frame::Event {
                ns: "/chat".into(),
                name: "join".into(),
                args: vec![json!(room)],
                ack: None,
                seq: None,
            },
        ];
        for f in frames {
            self.core.receive(c, f, self.now);
        }
        self.tcp_out(c);
        c
    }

    fn tcp_out(&mut self, c: ConnId) -> Vec<Frame> {
        let t = self.core.poll_transmit(c, usize::MAX);
        t.frames.iter().map(|f| (**f).clone()).collect()
    }
}

#[test]
fn conformance_app_emits_auth_on_connection_to_both_namespaces() {
    let mut h = H::new();
    let mut c = h.ws();
    h.send(&mut c, "0").unwrap();
    let out = h.out(&mut c);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out[0].starts_with("40{\"pid\":"), "{out:?}");
    // No auth is an empty object, as in socket.io.
    assert_eq!(out[1], r#"42["auth",{}]"#);

    h.send(&mut c, r#"0/custom,{"token":"123"}"#).unwrap();
    let out = h.out(&mut c);
    assert!(out[0].starts_with("40/custom,{\"pid\":"), "{out:?}");
    assert_eq!(out[1], r#"42/custom,["auth",{"token":"123"}]"#);
}

#[test]
fn conformance_app_echoes_messages_and_acks_with_the_same_arguments() {
    let mut h = H::new();
    let mut c = h.ws();
    h.connect(&mut c, "/", json!({}));
    h.out(&mut c);
    h.send(&mut c, r#"2["message",1,"2",{"3":[true]}]"#)
        .unwrap();
    assert_eq!(h.out(&mut c), [r#"42["message-back",1,"2",{"3":[true]}]"#]);
    h.send(&mut c, r#"2456["message-with-ack",1,"2",{"3":[true]}]"#)
        .unwrap();
    assert_eq!(h.out(&mut c), [r#"43456[1,"2",{"3":[true]}]"#]);
}

#[test]
fn binary_events_and_acks_come_back_as_binary() {
    let mut h = H::new();
    let mut c = h.ws();
    h.connect(&mut c, "/custom", json!({}));
    h.out(&mut c);
    h.send(
        &mut c,
        r#"52-/custom,["message",{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":1}}]"#,
    )
    .unwrap();
    assert!(h.out(&mut c).is_empty(), "nothing before the attachments");
    h.send_bin(&mut c, &[1, 2, 3]).unwrap();
    h.send_bin(&mut c, &[4]).unwrap();
    assert_eq!(
        h.out(&mut c),
        [
            r#"452-/custom,["message-back",{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":1}}]"#,
            "<bin 010203>",
            "<bin 04>",
        ]
    );
    h.send(
        &mut c,
        r#"51-/custom,7["message-with-ack",{"_placeholder":true,"num":0}]"#,
    )
    .unwrap();
    h.send_bin(&mut c, &[0xff]).unwrap();
    assert_eq!(
        h.out(&mut c),
        [
            r#"461-/custom,7[{"_placeholder":true,"num":0}]"#,
            "<bin ff>"
        ]
    );
}

#[test]
fn client_ack_ids_may_repeat_across_namespaces() {
    // socket.io-client counts ack ids per namespace from 0; the core wants one series.
    let mut h = H::new();
    let mut c = h.ws();
    h.connect(&mut c, "/", json!({}));
    h.connect(&mut c, "/custom", json!({}));
    h.out(&mut c);
    h.send(&mut c, r#"20["message-with-ack","a"]"#).unwrap();
    h.send(&mut c, r#"2/custom,0["message-with-ack","b"]"#)
        .unwrap();
    h.send(&mut c, r#"21["message-with-ack","c"]"#).unwrap();
    assert_eq!(
        h.out(&mut c),
        [r#"430["a"]"#, r#"43/custom,0["b"]"#, r#"431["c"]"#]
    );
}

#[test]
fn a_server_emit_with_ack_gets_the_clients_answer() {
    let mut h = H::new();
    let mut c = h.ws();
    let (sid, _) = h.connect(&mut c, "/custom", json!({}));
    h.out(&mut c);
    let got = Arc::new(Mutex::new(None));
    let g = got.clone();
    h.core.emit_with_ack(
        &sid,
        "question",
        vec![json!("?")],
        Duration::from_secs(5),
        h.now,
        Box::new(move |r| *g.lock().unwrap() = Some(r)),
    );
    assert_eq!(h.out(&mut c), [r#"42/custom,1["question","?"]"#]);
    h.send(&mut c, r#"3/custom,1["yes",{"$binary":"AQ=="}]"#)
        .unwrap();
    assert_eq!(
        got.lock().unwrap().clone(),
        Some(Ok(vec![json!("yes"), json!({"$binary": "AQ=="})]))
    );
}

#[test]
fn an_unknown_namespace_gets_connect_error_and_the_connection_stays() {
    let mut h = H::new();
    let mut c = h.ws();
    h.send(&mut c, "0/random,").unwrap();
    assert_eq!(
        h.out(&mut c),
        [r#"44/random,{"message":"Invalid namespace"}"#]
    );
    h.connect(&mut c, "/", json!({}));
    assert!(c.session().closed().is_none());
}

#[test]
fn middleware_refusal_is_connect_error() {
    let mut h = H::new();
    let mut c = h.ws();
    h.send(&mut c, "0/chat,{}").unwrap();
    let out = h.out(&mut c);
    assert_eq!(out.len(), 1);
    assert!(
        out[0].starts_with(r#"44/chat,{"message":"a display name is required"#),
        "{out:?}"
    );
}

#[test]
fn a_socketio_client_chats_with_a_netlab_protocol_user_in_one_room() {
    let mut h = H::new();
    let tcp = h.tcp_user("ada", "lobby");
    let mut c = h.ws();
    h.connect(&mut c, "/chat", json!({"name": "sio"}));
    h.send(&mut c, r#"2/chat,0["join","lobby"]"#).unwrap();
    let out = h.out(&mut c);
    assert_eq!(
        out,
        [
            r#"42/chat,["joined",{"name":"sio","room":"lobby"},"1"]"#,
            r#"43/chat,0[{"ok":true,"room":"lobby"}]"#,
        ]
    );
    h.tcp_out(tcp);
    // The TCP user speaks; the socket.io client hears it, with its offset last.
    h.core.receive(
        tcp,
        Frame::Event {
            ns: "/chat".into(),
            name: "message".into(),
            args: vec![json!("lobby"), json!("hello from tcp")],
            ack: None,
            seq: None,
        },
        h.now,
    );
    assert_eq!(
        h.out(&mut c),
        [r#"42/chat,["message",{"name":"ada","room":"lobby","text":"hello from tcp"},"2"]"#]
    );
    // And the other way.
    h.send(&mut c, r#"2/chat,1["message","lobby","hi ada"]"#)
        .unwrap();
    assert_eq!(
        h.out(&mut c),
        [
            r#"42/chat,["message",{"name":"sio","room":"lobby","text":"hi ada"},"3"]"#,
            r#"43/chat,1[{"ok":true}]"#,
        ]
    );
    let heard = h.tcp_out(tcp);
    assert!(
        heard
            .iter()
            .any(|f| matches!(f, Frame::Event { name, args, .. }
            if name == "message" && args[0]["text"] == "hi ada")),
        "{heard:?}"
    );
}

/// One broadcast, two socket.io clients whose sessions are at different seqs: the core queues
/// one shared frame for both, and each text carries that client's own offset.
#[test]
fn a_broadcast_reaches_each_socketio_client_with_its_own_offset() {
    let mut h = H::new();
    let mut a = h.ws();
    h.connect(&mut a, "/chat", json!({"name": "a"}));
    h.send(&mut a, r#"2/chat,0["join","lobby"]"#).unwrap();
    let mut b = h.ws();
    h.connect(&mut b, "/chat", json!({"name": "b"}));
    h.send(&mut b, r#"2/chat,0["join","lobby"]"#).unwrap();
    h.out(&mut a);
    h.out(&mut b);
    h.send(&mut b, r#"2/chat,1["message","lobby","to both"]"#)
        .unwrap();
    let text = r#"{"name":"b","room":"lobby","text":"to both"}"#;
    // a has had two reliable events (its own `joined`, then b's), b one.
    assert_eq!(
        h.out(&mut a),
        [format!(r#"42/chat,["message",{text},"3"]"#)]
    );
    assert_eq!(
        h.out(&mut b),
        [
            format!(r#"42/chat,["message",{text},"2"]"#),
            r#"43/chat,1[{"ok":true}]"#.to_string(),
        ]
    );
}

/// Socket.IO has no packet for the core's `refused` frame: a socket.io client that sends a
/// message too long once wrapped, without an ack, hears nothing of it (the frame is dropped, with
/// a debug log) and carries on; with an ack it gets `ok:false` and the reason.
#[test]
fn a_refused_message_is_dropped_for_socketio_and_the_client_carries_on() {
    let mut h = H::new();
    h.core = Core::new(CoreConfig {
        seed: 7,
        max_frame_bytes: 300,
        ..CoreConfig::default()
    });
    netlab_events::chat::install(&mut h.core);
    let mut c = h.ws();
    h.connect(&mut c, "/chat", json!({"name": "sio"}));
    h.send(&mut c, r#"2/chat,["join","lobby"]"#).unwrap();
    h.out(&mut c);
    let long = "x".repeat(230);
    h.send(&mut c, &format!(r#"2/chat,["message","lobby","{long}"]"#))
        .unwrap();
    assert_eq!(h.out(&mut c), Vec::<String>::new());
    h.send(&mut c, &format!(r#"2/chat,1["message","lobby","{long}"]"#))
        .unwrap();
    let out = h.out(&mut c);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].starts_with(r#"43/chat,1[{"error":"the event would be "#)
            && out[0].ends_with(r#"send less","ok":false}]"#),
        "{out:?}"
    );
    h.send(&mut c, r#"2/chat,2["message","lobby","short"]"#)
        .unwrap();
    assert_eq!(
        h.out(&mut c),
        [
            r#"42/chat,["message",{"name":"sio","room":"lobby","text":"short"},"2"]"#,
            r#"43/chat,2[{"ok":true}]"#,
        ]
    );
}

#[test]
fn a_dropped_client_recovers_its_session_and_the_missed_messages() {
    let mut h = H::new();
    let tcp = h.tcp_user("ada", "lobby");
    let mut c = h.ws();
    let (sid, pid) = h.connect(&mut c, "/chat", json!({"name": "sio"}));
    h.send(&mut c, r#"2/chat,["join","lobby"]"#).unwrap();
    h.out(&mut c);
    // The connection drops (no DISCONNECT: the network went away).
    c.transport_gone(&mut h.core, "transport close", h.now);
    h.tcp_out(tcp);
    for text in ["missed 1", "missed 2"] {
        h.core.receive(
            tcp,
            Frame::Event {
                ns: "/chat".into(),
                name: "message".into(),
                args: vec![json!("lobby"), json!(text)],
                ack: None,
                seq: None,
            },
            h.now,
        );
    }
    // socket.io-client reconnects with pid and the offset of the last event it saw ("1").
    let mut c2 = h.ws();
    h.send(
        &mut c2,
        &format!(r#"0/chat,{{"name":"sio","pid":"{pid}","offset":"1"}}"#),
    )
    .unwrap();
    assert_eq!(
        h.out(&mut c2),
        [
            format!(r#"40/chat,{{"pid":"{pid}","sid":"{sid}"}}"#),
            r#"42/chat,["message",{"name":"ada","room":"lobby","text":"missed 1"},"2"]"#.into(),
            r#"42/chat,["message",{"name":"ada","room":"lobby","text":"missed 2"},"3"]"#.into(),
        ]
    );
    // Still in the room, without joining again.
    h.send(&mut c2, r#"2/chat,5["message","lobby","back"]"#)
        .unwrap();
    assert_eq!(h.out(&mut c2)[1], r#"43/chat,5[{"ok":true}]"#);
}

#[test]
fn an_unknown_pid_starts_a_new_session() {
    let mut h = H::new();
    let mut c = h.ws();
    h.send(&mut c, r#"0/chat,{"name":"x","pid":"nope","offset":"3"}"#)
        .unwrap();
    let out = h.out(&mut c);
    assert!(out[0].starts_with("40/chat,{\"pid\":"), "{out:?}");
    assert!(!out[0].contains("\"pid\":\"nope\""), "{out:?}");
}

#[test]
fn no_connect_within_the_connect_timeout_closes_the_client() {
    let mut h = H::new();
    let mut c = h.polling();
    assert!(matches!(c.take_polling(&mut h.core, h.now), Poll::Payload(p) if p.starts_with("0{")));
    c.end_poll();
    let deadline = c.next_deadline(&h.core).unwrap();
    assert_eq!(deadline, h.now + 300 * MS, "the first ping comes first");
    // Answer the pings so only the connect timeout can end it.
    let mut t = h.now;
    while t < h.now + 1000 * MS {
        t = c.next_deadline(&h.core).unwrap();
        c.handle_timeout(&mut h.core, t);
        c.receive_payload(&mut h.core, b"3", t).unwrap_or(());
    }
    assert_eq!(t, h.now + 1000 * MS);
    assert_eq!(c.session().closed(), Some("forced close"));
    c.begin_poll(&mut h.core, t).unwrap();
    let last = c.take_polling(&mut h.core, t);
    assert!(
        matches!(&last, Poll::Payload(p) if p.ends_with("\x1e1") || p == "1"),
        "{last:?}"
    );
    c.end_poll();
    assert!(c.finished());
    assert_eq!(h.core.connection_count(), 0);
}

#[test]
fn a_client_that_stops_answering_pings_is_closed_and_its_sockets_detached() {
    let mut h = H::new();
    let mut c = h.ws();
    h.connect(&mut c, "/chat", json!({"name": "z"}));
    let t = h.now + 300 * MS;
    c.handle_timeout(&mut h.core, t);
    assert_eq!(h.out(&mut c), ["2"]);
    c.handle_timeout(&mut h.core, t + 200 * MS);
    assert_eq!(c.session().closed(), Some("ping timeout"));
    assert_eq!(h.core.connection_count(), 0);
}

#[test]
fn bad_packets_close_only_the_client_that_sent_them() {
    let bad: [&[&str]; 7] = [
        &["2[\"message\"]"],                              // an event before CONNECT
        &["0", "0"],                                      // CONNECT twice to the same namespace
        &["0", "9"],                                      // unknown type
        &["0", "2[\"connect\"]"],                         // a reserved event name
        &["0", "4{\"message\":\"x\"}"],                   // CONNECT_ERROR from a client
        &["0", "31-[{\"_placeholder\":true,\"num\":0}]"], // attachments on ACK
        &["0", "2/custom,[\"message\"]"],                 // a namespace not joined
    ];
    let mut h = H::new();
    let mut good = h.ws();
    h.connect(&mut good, "/", json!({}));
    h.out(&mut good);
    for packets in bad {
        let mut c = h.ws();
        let (last, first) = packets.split_last().unwrap();
        for p in first {
            h.send(&mut c, p).unwrap();
        }
        assert!(h.send(&mut c, last).is_err(), "{packets:?}");
        assert!(c.session().closed().is_some(), "{packets:?}");
        // The good client carries on.
        h.send(&mut good, r#"2["message","still here"]"#).unwrap();
        assert_eq!(h.out(&mut good), [r#"42["message-back","still here"]"#]);
    }
    assert_eq!(h.core.connection_count(), 1);
    // A binary attachment that nobody announced.
    let mut c = h.ws();
    h.send(&mut c, "0").unwrap();
    assert!(h.send_bin(&mut c, &[1]).is_err());
    assert!(c.session().closed().is_some());
}

#[test]
fn a_disconnect_leaves_the_namespace_and_another_connect_works() {
    let mut h = H::new();
    let mut c = h.ws();
    let (sid1, _) = h.connect(&mut c, "/custom", json!({}));
    h.send(&mut c, "1/custom,").unwrap();
    h.out(&mut c);
    let (sid2, _) = h.connect(&mut c, "/custom", json!({}));
    assert_ne!(sid1, sid2);
    // The server removing a socket tells the client.
    h.core.disconnect_socket(&sid2, "kicked", h.now);
    assert!(h.out(&mut c).contains(&"41/custom,".to_string()));
}

#[test]
fn polling_clients_get_their_packets_in_one_body() {
    let mut h = H::new();
    let mut c = h.polling();
    c.take_polling(&mut h.core, h.now);
    c.end_poll();
    c.receive_payload(
        &mut h.core,
        b"40{\"a\":1}\x1e451-[\"message\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID",
        h.now,
    )
    .unwrap();
    c.begin_poll(&mut h.core, h.now).unwrap();
    let Poll::Payload(body) = c.take_polling(&mut h.core, h.now) else {
        panic!("no body")
    };
    let parts: Vec<&str> = body.split('\x1e').collect();
    assert_eq!(parts.len(), 4, "{body:?}");
    assert!(parts[0].starts_with("40{\"pid\":"));
    assert_eq!(parts[1], r#"42["auth",{"a":1}]"#);
    assert_eq!(
        parts[2],
        r#"451-["message-back",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(parts[3], "bAQID");
}

#[test]
fn conformance_app_asks_the_client_for_an_ack_and_reports_it() {
    let mut h = H::new();
    let mut c = h.ws();
    h.connect(&mut c, "/", json!({}));
    h.out(&mut c);
    h.send(&mut c, r#"20["callback-result"]"#).unwrap();
    assert_eq!(
        h.out(&mut c),
        [r#"430[{"error":"no ack of `callback` yet"}]"#]
    );
    h.send(&mut c, r#"2["call-me-back","x"]"#).unwrap();
    assert_eq!(h.out(&mut c), [r#"421["callback","x"]"#]);
    h.send(&mut c, r#"31["x","back"]"#).unwrap();
    h.send(&mut c, r#"21["callback-result"]"#).unwrap();
    assert_eq!(h.out(&mut c), [r#"431["x","back"]"#]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever a client sends (text made of socket.io's own characters, or bytes), nothing
    /// panics, and another client on the same core carries on.
    #[test]
    fn arbitrary_frames_never_panic_and_others_carry_on(
        frames in proptest::collection::vec(
            proptest::prop_oneof![
                "[0-6b][0-6]?[0-9-]{0,2}(/[a-z]{0,4},?)?[0-9]{0,2}[\\[\\]{}\"a-z0-9_:,]{0,20}"
                    .prop_map(Data::Text),
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..16)
                    .prop_map(Data::Binary),
            ],
            1..12,
        )
    ) {
        let mut h = H::new();
        let mut good = h.ws();
        h.connect(&mut good, "/", json!({}));
        h.out(&mut good);
        let mut c = h.ws();
        h.send(&mut c, "0").unwrap();
        for f in frames {
            let _ = c.receive_ws(&mut h.core, f, h.now);
            let _ = h.out(&mut c);
        }
        h.send(&mut good, r#"2["message","ok"]"#).unwrap();
        proptest::prop_assert_eq!(h.out(&mut good), vec![r#"42["message-back","ok"]"#.to_string()]);
    }
}
