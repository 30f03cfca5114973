//! The client core driven frame by frame on a hand-moved clock: no sockets, no tokio.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::frame::Frame as F;

struct H {
    core: ClientCore,
    now: Instant,
}

impl H {
    fn new() -> Self {
        H::with(CoreOptions {
            offline_buffer: 4,
            resume: true,
        })
    }

    fn with(opts: CoreOptions) -> Self {
        H {
            core: ClientCore::new(opts),
            now: Instant::now(),
        }
    }

    fn out(&mut self) -> Vec<F> {
        std::iter::from_fn(|| self.core.poll_transmit()).collect()
    }

    fn events(&mut self) -> Vec<ClientEvent> {
        std::iter::from_fn(|| self.core.poll_event()).collect()
    }

    fn recv(&mut self, f: F) {
        self.core.handle_frame(f, self.now).unwrap();
    }

    fn connected(&mut self, ns: &str, session: &str, recovered: bool) {
        self.recv(F::Connected {
            ns: ns.into(),
            sid: "s1".into(),
            session: session.into(),
            recovered,
        });
    }

    /// Link up on namespace /chat, connected as session `tok`; the connect frame is returned.
    fn online(&mut self) -> F {
        self.core.open("/chat", json!({"name": "ada"}));
        self.core.link_up(self.now);
        let connect = self.out().remove(0);
        self.connected("/chat", "tok", false);
        self.events();
        connect
    }

    fn emit(&mut self, name: &str, delivery: Delivery, ack: bool) -> Option<AckToken> {
        self.core
            .emit("/chat", name, vec![json!(name)], delivery, ack)
            .unwrap()
    }
}

fn ev(name: &str, seq: Option<u64>) -> F {
    F::Event {
        ns: "/chat".into(),
        name: name.into(),
        args: vec![],
        ack: None,
        seq,
    }
}

fn received(seq: u64) -> F {
    F::Received {
        ns: "/chat".into(),
        seq,
    }
}

/// (name, seq) of each event frame.
fn sent(frames: &[F]) -> Vec<(String, Option<u64>)> {
    frames
        .iter()
        .map(|f| match f {
            F::Event { name, seq, .. } => (name.clone(), *seq),
            other => (other.kind().to_string(), None),
        })
        .collect()
}

#[test]
fn link_up_connects_every_namespace_with_its_auth() {
    let mut h = H::new();
    h.core.open("/chat", json!({"name": "ada"}));
    h.core.open("/", serde_json::Value::Null);
    assert!(h.out().is_empty(), "nothing goes out without a connection");
    h.core.link_up(h.now);
    assert_eq!(
        h.out(),
        [
            F::Connect {
                ns: "/chat".into(),
                auth: Some(json!({"name": "ada"})),
                resume: None,
            },
            F::Connect {
                ns: "/".into(),
                auth: None,
                resume: None,
            },
        ]
    );
    h.connected("/chat", "tok", false);
    assert_eq!(
        h.events(),
        [ClientEvent::Connected {
            ns: "/chat".into(),
            sid: "s1".into(),
            recovered: false,
        }]
    );
}

#[test]
fn offline_emits_wait_in_order_and_volatile_ones_are_dropped() {
    let mut h = H::new();
    h.core.open("/chat", json!({"name": "ada"}));
    h.emit("one", Delivery::Default, false);
    h.emit("gone", Delivery::Volatile, false);
    h.emit("two", Delivery::Default, false);
    h.core.link_up(h.now);
    h.out();
    h.connected("/chat", "tok", false);
    assert_eq!(sent(&h.out()), [("one".into(), None), ("two".into(), None)]);
    // The buffer has a bound, and says so.
    let mut h = H::new();
    h.core.open("/chat", json!({}));
    for _ in 0..4 {
        h.emit("x", Delivery::Default, false);
    }
    let err = h
        .core
        .emit("/chat", "x", vec![], Delivery::Default, false)
        .unwrap_err();
    assert!(matches!(err, EventsError::OfflineBufferFull(4)), "{err}");
}

#[test]
fn reliable_emits_are_numbered_confirmed_and_resent_after_a_resume() {
    let mut h = H::new();
    h.online();
    for name in ["a", "b", "c"] {
        h.emit(name, Delivery::Reliable, false);
    }
    assert_eq!(
        sent(&h.out()),
        [
            ("a".into(), Some(1)),
            ("b".into(), Some(2)),
            ("c".into(), Some(3))
        ]
    );
    h.recv(received(1));
    // An event from the server, so that the resume carries its seq.
    h.recv(ev("m", Some(7)));
    h.out();
    h.core.link_down("transport close");
    assert_eq!(
        h.events()[1..],
        [ClientEvent::LinkDown {
            reason: "transport close".into()
        }]
    );
    h.core.link_up(h.now);
    assert_eq!(
        h.out(),
        [F::Connect {
            ns: "/chat".into(),
            auth: Some(json!({"name": "ada"})),
            resume: Some(Resume {
                session: "tok".into(),
                seq: 7,
            }),
        }]
    );
    h.connected("/chat", "tok", true);
    // Only the unconfirmed ones, with their numbers: the server drops what it already has.
    assert_eq!(
        sent(&h.out()),
        [("b".into(), Some(2)), ("c".into(), Some(3))]
    );
}

