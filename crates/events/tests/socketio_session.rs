//! The Engine.IO session and the HTTP request checks, driven with packets in, packets out and a
//! hand-moved clock, against the Engine.IO v4 specification and socket.io's server behaviour.

use std::time::{Duration, Instant};

use netlab_events::socketio::engineio::Data;
use netlab_events::socketio::session::{
    Config, Poll, RequestError, Route, Session, SessionError, Transport, check_request,
};

const MS: Duration = Duration::from_millis(1);

fn config() -> Config {
    Config {
        ping_interval: 300 * MS,
        ping_timeout: 200 * MS,
        max_payload: 1000,
    }
}

fn polling(now: Instant) -> Session {
    let mut s = Session::new("abc".into(), Transport::Polling, config(), now);
    s.begin_poll().unwrap();
    assert_eq!(
        s.take_polling(),
        Poll::Payload(
            r#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000}"#
                .into()
        )
    );
    s.end_poll();
    s
}

fn body(p: &Poll) -> &str {
    match p {
        Poll::Payload(s) => s,
        Poll::Wait => "<wait>",
    }
}

fn text(s: &str) -> Data {
    Data::Text(s.into())
}

#[test]
fn a_websocket_session_opens_with_no_upgrades() {
    let now = Instant::now();
    let mut s = Session::new("w".into(), Transport::WebSocket, config(), now);
    assert_eq!(
        s.take_ws(),
        vec![text(
            r#"0{"sid":"w","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000}"#
        )]
    );
    s.send(text("2[\"x\"]"));
    s.send(Data::Binary(vec![1]));
    assert_eq!(s.take_ws(), vec![text("42[\"x\"]"), Data::Binary(vec![1])]);
}

#[test]
fn a_poll_waits_until_there_is_something_and_takes_everything() {
    let now = Instant::now();
    let mut s = polling(now);
    s.begin_poll().unwrap();
    assert_eq!(s.take_polling(), Poll::Wait);
    s.send(text("2[\"a\"]"));
    s.send(Data::Binary(vec![1, 2, 3, 4]));
    assert_eq!(body(&s.take_polling()), "42[\"a\"]\x1ebAQIDBA==");
    s.end_poll();
}

#[test]
fn a_second_poll_at_the_same_time_closes_the_session() {
    let now = Instant::now();
    let mut s = polling(now);
    s.begin_poll().unwrap();
    assert_eq!(s.begin_poll(), Err(SessionError::Overlap));
    assert_eq!(s.closed(), Some("transport error"));
}

#[test]
fn posted_messages_come_out_in_order() {
    let now = Instant::now();
    let mut s = polling(now);
    s.receive_payload(b"4hello\x1ebAQIDBA==\x1e6", now).unwrap();
    assert_eq!(
        s.take_messages(),
        vec![text("hello"), Data::Binary(vec![1, 2, 3, 4])]
    );
}

#[test]
fn the_server_pings_every_interval_and_a_pong_resets_the_clock() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert_eq!(s.next_deadline(), Some(t0 + 300 * MS));
    s.handle_timeout(t0 + 299 * MS);
    s.begin_poll().unwrap();
    assert_eq!(s.take_polling(), Poll::Wait);
    s.handle_timeout(t0 + 300 * MS);
    assert_eq!(body(&s.take_polling()), "2");
    s.end_poll();
    // Now the pong is due within pingTimeout.
    assert_eq!(s.next_deadline(), Some(t0 + 500 * MS));
    s.receive_payload(b"3", t0 + 350 * MS).unwrap();
    assert_eq!(s.next_deadline(), Some(t0 + 650 * MS));
    s.handle_timeout(t0 + 600 * MS);
    assert_eq!(s.closed(), None);
}

