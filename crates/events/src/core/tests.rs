//! The core driven with frames in, frames out, on a hand-moved clock: no sockets, no tokio.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::frame::Frame as F;

struct H {
    core: Core,
    now: Instant,
}

impl H {
    fn new(cfg: Config) -> Self {
        let mut core = Core::new(cfg);
        crate::chat::install(&mut core);
        H {
            core,
            now: Instant::now(),
        }
    }

    fn open(&mut self) -> ConnId {
        let c = self.core.open(self.now);
        let hello = self.out(c);
        assert!(matches!(hello[..], [F::Hello { .. }]), "{hello:?}");
        c
    }

    fn send(&mut self, conn: ConnId, f: F) {
        self.core.receive(conn, f, self.now);
    }

    fn out(&mut self, conn: ConnId) -> Vec<F> {
        let t = self.core.poll_transmit(conn, usize::MAX);
        t.frames.iter().map(|f| (**f).clone()).collect()
    }

    fn closing(&mut self, conn: ConnId) -> bool {
        self.core.poll_transmit(conn, 0).close
    }

    fn chat(&mut self, name: &str) -> (ConnId, String, String) {
        let c = self.open();
        self.send(
            c,
            F::Connect {
                ns: "/chat".into(),
                auth: Some(json!({"name": name})),
                resume: None,
            },
        );
        match &self.out(c)[..] {
            [
                F::Connected {
                    sid,
                    session,
                    recovered: false,
                    ..
                },
            ] => (c, sid.clone(), session.clone()),
            other => panic!("{other:?}"),
        }
    }

    fn event(&mut self, conn: ConnId, name: &str, args: Vec<serde_json::Value>, ack: Option<u64>) {
        self.send(
            conn,
            F::Event {
                ns: "/chat".into(),
                name: name.into(),
                args,
                ack,
                seq: None,
            },
        );
    }
}

fn names(frames: &[F]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match f {
            F::Event { name, .. } => name.clone(),
            other => other.kind().to_string(),
        })
        .collect()
}