#[test]
fn a_new_session_renumbers_unconfirmed_emits_from_one() {
    let mut h = H::new();
    h.online();
    for name in ["a", "b", "c"] {
        h.emit(name, Delivery::Reliable, false);
    }
    h.recv(received(2));
    h.recv(ev("m", Some(5)));
    h.out();
    h.core.link_down("transport close");
    h.core.link_up(h.now);
    h.out();
    h.connected("/chat", "tok2", false);
    h.events();
    assert_eq!(sent(&h.out()), [("c".into(), Some(1))]);
    h.emit("d", Delivery::Reliable, false);
    assert_eq!(sent(&h.out()), [("d".into(), Some(2))]);
    // Its own numbering restarted too: the new session's seq 1 is delivered, not a duplicate.
    h.recv(ev("n", Some(1)));
    assert!(matches!(
        &h.events()[..],
        [ClientEvent::Event { seq: Some(1), .. }]
    ));
}

#[test]
fn replayed_events_are_confirmed_again_but_delivered_once() {
    let mut h = H::new();
    h.online();
    h.recv(ev("m", Some(1)));
    h.recv(ev("m", Some(2)));
    h.recv(ev("m", Some(1)));
    h.recv(ev("m", Some(2)));
    h.recv(ev("m", Some(3)));
    h.recv(ev("plain", None));
    let delivered: Vec<_> = h
        .events()
        .into_iter()
        .map(|e| match e {
            ClientEvent::Event { name, seq, .. } => (name, seq),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        delivered,
        [
            ("m".into(), Some(1)),
            ("m".into(), Some(2)),
            ("m".into(), Some(3)),
            ("plain".into(), None)
        ]
    );
    assert_eq!(
        h.out(),
        [
            received(1),
            received(2),
            received(2),
            received(2),
            received(3)
        ]
    );
}

#[test]
fn acks_resolve_with_the_reply_or_fail_when_the_link_goes() {
    let mut h = H::new();
    h.online();
    let t1 = h.emit("q1", Delivery::Default, true).unwrap();
    let t2 = h.emit("q2", Delivery::Default, true).unwrap();
    let ids: Vec<_> = h
        .out()
        .iter()
        .map(|f| match f {
            F::Event { ack, .. } => *ack,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, [Some(1), Some(2)]);
    h.recv(F::Ack {
        ns: "/chat".into(),
        id: 1,
        args: vec![json!("yes")],
    });
    // A late or unknown ack is ignored.
    h.recv(F::Ack {
        ns: "/chat".into(),
        id: 99,
        args: vec![],
    });
    assert_eq!(
        h.events(),
        [ClientEvent::AckResult {
            token: t1,
            result: Ok(vec![json!("yes")]),
        }]
    );
    h.core.link_down("transport close");
    assert!(h.events().contains(&ClientEvent::AckResult {
        token: t2,
        result: Err(AckLost::Disconnected),
    }));
    // Ack ids are per connection: they restart at 1.
    h.core.link_up(h.now);
    h.out();
    h.connected("/chat", "tok", true);
    h.emit("q3", Delivery::Default, true);
    assert!(matches!(&h.out()[..], [F::Event { ack: Some(1), .. }]));
}

#[test]
fn the_server_asks_for_an_ack_and_gets_one() {
    let mut h = H::new();
    h.online();
    h.recv(F::Event {
        ns: "/chat".into(),
        name: "q".into(),
        args: vec![],
        ack: Some(4),
        seq: None,
    });
    assert!(matches!(
        &h.events()[..],
        [ClientEvent::Event { ack: Some(4), .. }]
    ));
    h.core.ack("/chat", 4, vec![json!(1)]);
    assert_eq!(
        h.out(),
        [F::Ack {
            ns: "/chat".into(),
            id: 4,
            args: vec![json!(1)],
        }]
    );
}

#[test]
fn heartbeat_pongs_and_silence_ends_the_link() {
    let mut h = H::new();
    h.online();
    assert_eq!(h.core.poll_timeout(), None, "no limit before hello");
    h.recv(F::Hello {
        version: 1,
        ping_interval_ms: 100,
        ping_timeout_ms: 50,
        max_frame_bytes: 1024,
    });
    assert_eq!(
        h.core.poll_timeout(),
        Some(h.now + Duration::from_millis(150))
    );
    h.recv(F::Ping);
    assert_eq!(h.out(), [F::Pong]);
    assert_eq!(
        h.core.handle_timeout(h.now + Duration::from_millis(149)),
        Ok(())
    );
    assert_eq!(
        h.core.handle_timeout(h.now + Duration::from_millis(150)),
        Err("ping timeout".into())
    );
    // Any frame restarts the clock.
    h.now += Duration::from_millis(140);
    h.recv(F::Pong);
    assert_eq!(
        h.core.poll_timeout(),
        Some(h.now + Duration::from_millis(150))
    );
}

#[test]
fn a_server_error_ends_the_link_and_is_reported() {
    let mut h = H::new();
    h.online();
    let r = h.core.handle_frame(
        F::Error {
            code: "bad_ack_id".into(),
            message: "no".into(),
        },
        h.now,
    );
    assert_eq!(r, Err("server error bad_ack_id: no".into()));
    assert_eq!(
        h.events(),
        [ClientEvent::ServerError {
            code: "bad_ack_id".into(),
            message: "no".into(),
        }]
    );
}

#[test]
fn a_refusal_and_a_server_disconnect_reach_the_application() {
    let mut h = H::new();
    h.online();
    h.recv(F::ConnectError {
        ns: "/x".into(),
        message: "no name".into(),
    });
    let t = h.emit("q", Delivery::Default, true).unwrap();
    h.out();
    h.recv(F::Disconnect {
        ns: "/chat".into(),
        reason: Some("session resumed by another connection".into()),
    });
    assert_eq!(
        h.events(),
        [
            ClientEvent::ConnectError {
                ns: "/x".into(),
                message: "no name".into(),
            },
            ClientEvent::AckResult {
                token: t,
                result: Err(AckLost::Disconnected),
            },
            ClientEvent::NsDisconnected {
                ns: "/chat".into(),
                reason: "session resumed by another connection".into(),
            },
        ]
    );
    // The session is over: the next connect does not try to resume it.
    h.core.link_down("transport close");
    h.core.link_up(h.now);
    assert!(matches!(&h.out()[..], [F::Connect { resume: None, .. }]));
}

/// A `refused` frame is news for the application, not a failure: the link, the namespace and
/// the acks waiting in it all carry on.
#[test]
fn a_refused_event_is_reported_and_the_link_stays_up() {
    let mut h = H::new();
    h.online();
    let t = h.emit("q", Delivery::Default, true).unwrap();
    h.out();
    let r = h.core.handle_frame(
        F::Refused {
            ns: "/chat".into(),
            name: "message".into(),
            code: "too_large".into(),
            message: "too long once wrapped".into(),
        },
        h.now,
    );
    assert_eq!(r, Ok(()), "a refusal does not end the link");
    assert_eq!(
        h.events(),
        [ClientEvent::Refused {
            ns: "/chat".into(),
            name: "message".into(),
            code: "too_large".into(),
            message: "too long once wrapped".into(),
        }]
    );
    // Still connected: an emit goes out at once, and the earlier ack still resolves.
    h.emit("after", Delivery::Default, false);
    assert_eq!(sent(&h.out()), [("after".to_string(), None)]);
    h.recv(F::Ack {
        ns: "/chat".into(),
        id: 1,
        args: vec![json!("ok")],
    });
    assert_eq!(
        h.events(),
        [ClientEvent::AckResult {
            token: t,
            result: Ok(vec![json!("ok")]),
        }]
    );
}

#[test]
fn without_resume_every_connection_is_a_new_session() {
    let mut h = H::with(CoreOptions {
        offline_buffer: 4,
        resume: false,
    });
    h.online();
    h.recv(ev("m", Some(3)));
    h.core.link_down("transport close");
    h.core.link_up(h.now);
    assert!(matches!(&h.out()[..], [F::Connect { resume: None, .. }]));
}

#[test]
fn close_leaves_connected_namespaces_and_leave_ends_one() {
    let mut h = H::new();
    h.online();
    h.core.open("/other", serde_json::Value::Null);
    assert!(matches!(&h.out()[..], [F::Connect { .. }]));
    h.core.close();
    assert_eq!(
        h.out(),
        [F::Disconnect {
            ns: "/chat".into(),
            reason: None,
        }]
    );
    h.core.leave("/other");
    assert!(matches!(&h.out()[..], [F::Disconnect { .. }]));
    let err = h
        .core
        .emit("/other", "x", vec![], Delivery::Default, false)
        .unwrap_err();
    assert!(matches!(err, EventsError::ClientClosed));
}

/// Issue 18, item 3 from the client's side: an emit longer than the server's announced limit
/// is refused at once. Sent, the server would close the connection, and a reliable one would be
/// retried (and refused) after every reconnect, forever.
#[test]
fn an_emit_over_the_servers_limit_is_refused_before_it_is_sent() {
    let mut h = H::new();
    h.online();
    h.recv(F::Hello {
        version: 1,
        ping_interval_ms: 100,
        ping_timeout_ms: 50,
        max_frame_bytes: 200,
    });
    let big = vec![json!("w".repeat(200))];
    for delivery in [Delivery::Default, Delivery::Reliable] {
        let err = h
            .core
            .emit("/chat", "m", big.clone(), delivery, false)
            .unwrap_err();
        assert!(
            matches!(err, EventsError::TooLarge { max: 200, .. }),
            "{err}"
        );
    }
    assert!(h.out().is_empty());
    h.emit("small", Delivery::Reliable, false);
    assert_eq!(sent(&h.out()), [("small".into(), Some(1))]);
}