#[test]
fn no_pong_within_the_timeout_closes_the_session() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.handle_timeout(t0 + 300 * MS);
    s.handle_timeout(t0 + 499 * MS);
    assert_eq!(s.closed(), None);
    s.handle_timeout(t0 + 500 * MS);
    assert_eq!(s.closed(), Some("ping timeout"));
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn the_upgrade_probe_noop_and_switch() {
    let now = Instant::now();
    let mut s = polling(now);
    s.send(text("2[\"before\"]"));
    // The client opens a WebSocket with the sid and probes it.
    s.receive_ws(text("2probe"), now).unwrap();
    assert_eq!(s.take_ws(), vec![text("3probe")]);
    // The pending poll carries what was queued, then a noop so the client can pause polling.
    s.begin_poll().unwrap();
    assert_eq!(body(&s.take_polling()), "42[\"before\"]");
    s.end_poll();
    s.begin_poll().unwrap();
    assert_eq!(body(&s.take_polling()), "6");
    s.end_poll();
    s.send(text("2[\"during\"]"));
    s.receive_ws(text("5"), now).unwrap();
    assert_eq!(s.transport(), Transport::WebSocket);
    // Nothing queued meanwhile is lost: it goes over the WebSocket now.
    assert_eq!(s.take_ws(), vec![text("42[\"during\"]")]);
    s.receive_ws(text("4after"), now).unwrap();
    assert_eq!(s.take_messages(), vec![text("after")]);
}

#[test]
fn a_probe_that_goes_away_leaves_the_session_polling() {
    let now = Instant::now();
    let mut s = polling(now);
    s.receive_ws(text("2probe"), now).unwrap();
    s.abort_upgrade();
    s.begin_poll().unwrap();
    assert_eq!(s.take_polling(), Poll::Wait);
    assert_eq!(s.transport(), Transport::Polling);
    // A new probe may try again.
    s.receive_ws(text("2probe"), now).unwrap();
    assert_eq!(s.take_ws(), vec![text("3probe")]);
}

#[test]
fn an_upgrade_out_of_order_closes_the_session() {
    let now = Instant::now();
    let mut s = polling(now);
    assert_eq!(
        s.receive_ws(text("5"), now),
        Err(SessionError::Unexpected("upgrade"))
    );
    assert_eq!(s.closed(), Some("parse error"));

    let mut s = polling(now);
    assert_eq!(
        s.receive_ws(text("2"), now),
        Err(SessionError::Unexpected("ping"))
    );
    let mut s = polling(now);
    assert_eq!(
        s.receive_ws(text("4hi"), now),
        Err(SessionError::Unexpected("message"))
    );
}

#[test]
fn a_client_ping_is_the_wrong_heartbeat_direction() {
    let now = Instant::now();
    let mut s = polling(now);
    assert_eq!(
        s.receive_payload(b"2", now),
        Err(SessionError::HeartbeatDirection)
    );
    assert_eq!(s.closed(), Some("transport error"));
}

#[test]
fn the_client_closes_with_a_close_packet() {
    let now = Instant::now();
    let mut s = polling(now);
    s.receive_payload(b"4last\x1e1\x1e4ignored", now).unwrap();
    assert_eq!(s.closed(), Some("transport close"));
    assert_eq!(s.take_messages(), vec![text("last")]);
    assert_eq!(s.receive_payload(b"4x", now), Err(SessionError::Closed));
}

#[test]
fn a_server_close_over_polling_tells_the_next_poll() {
    let now = Instant::now();
    let mut s = polling(now);
    s.send(text("1"));
    s.server_close();
    assert_eq!(s.closed(), Some("forced close"));
    // The next poll still gets the last message, then the close packet.
    s.begin_poll().unwrap();
    assert_eq!(body(&s.take_polling()), "41\x1e1");
    s.end_poll();
    assert!(!s.has_output());
    assert_eq!(s.begin_poll(), Err(SessionError::Closed));
}