#[test]
fn middleware_refuses_with_its_reason_and_the_connection_stays_open() {
    let mut h = H::new(Config::default());
    let c = h.open();
    h.send(
        c,
        F::Connect {
            ns: "/chat".into(),
            auth: None,
            resume: None,
        },
    );
    match &h.out(c)[..] {
        [F::ConnectError { ns, message }] => {
            assert_eq!(ns, "/chat");
            assert!(message.contains("display name"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!h.closing(c));
    h.send(
        c,
        F::Connect {
            ns: "/".into(),
            auth: None,
            resume: None,
        },
    );
    assert!(matches!(h.out(c)[..], [F::Connected { .. }]));
}

#[test]
fn room_broadcast_reaches_the_room_only() {
    let mut h = H::new(Config::default());
    let (a, _, _) = h.chat("ada");
    let (b, _, _) = h.chat("bob");
    let (c, _, _) = h.chat("cy");
    h.event(a, "join", vec![json!("r")], Some(1));
    h.event(b, "join", vec![json!("r")], None);
    h.out(a);
    h.out(b);
    h.event(a, "message", vec![json!("r"), json!("hi")], Some(2));
    let got_a = h.out(a);
    assert_eq!(names(&got_a), ["message", "ack"]);
    match &got_a[0] {
        F::Event {
            args, seq: Some(_), ..
        } => {
            assert_eq!(args[0], json!({"name":"ada","room":"r","text":"hi"}))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(names(&h.out(b)), ["message"]);
    assert!(h.out(c).is_empty());
}

#[test]
fn a_reliable_broadcast_queues_one_shared_frame_with_each_recipients_seq() {
    let mut h = H::new(Config::default());
    let (a, _, _) = h.chat("ada");
    let (b, _, _) = h.chat("bob");
    h.event(a, "join", vec![json!("r")], None);
    h.out(a);
    h.event(b, "join", vec![json!("r")], None);
    h.out(a);
    h.out(b);
    // ada has had one reliable event (bob's `joined`) since her own; bob none but his own.
    h.event(a, "message", vec![json!("r"), json!("hi")], None);
    let ta = h.core.poll_outgoing(a, usize::MAX);
    let tb = h.core.poll_outgoing(b, usize::MAX);
    let (oa, ob) = (&ta.frames[0], &tb.frames[0]);
    assert!(Arc::ptr_eq(&oa.frame, &ob.frame), "one frame for both");
    assert_eq!((oa.seq, ob.seq), (Some(3), Some(2)));
    let shared = F::event(
        "/chat",
        "message",
        vec![json!({"name":"ada","room":"r","text":"hi"})],
    );
    assert_eq!(*oa.frame, shared);
    // The frame each client gets carries its own seq.
    let with_seq = |seq| F::Event {
        ns: "/chat".into(),
        name: "message".into(),
        args: vec![json!({"name":"ada","room":"r","text":"hi"})],
        ack: None,
        seq: Some(seq),
    };
    assert_eq!(*oa.to_frame(), with_seq(3));
    assert_eq!(*ob.to_frame(), with_seq(2));
    // A resume replays the same shared frame, with the same seq.
    let (c, _, session) = h.chat("cy");
    h.event(c, "join", vec![json!("r")], None);
    h.out(c);
    h.event(a, "message", vec![json!("r"), json!("again")], None);
    h.core.closed(c, "gone", h.now);
    let c2 = h.open();
    h.send(
        c2,
        F::Connect {
            ns: "/chat".into(),
            auth: Some(json!({"name": "cy"})),
            resume: Some(Resume { session, seq: 1 }),
        },
    );
    let replay = h.core.poll_outgoing(c2, usize::MAX);
    let again = h.core.poll_outgoing(a, usize::MAX);
    let last = &again.frames[again.frames.len() - 1];
    assert!(
        replay
            .frames
            .iter()
            .any(|o| Arc::ptr_eq(&o.frame, &last.frame) && o.seq == Some(2))
    );
}

#[test]
fn without_persist_a_broadcast_builds_no_append_ops() {
    for persist in [true, false] {
        let mut h = H::new(Config::default());
        h.core.set_persist(persist);
        let (a, _, _) = h.chat("ada");
        h.event(a, "join", vec![json!("r")], None);
        h.out(a);
        h.core.take_store_ops();
        h.event(a, "message", vec![json!("r"), json!("hi")], None);
        let appends = h
            .core
            .take_store_ops()
            .into_iter()
            .filter(|op| matches!(op, StoreOp::Append { .. }))
            .count();
        assert_eq!(appends, usize::from(persist));
        assert!(matches!(h.out(a)[..], [F::Event { seq: Some(2), .. }]));
    }
}

#[test]
fn every_broadcast_operator_picks_the_right_sockets() {
    let mut h = H::new(Config::default());
    let ns = "/ops";
    let record: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let rec = record.clone();
    h.core.namespace(ns).on("go", move |ctx, ev| {
        let op = ev.args[0].as_str().unwrap().to_string();
        let n = match op.as_str() {
            "join" => {
                let room = ev.args[1].as_str().unwrap().to_string();
                ctx.join(&room);
                0
            }
            "to" => ctx.to("r").emit("x", vec![]),
            "except" => ctx.namespace().except("r").emit("x", vec![]),
            "all" => ctx.namespace().emit("x", vec![]),
            "broadcast" => ctx.broadcast().emit("x", vec![]),
            "self-room" => {
                let me = ctx.sid().to_string();
                ctx.namespace().to(&me).emit("x", vec![])
            }
            _ => unreachable!(),
        };
        rec.lock().unwrap().push((op, n));
    });
    let conns: Vec<ConnId> = (0..4)
        .map(|_| {
            let c = h.open();
            h.send(
                c,
                F::Connect {
                    ns: ns.into(),
                    auth: None,
                    resume: None,
                },
            );
            h.out(c);
            c
        })
        .collect();
    let go = |h: &mut H, c: ConnId, args: Vec<serde_json::Value>| {
        h.send(
            c,
            F::Event {
                ns: ns.into(),
                name: "go".into(),
                args,
                ack: None,
                seq: None,
            },
        );
    };
    // conns 0 and 1 in room r.
    go(&mut h, conns[0], vec![json!("join"), json!("r")]);
    go(&mut h, conns[1], vec![json!("join"), json!("r")]);
    let got = |h: &mut H| -> Vec<usize> { conns.iter().map(|c| h.out(*c).len()).collect() };
    got(&mut h);
    go(&mut h, conns[0], vec![json!("to")]);
    assert_eq!(got(&mut h), [0, 1, 0, 0], "to(room) excludes the sender");
    go(&mut h, conns[0], vec![json!("except")]);
    assert_eq!(got(&mut h), [0, 0, 1, 1], "except(room)");
    go(&mut h, conns[2], vec![json!("all")]);
    assert_eq!(got(&mut h), [1, 1, 1, 1], "whole namespace");
    go(&mut h, conns[2], vec![json!("broadcast")]);
    assert_eq!(got(&mut h), [1, 1, 0, 1], "all but the sender");
    go(&mut h, conns[3], vec![json!("self-room")]);
    assert_eq!(
        got(&mut h),
        [0, 0, 0, 1],
        "each socket is in a room named by its id"
    );
}

#[test]
fn heartbeat_pings_after_one_interval_and_closes_without_pong() {
    let cfg = Config {
        ping_interval: Duration::from_secs(10),
        ping_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    let mut h = H::new(cfg);
    let c = h.open();
    assert_eq!(
        h.core.next_deadline(c),
        Some(h.now + Duration::from_secs(10))
    );
    h.now += Duration::from_secs(10);
    h.core.handle_timeout(c, h.now);
    assert_eq!(h.out(c), [F::Ping]);
    h.send(c, F::Pong);
    h.now += Duration::from_secs(10);
    h.core.handle_timeout(c, h.now);
    assert_eq!(h.out(c), [F::Ping]);
    h.now += Duration::from_secs(5);
    h.core.handle_timeout(c, h.now);
    assert!(
        h.closing(c),
        "no pong within the timeout closes the connection"
    );
}

#[test]
fn server_ack_resolves_with_reply_timeout_or_disconnect() {
    let mut h = H::new(Config::default());
    let (c, sid, _) = h.chat("ada");
    type Outcomes = Arc<Mutex<Vec<Result<Vec<serde_json::Value>, AckError>>>>;
    let results: Outcomes = Arc::default();
    for _ in 0..3 {
        let r = results.clone();
        h.core.emit_with_ack(
            &sid,
            "q",
            vec![],
            Duration::from_secs(1),
            h.now,
            Box::new(move |x| r.lock().unwrap().push(x)),
        );
    }
    let ids: Vec<u64> = h
        .out(c)
        .iter()
        .map(|f| match f {
            F::Event { ack: Some(id), .. } => *id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, [1, 2, 3], "ack ids are unique and increasing");
    h.send(
        c,
        F::Ack {
            ns: "/chat".into(),
            id: 1,
            args: vec![json!("yes")],
        },
    );
    h.send(
        c,
        F::Ack {
            ns: "/chat".into(),
            id: 99,
            args: vec![],
        },
    ); // unknown: ignored
    h.now += Duration::from_secs(1);
    h.core.handle_timeout(c, h.now);
    h.send(
        c,
        F::Ack {
            ns: "/chat".into(),
            id: 2,
            args: vec![],
        },
    ); // late: ignored
    assert!(!h.closing(c));
    assert_eq!(
        *results.lock().unwrap(),
        [
            Ok(vec![json!("yes")]),
            Err(AckError::Timeout),
            Err(AckError::Timeout)
        ]
    );
    let r = results.clone();
    h.core.emit_with_ack(
        &sid,
        "q",
        vec![],
        Duration::from_secs(1),
        h.now,
        Box::new(move |x| r.lock().unwrap().push(x)),
    );
    h.core.closed(c, "transport close", h.now);
    assert_eq!(results.lock().unwrap()[3], Err(AckError::Disconnected));
}

#[test]
fn resume_replays_exactly_the_missed_reliable_events() {
    let mut h = H::new(Config::default());
    let (a, _, _) = h.chat("ada");
    let (b, bsid, token) = h.chat("bob");
    for c in [a, b] {
        h.event(c, "join", vec![json!("r")], None);
    }
    h.out(a);
    h.out(b);
    h.event(a, "message", vec![json!("r"), json!("1")], None);
    let seq1 = match &h.out(b)[..] {
        [F::Event { seq: Some(s), .. }] => *s,
        other => panic!("{other:?}"),
    };
    h.send(
        b,
        F::Received {
            ns: "/chat".into(),
            seq: seq1,
        },
    );
    h.core.closed(b, "transport close", h.now);
    // While bob is away: two reliable messages and one default-delivery event.
    h.event(a, "message", vec![json!("r"), json!("2")], None);
    h.event(a, "message", vec![json!("r"), json!("3")], None);
    h.core.of("/chat", h.now).to("r").emit("default", vec![]);
    let b2 = h.open();
    h.send(
        b2,
        F::Connect {
            ns: "/chat".into(),
            auth: Some(json!({"name":"bob"})),
            resume: Some(Resume {
                session: token,
                seq: seq1,
            }),
        },
    );
    let got = h.out(b2);
    match &got[0] {
        F::Connected {
            sid,
            recovered: true,
            ..
        } => assert_eq!(sid, &bsid),
        other => panic!("{other:?}"),
    }
    let texts: Vec<_> = got[1..]
        .iter()
        .map(|f| match f {
            F::Event {
                args, seq: Some(_), ..
            } => args[0]["text"].clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, [json!("2"), json!("3")]);
    assert_eq!(h.core.stats().default_lost_while_away, 1);
    assert!(
        h.core.rooms_of(&bsid).contains(&"r".to_string()),
        "rooms restored"
    );
}

#[test]
fn resume_after_the_log_overflowed_is_refused_with_recovered_false() {
    let mut h = H::new(Config {
        log_max_len: 2,
        ..Config::default()
    });
    let (a, _, _) = h.chat("ada");
    let (b, bsid, token) = h.chat("bob");
    for c in [a, b] {
        h.event(c, "join", vec![json!("r")], None);
    }
    h.core.closed(b, "transport close", h.now);
    for i in 0..3 {
        h.event(a, "message", vec![json!("r"), json!(i.to_string())], None);
    }
    let b2 = h.open();
    h.send(
        b2,
        F::Connect {
            ns: "/chat".into(),
            auth: Some(json!({"name":"bob"})),
            resume: Some(Resume {
                session: token,
                seq: 0,
            }),
        },
    );
    match &h.out(b2)[..] {
        [
            F::Connected {
                sid,
                recovered: false,
                ..
            },
        ] => assert_ne!(sid, &bsid),
        other => panic!("{other:?}"),
    }
}

#[test]
fn reliable_client_emits_run_the_handler_once() {
    let mut h = H::new(Config::default());
    let count = Arc::new(Mutex::new(0));
    let n = count.clone();
    h.core
        .namespace("/chat")
        .on("tick", move |_, _| *n.lock().unwrap() += 1);
    let (c, _, token) = h.chat("ada");
    let tick = |seq| F::Event {
        ns: "/chat".into(),
        name: "tick".into(),
        args: vec![],
        ack: None,
        seq: Some(seq),
    };
    h.send(c, tick(1));
    assert_eq!(
        h.out(c),
        [F::Received {
            ns: "/chat".into(),
            seq: 1
        }]
    );
    h.core.closed(c, "transport close", h.now);
    // The client did not see the `received` and retries after resuming.
    let c2 = h.open();
    h.send(
        c2,
        F::Connect {
            ns: "/chat".into(),
            auth: Some(json!({"name":"ada"})),
            resume: Some(Resume {
                session: token,
                seq: 0,
            }),
        },
    );
    h.out(c2);
    h.send(c2, tick(1));
    h.send(c2, tick(2));
    assert_eq!(
        h.out(c2),
        [
            F::Received {
                ns: "/chat".into(),
                seq: 1
            },
            F::Received {
                ns: "/chat".into(),
                seq: 2
            }
        ]
    );
    assert_eq!(*count.lock().unwrap(), 2);
    assert_eq!(h.core.stats().duplicates_ignored, 1);
}

#[test]
fn backpressure_drops_volatile_then_disconnects() {
    let mut h = H::new(Config {
        send_queue: 4,
        ..Config::default()
    });
    let (a, asid, _) = h.chat("ada");
    let disconnects: Arc<Mutex<Vec<String>>> = Arc::default();
    let d = disconnects.clone();
    h.core
        .namespace("/chat")
        .on_disconnect(move |_, reason| d.lock().unwrap().push(reason.into()));
    for _ in 0..3 {
        h.core
            .emit_to(&asid, Delivery::Volatile, "v", vec![], h.now);
    }
    assert_eq!(
        h.core.stats().volatile_dropped,
        1,
        "volatile dropped once the queue is half full"
    );
    for _ in 0..2 {
        h.core.emit_to(&asid, Delivery::Default, "d", vec![], h.now);
    }
    assert!(!h.closing(a));
    h.core.emit_to(&asid, Delivery::Default, "d", vec![], h.now);
    // Issue 18, item 5: not a silent close; the queued frames give way to the reason.
    match &h.out(a)[..] {
        [F::Error { code, message }] => {
            assert_eq!(code, "send_buffer_full");
            assert!(message.contains("faster than it read"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(h.closing(a));
    assert_eq!(*disconnects.lock().unwrap(), ["send buffer full"]);
}

#[test]
fn unhandled_events_are_dropped_and_noted() {
    let mut h = H::new(Config {
        trace: true,
        ..Config::default()
    });
    let (a, _, _) = h.chat("ada");
    h.event(a, "shout", vec![json!(1)], None);
    assert!(h.out(a).is_empty());
    assert!(!h.closing(a));
    assert_eq!(h.core.stats().unhandled, 1);
    assert!(
        matches!(&h.core.take_notes()[..], [Note::Unhandled { event, .. }] if event.name == "shout")
    );
}

#[test]
fn protocol_errors_send_a_code_and_close() {
    let cases: Vec<(F, &str)> = vec![
        (F::event("/chat", "message", vec![]), "not_connected"),
        (
            F::Connect {
                ns: "/nope".into(),
                auth: None,
                resume: None,
            },
            "unknown_namespace",
        ),
        (
            F::Hello {
                version: 1,
                ping_interval_ms: 1,
                ping_timeout_ms: 1,
                max_frame_bytes: 1,
            },
            "unexpected_frame",
        ),
    ];
    for (frame, code) in cases {
        let mut h = H::new(Config::default());
        let c = h.open();
        h.send(c, frame);
        match &h.out(c)[..] {
            [F::Error { code: got, .. }] => assert_eq!(got, code),
            other => panic!("{other:?}"),
        }
        assert!(h.closing(c));
    }
    let mut h = H::new(Config::default());
    let (c, _, _) = h.chat("ada");
    h.event(c, "x", vec![], Some(5));
    h.event(c, "x", vec![], Some(5));
    match &h.out(c)[..] {
        [F::Error { code, .. }] => assert_eq!(code, "bad_ack_id"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn restored_sessions_resume_with_their_rooms() {
    use crate::store::{MemoryStore, Store};
    let mut store = MemoryStore::new();
    // The same seed twice: the restarted core draws bob's sid again for cy and must notice.
    let mut h = H::new(Config {
        seed: 7,
        ..Config::default()
    });
    let (b, bsid, token) = h.chat("bob");
    h.event(b, "join", vec![json!("r")], None);
    h.core.closed(b, "transport close", h.now);
    store.apply(&h.core.take_store_ops()).unwrap();

    let mut h2 = H::new(Config {
        seed: 7,
        ..Config::default()
    });
    h2.core.restore(store.load().unwrap(), h2.now);
    assert!(h2.core.rooms_of(&bsid).contains(&"r".to_string()));
    let b2 = h2.open();
    h2.send(
        b2,
        F::Connect {
            ns: "/chat".into(),
            auth: Some(json!({"name":"bob"})),
            resume: Some(Resume {
                session: token,
                seq: 0,
            }),
        },
    );
    let got = h2.out(b2);
    assert!(
        matches!(
            &got[0],
            F::Connected {
                recovered: true,
                ..
            }
        ),
        "{got:?}"
    );
    let (c, _, _) = h2.chat("cy");
    h2.event(c, "join", vec![json!("r")], None);
    assert_eq!(names(&h2.out(b2)), ["joined"]);
}

// ----- attacks (issue 18) ---------------------------------------------------------------------

fn resume_frame(token: &str, seq: u64) -> F {
    F::Connect {
        ns: "/chat".into(),
        auth: Some(json!({"name": "eve"})),
        resume: Some(Resume {
            session: token.to_string(),
            seq,
        }),
    }
}

/// Reproduces issue 18, item 1: a resume naming a live session with seq u64::MAX deleted the
/// session under its connection, whose next event then panicked the core (`no entry found`).
#[test]
fn a_resume_with_an_impossible_seq_leaves_the_live_session_alone() {
    let mut h = H::new(Config::default());
    let (a, asid, token) = h.chat("ada");
    h.event(a, "join", vec![json!("r")], Some(1));
    h.out(a);
    let b = h.open();
    h.send(b, resume_frame(&token, u64::MAX));
    match &h.out(b)[..] {
        [
            F::Connected {
                sid,
                recovered: false,
                ..
            },
        ] => assert_ne!(sid, &asid),
        other => panic!("{other:?}"),
    }
    // Ada's connection still has its session: a message, its confirmation, a join all work.
    h.event(a, "message", vec![json!("r"), json!("hi")], Some(2));
    let got = h.out(a);
    assert_eq!(names(&got), ["message", "ack"], "{got:?}");
    h.send(
        a,
        F::Received {
            ns: "/chat".into(),
            seq: 2,
        },
    );
    h.event(a, "join", vec![json!("s")], Some(3));
    assert_eq!(names(&h.out(a)), ["joined", "ack"]);
    assert!(!h.closing(a));
    assert!(h.core.rooms_of(&asid).contains(&"s".to_string()));
}

/// The decision for a resume of a live session: the new connection takes it over (as socket.io
/// does), the old one is told with a `disconnect` and keeps its connection.
#[test]
fn a_valid_resume_of_a_live_session_takes_it_over_cleanly() {
    let mut h = H::new(Config::default());
    let (a, asid, token) = h.chat("ada");
    let (c, _, _) = h.chat("cy");
    for conn in [a, c] {
        h.event(conn, "join", vec![json!("r")], None);
    }
    h.out(a);
    h.out(c);
    let b = h.open();
    h.send(b, resume_frame(&token, 0));
    let got = h.out(b);
    assert!(
        matches!(&got[0], F::Connected { sid, recovered: true, .. } if *sid == asid),
        "{got:?}"
    );
    assert_eq!(
        h.out(a),
        [F::Disconnect {
            ns: "/chat".into(),
            reason: Some(TAKEN_OVER.into()),
        }]
    );
    assert!(!h.closing(a), "the old connection stays open");
    // The room now reaches the new connection only.
    h.event(c, "message", vec![json!("r"), json!("x")], None);
    assert_eq!(names(&h.out(b)), ["message"]);
    assert!(h.out(a).is_empty());
    // The old connection's next event is a handled error, not a panic.
    h.event(a, "message", vec![json!("r"), json!("y")], None);
    match &h.out(a)[..] {
        [F::Error { code, .. }] => assert_eq!(code, "not_connected"),
        other => panic!("{other:?}"),
    }
    // And its close does not detach the session from its new connection.
    h.core.closed(a, "transport close", h.now);
    h.event(c, "message", vec![json!("r"), json!("z")], None);
    assert_eq!(names(&h.out(b)), ["message"]);
}

/// A resume that cannot be complete (the log lost events) must not end a live session either.
#[test]
fn an_incomplete_resume_of_a_live_session_leaves_it_alone() {
    let mut h = H::new(Config {
        log_max_len: 2,
        ..Config::default()
    });
    let (a, asid, token) = h.chat("ada");
    h.event(a, "join", vec![json!("r")], None);
    for i in 0..3 {
        h.event(a, "message", vec![json!("r"), json!(i.to_string())], None);
    }
    h.out(a);
    let b = h.open();
    h.send(b, resume_frame(&token, 0));
    assert!(matches!(
        &h.out(b)[..],
        [F::Connected {
            recovered: false,
            ..
        }]
    ));
    h.event(a, "message", vec![json!("r"), json!("still here")], Some(9));
    assert_eq!(names(&h.out(a)), ["message", "ack"]);
    assert!(h.core.rooms_of(&asid).contains(&"r".to_string()));
}

fn panicking_core() -> H {
    let mut h = H::new(Config::default());
    let ns = h.core.namespace("/boom");
    ns.on("boom", |ctx, _| {
        ctx.join("half-done");
        panic!("handler bug");
    });
    ns.on("fine", |ctx, _| {
        ctx.ack(vec![json!("ok")]);
    });
    h.core
        .namespace("/mw")
        .use_middleware(|_| panic!("middleware bug"));
    h.core
        .namespace("/hook")
        .on_connection(|_| panic!("hook bug"));
    h
}

fn connect_to(h: &mut H, ns: &str) -> ConnId {
    let c = h.open();
    h.send(
        c,
        F::Connect {
            ns: ns.into(),
            auth: None,
            resume: None,
        },
    );
    c
}

fn assert_internal_error_and_close(h: &mut H, conn: ConnId) {
    let got = h.out(conn);
    match got.last() {
        Some(F::Error { code, message }) => {
            assert_eq!(code, "internal_error");
            assert!(message.contains("server bug"), "{message}");
        }
        other => panic!("{other:?} in {got:?}"),
    }
    assert!(h.closing(conn));
}

/// Issue 18, item 2: a panicking handler, middleware or hook closes only the connection whose
/// frame caused it, with an error frame; the core keeps serving everyone else.
#[test]
fn a_panic_in_application_code_closes_only_that_connection() {
    let mut h = panicking_core();
    let (bystander, _, _) = h.chat("bob");
    h.event(bystander, "join", vec![json!("r")], None);
    h.out(bystander);

    let c = connect_to(&mut h, "/boom");
    assert!(matches!(&h.out(c)[..], [F::Connected { .. }]));
    h.send(
        c,
        F::Event {
            ns: "/boom".into(),
            name: "boom".into(),
            args: vec![json!(1)],
            ack: Some(1),
            seq: None,
        },
    );
    assert_internal_error_and_close(&mut h, c);
    h.core.closed(c, "transport close", h.now);

    for ns in ["/mw", "/hook"] {
        let c = connect_to(&mut h, ns);
        assert_internal_error_and_close(&mut h, c);
        h.core.closed(c, "transport close", h.now);
    }

    // Everyone else is served, and the namespace that panicked still works for a new client.
    h.event(bystander, "message", vec![json!("r"), json!("hi")], Some(1));
    assert_eq!(names(&h.out(bystander)), ["message", "ack"]);
    let d = connect_to(&mut h, "/boom");
    h.out(d);
    h.send(
        d,
        F::Event {
            ns: "/boom".into(),
            name: "fine".into(),
            args: vec![],
            ack: Some(1),
            seq: None,
        },
    );
    assert_eq!(names(&h.out(d)), ["ack"]);
    assert_eq!(h.core.connection_count(), 2);
}

fn join_all(h: &mut H, conns: &[ConnId], room: &str) {
    for &c in conns {
        h.event(c, "join", vec![json!(room)], None);
    }
    for &c in conns {
        h.out(c);
    }
}

fn ack_args(frames: &[F]) -> serde_json::Value {
    frames
        .iter()
        .find_map(|f| match f {
            F::Ack { args, .. } => Some(args[0].clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ack in {frames:?}"))
}

/// Issue 18, item 3: a message just under the limit grows past it once wrapped with the name
/// and room. It is refused to its sender with the reason, and nothing is sent or logged, so no
/// client can be made to refuse (and resume into) it again and again.
#[test]
fn a_message_whose_broadcast_would_be_too_long_is_refused_to_its_sender() {
    let mut h = H::new(Config {
        max_frame_bytes: 300,
        ..Config::default()
    });
    let (a, _, _) = h.chat("ada");
    let (b, _, btoken) = h.chat("bob");
    join_all(&mut h, &[a, b], "r");
    let text = "x".repeat(230);
    h.event(a, "message", vec![json!("r"), json!(text)], Some(1));
    let reply = ack_args(&h.out(a));
    assert_eq!(reply["ok"], false);
    let error = reply["error"].as_str().unwrap();
    assert!(error.contains("over the limit of 300"), "{error}");
    assert!(h.out(b).is_empty(), "nothing reached bob");
    assert_eq!(h.core.stats().oversize_refused, 1);
    // Bob's session has nothing to replay: a resume is complete, and he is served.
    h.core.closed(b, "transport close", h.now);
    let b2 = h.open();
    h.send(b2, resume_frame(&btoken, 1));
    assert!(matches!(
        &h.out(b2)[..],
        [F::Connected {
            recovered: true,
            ..
        }]
    ));
    h.event(a, "message", vec![json!("r"), json!("short")], Some(2));
    assert_eq!(names(&h.out(b2)), ["message"]);
}

/// Issue 18, item 3, a sender that asked for no ack: before, the refusal was only logged and
/// the sender never heard that its message went nowhere. Now it gets a `refused` frame naming
/// the event, with the reason, and its connection stays open.
#[test]
fn a_message_refused_without_an_ack_gets_a_refused_frame_and_the_connection_stays_open() {
    let mut h = H::new(Config {
        max_frame_bytes: 300,
        ..Config::default()
    });
    let (a, _, _) = h.chat("ada");
    let (b, _, _) = h.chat("bob");
    join_all(&mut h, &[a, b], "r");
    h.event(a, "message", vec![json!("r"), json!("x".repeat(230))], None);
    match &h.out(a)[..] {
        [
            F::Refused {
                ns,
                name,
                code,
                message,
            },
        ] => {
            assert_eq!((ns.as_str(), name.as_str()), ("/chat", "message"));
            assert_eq!(code, "too_large");
            assert!(message.contains("over the limit of 300"), "{message}");
            assert!(message.starts_with("your \"message\" event"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!h.closing(a), "a refusal does not close the connection");
    assert!(h.out(b).is_empty(), "nothing reached bob");
    h.event(a, "message", vec![json!("r"), json!("short")], None);
    assert_eq!(names(&h.out(a)), ["message"]);
    assert_eq!(names(&h.out(b)), ["message"]);
}

/// A reliable emit from the client (with `seq`) that is refused: the `refused` frame comes first,
/// then the `received` that confirms the event (it was handled, so a retry would not help).
#[test]
fn a_refused_reliable_event_is_told_then_confirmed() {
    let mut h = H::new(Config {
        max_frame_bytes: 300,
        ..Config::default()
    });
    let (a, _, _) = h.chat("ada");
    join_all(&mut h, &[a], "r");
    h.send(
        a,
        F::Event {
            ns: "/chat".into(),
            name: "message".into(),
            args: vec![json!("r"), json!("x".repeat(230))],
            ack: None,
            seq: Some(1),
        },
    );
    match &h.out(a)[..] {
        [F::Refused { name, .. }, F::Received { seq: 1, .. }] => assert_eq!(name, "message"),
        other => panic!("{other:?}"),
    }
}

/// The same refusal with an ack asked for: the handler's ack (`ok:false` and the reason) is the
/// answer, and no `refused` frame repeats it.
#[test]
fn a_refusal_the_handler_answers_in_its_ack_is_not_repeated() {
    let mut h = H::new(Config {
        max_frame_bytes: 300,
        ..Config::default()
    });
    let (a, _, _) = h.chat("ada");
    join_all(&mut h, &[a], "r");
    h.event(
        a,
        "message",
        vec![json!("r"), json!("x".repeat(230))],
        Some(2),
    );
    let out = h.out(a);
    assert_eq!(names(&out), ["ack"], "{out:?}");
    assert_eq!(ack_args(&out)["ok"], false);
}

/// A handler that ignores its emit's refusal and answers nothing: the sender is still told.
/// One that panics after a refusal gets `internal_error` only (its connection is closing).
#[test]
fn a_refusal_is_told_for_any_handler_but_not_after_a_panic() {
    let mut h = H::new(Config {
        max_frame_bytes: 300,
        ..Config::default()
    });
    let ns = h.core.namespace("/chat");
    ns.on("shout", |ctx, ev| {
        ctx.namespace()
            .emit("shouted", vec![json!("y".repeat(400))]);
        if ev.args.first() == Some(&json!("and panic")) {
            panic!("after the refusal");
        }
    });
    let (a, _, _) = h.chat("ada");
    h.event(a, "shout", vec![], Some(1));
    match &h.out(a)[..] {
        [F::Refused { name, code, .. }] => {
            assert_eq!((&name[..], &code[..]), ("shout", "too_large"))
        }
        other => panic!("{other:?}"),
    }
    h.event(a, "shout", vec![json!("and panic")], None);
    match &h.out(a)[..] {
        [F::Error { code, .. }] => assert_eq!(code, "internal_error"),
        other => panic!("{other:?}"),
    }
}

/// Issue 18, item 3, an ack reply too long for the client: before, it was not sent and the
/// sender waited for its timeout. Now the sender gets an ack with `ok:false` and the reason.
#[test]
fn an_ack_reply_too_long_is_answered_ok_false_with_the_reason() {
    let mut h = H::new(Config {
        max_frame_bytes: 300,
        ..Config::default()
    });
    h.core.namespace("/chat").on("fetch", |ctx, _| {
        ctx.ack(vec![json!("y".repeat(400))]);
    });
    let (a, _, _) = h.chat("ada");
    h.event(a, "fetch", vec![], Some(1));
    let out = h.out(a);
    let F::Ack { id: 1, .. } = &out[0] else {
        panic!("{out:?}")
    };
    let reply = ack_args(&out);
    assert_eq!(reply["ok"], false);
    assert_eq!(reply["code"], "too_large");
    let error = reply["error"].as_str().unwrap();
    assert!(error.contains("over the limit of 300"), "{error}");
    assert_eq!(out.len(), 1, "no refused frame besides the ack: {out:?}");
    assert!(!h.closing(a));
}

/// A stored event too long for today's limit (kept by an older server) is dropped on restore
/// and counted as lost, so a resume says `recovered: false` once instead of failing forever.
#[test]
fn a_stored_event_over_the_limit_never_makes_a_session_unrecoverable() {
    let mut h = H::new(Config {
        max_frame_bytes: 300,
        ..Config::default()
    });
    let rec = SessionRecord {
        token: "t0".into(),
        sid: "s0".into(),
        ns: "/chat".into(),
        rooms: ["s0".to_string()].into_iter().collect(),
        data: serde_json::Map::new(),
        next_seq: 2,
        confirmed: 0,
        lost_through: 0,
        client_seq: 0,
    };
    let log = vec![
        LogRecord {
            seq: 1,
            name: "message".into(),
            args: vec![json!("y".repeat(400))],
        },
        LogRecord {
            seq: 2,
            name: "message".into(),
            args: vec![json!("ok")],
        },
    ];
    h.core.restore(vec![(rec, log)], h.now);
    let s = h.core.socket_ref("s0").unwrap();
    assert_eq!(
        s.rec.lost_through, 1,
        "seq 1 is lost: a resume from 0 is not complete"
    );
    assert_eq!(s.log.len(), 1);
    let c2 = h.open();
    h.send(c2, resume_frame("t0", 1));
    let got = h.out(c2);
    assert!(
        matches!(
            &got[..],
            [
                F::Connected {
                    recovered: true,
                    ..
                },
                F::Event { seq: Some(2), .. }
            ]
        ),
        "{got:?}"
    );
}

/// Issue 18, item 4: one sender of large messages to a room of absent members. Each log stays
/// within its byte bound and all logs together within the total; a member whose log lost
/// events resumes with `recovered: false`.
#[test]
fn reliable_logs_are_bounded_in_bytes_per_session_and_in_total() {
    let mut h = H::new(Config {
        max_frame_bytes: 1000,
        log_max_bytes: 2500,
        total_log_bytes: 6000,
        ..Config::default()
    });
    let (a, _, _) = h.chat("ada");
    let members: Vec<_> = (0..4).map(|i| h.chat(&format!("m{i}"))).collect();
    let conns: Vec<ConnId> = members.iter().map(|m| m.0).collect();
    join_all(&mut h, &[&[a][..], &conns[..]].concat(), "r");
    for &c in &conns {
        h.core.closed(c, "transport close", h.now);
    }
    let text = "z".repeat(800);
    for i in 0..10 {
        h.event(a, "message", vec![json!("r"), json!(text)], Some(i + 1));
        h.out(a);
        let (_, logged) = h.core.held_bytes();
        assert!(logged <= 6000, "total bound: {logged}");
    }
    for (_, sid, _) in &members {
        let s = h.core.socket_ref(sid).unwrap();
        assert!(s.log_bytes <= 2500, "per-session bound: {}", s.log_bytes);
    }
    assert!(h.core.stats().log_evicted > 0);
    let (_, _, token) = &members[0];
    let back = h.open();
    h.send(back, resume_frame(token, 0));
    assert!(matches!(
        &h.out(back)[0],
        F::Connected {
            recovered: false,
            ..
        }
    ));
}

/// Send queues are bounded in bytes per connection, and in total: the connection holding the
/// most is the one closed, with the reason.
#[test]
fn send_queues_are_bounded_in_bytes_per_connection_and_in_total() {
    let mut h = H::new(Config {
        max_frame_bytes: 1000,
        send_queue_bytes: 3000,
        total_queue_bytes: 5000,
        ..Config::default()
    });
    let (a, asid, _) = h.chat("ada");
    let (b, bsid, _) = h.chat("bob");
    let big = vec![json!("q".repeat(900))];
    for _ in 0..3 {
        h.core
            .emit_to(&asid, Delivery::Default, "e", big.clone(), h.now);
    }
    // 3 x ~950 bytes fit; the 4th would pass 3000 bytes.
    assert!(h.core.held_bytes().0 <= 3000);
    h.core
        .emit_to(&asid, Delivery::Default, "e", big.clone(), h.now);
    assert!(matches!(&h.out(a)[..], [F::Error { code, .. }] if code == "send_buffer_full"));
    assert!(h.closing(a));
    h.core.closed(a, "send buffer full", h.now);
    // Total: bob alone can hold 3000, but a third connection pushes the sum past 5000.
    let (c, csid, _) = h.chat("cy");
    for _ in 0..3 {
        h.core
            .emit_to(&bsid, Delivery::Default, "e", big.clone(), h.now);
    }
    for _ in 0..3 {
        h.core
            .emit_to(&csid, Delivery::Default, "e", big.clone(), h.now);
    }
    assert!(h.core.held_bytes().0 <= 5000 + 1000);
    let bob = h.out(b);
    let cy = h.out(c);
    let condemned = [&bob, &cy]
        .iter()
        .filter(|f| matches!(f.last(), Some(F::Error { code, .. }) if code == "send_buffer_full"))
        .count();
    assert_eq!(condemned, 1, "{bob:?} {cy:?}");
}

/// Issue 18, item 5: rooms per socket are limited, and a join past the limit is refused with a
/// reason instead of growing the room list (each join writes the list to the store).
#[test]
fn joins_past_the_room_limit_are_refused() {
    let mut h = H::new(Config {
        max_rooms_per_socket: 3,
        ..Config::default()
    });
    let (a, asid, _) = h.chat("ada");
    for (id, room) in [(1, "r1"), (2, "r2")] {
        h.event(a, "join", vec![json!(room)], Some(id));
        assert_eq!(ack_args(&h.out(a))["ok"], true);
    }
    h.event(a, "join", vec![json!("r3")], Some(9));
    let reply = ack_args(&h.out(a));
    assert_eq!(reply["ok"], false);
    assert!(
        reply["error"].as_str().unwrap().contains("leave one first"),
        "{reply}"
    );
    assert_eq!(h.core.rooms_of(&asid).len(), 3);
    // Joining a room it is in already is no new room.
    h.event(a, "join", vec![json!("r1")], Some(10));
    assert_eq!(ack_args(&h.out(a))["ok"], true);
    // A room name longer than 64 bytes is refused too.
    h.event(a, "join", vec![json!("n".repeat(65))], Some(11));
    assert_eq!(ack_args(&h.out(a))["ok"], false);
}

/// The byte gauges come back to zero when everything is written and every session is gone:
/// the accounting neither leaks nor underflows.
#[test]
fn byte_accounting_returns_to_zero() {
    let mut h = H::new(Config::default());
    let (a, _, _) = h.chat("ada");
    let (b, _, _) = h.chat("bob");
    join_all(&mut h, &[a, b], "r");
    for i in 0..5 {
        h.event(a, "message", vec![json!("r"), json!(i.to_string())], None);
    }
    assert!(h.core.held_bytes().0 > 0 && h.core.held_bytes().1 > 0);
    h.out(a);
    h.out(b);
    h.send(b, received(1000));
    h.send(a, received(1000));
    assert_eq!(h.core.held_bytes(), (0, 0));
    for c in [a, b] {
        h.send(
            c,
            F::Disconnect {
                ns: "/chat".into(),
                reason: None,
            },
        );
    }
    h.core.closed(a, "transport close", h.now);
    h.core.closed(b, "transport close", h.now);
    assert_eq!(h.core.held_bytes(), (0, 0));
}

fn received(seq: u64) -> F {
    F::Received {
        ns: "/chat".into(),
        seq,
    }
}