#[test]
fn bad_payloads_close_the_session() {
    let now = Instant::now();
    for bad in [&b"4a\x1e"[..], b"\xff", b"9", b"0{}", b"5"] {
        let mut s = polling(now);
        assert!(s.receive_payload(bad, now).is_err(), "{bad:?}");
        assert!(s.closed().is_some(), "{bad:?}");
    }
    let mut s = polling(now);
    let big = vec![b'4'; 1001];
    assert!(s.receive_payload(&big, now).is_err());
    let mut s = Session::new("w".into(), Transport::WebSocket, config(), now);
    assert!(s.receive_ws(Data::Binary(vec![0; 1001]), now).is_err());
    assert_eq!(s.closed(), Some("transport error"));
}

#[test]
fn requests_are_checked_as_socket_io_does() {
    let live = |sid: &str| match sid {
        "p" => Some(Transport::Polling),
        "w" => Some(Transport::WebSocket),
        _ => None,
    };
    let check = |m, eio, t, sid, ws| check_request(m, eio, t, sid, ws, live);
    use RequestError::*;
    let cases: Vec<(Result<Route, RequestError>, Result<Route, RequestError>)> = vec![
        (
            check("GET", Some("4"), Some("polling"), None, false),
            Ok(Route::Handshake(Transport::Polling)),
        ),
        (
            check("GET", Some("4"), Some("websocket"), None, true),
            Ok(Route::Handshake(Transport::WebSocket)),
        ),
        (
            check("GET", Some("4"), Some("polling"), Some("p"), false),
            Ok(Route::PollGet("p".into())),
        ),
        (
            check("POST", Some("4"), Some("polling"), Some("p"), false),
            Ok(Route::PollPost("p".into())),
        ),
        (
            check("GET", Some("4"), Some("websocket"), Some("p"), true),
            Ok(Route::Upgrade("p".into())),
        ),
        (
            check("GET", Some("3"), Some("polling"), None, false),
            Err(UnsupportedProtocolVersion),
        ),
        (
            check("GET", None, Some("polling"), None, false),
            Err(UnsupportedProtocolVersion),
        ),
        (
            check("GET", Some("4"), Some("flash"), None, false),
            Err(UnknownTransport),
        ),
        (
            check("GET", Some("4"), None, None, false),
            Err(UnknownTransport),
        ),
        (
            check("POST", Some("4"), Some("polling"), None, false),
            Err(BadHandshakeMethod),
        ),
        (
            check("PUT", Some("4"), Some("polling"), None, false),
            Err(BadHandshakeMethod),
        ),
        (
            check("GET", Some("4"), Some("polling"), Some("nope"), false),
            Err(UnknownSid),
        ),
        (
            check("PUT", Some("4"), Some("polling"), Some("p"), false),
            Err(BadRequest),
        ),
        // Polling on a session that upgraded, or a second WebSocket.
        (
            check("GET", Some("4"), Some("polling"), Some("w"), false),
            Err(BadRequest),
        ),
        (
            check("GET", Some("4"), Some("websocket"), Some("w"), true),
            Err(BadRequest),
        ),
        // transport=websocket without the upgrade headers.
        (
            check("GET", Some("4"), Some("websocket"), None, false),
            Err(BadRequest),
        ),
    ];
    for (i, (got, want)) in cases.into_iter().enumerate() {
        assert_eq!(got, want, "case {i}");
    }
    assert_eq!(
        UnknownSid.body(),
        r#"{"code":1,"message":"Session ID unknown"}"#
    );
    assert_eq!(
        UnknownTransport.body(),
        r#"{"code":0,"message":"Transport unknown"}"#
    );
    assert_eq!(
        BadHandshakeMethod.body(),
        r#"{"code":2,"message":"Bad handshake method"}"#
    );
    assert_eq!(BadRequest.body(), r#"{"code":3,"message":"Bad request"}"#);
    assert_eq!(
        UnsupportedProtocolVersion.body(),
        r#"{"code":5,"message":"Unsupported protocol version"}"#
    );
    assert_eq!(BadRequest.status(), 400);
}
