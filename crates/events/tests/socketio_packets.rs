//! Conformance of the packet codecs with the Engine.IO v4 and Socket.IO v5 specifications
//! (socket.io's site): every packet type, the examples the specifications give, and every
//! malformed case they define, each with the typed error it must produce.

use netlab_events::socketio::engineio::{
    self, Data, EioError, Handshake, Packet as E, decode_payload, encode_payload,
};
use netlab_events::socketio::packet::{
    Kind, MAX_ATTACHMENTS, Packet, Reassembler, SioError, binary_bytes, binary_value, encode_event,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn text(s: &str) -> Data {
    Data::Text(s.to_string())
}

// ----- Engine.IO -------------------------------------------------------------------------------

#[test]
fn engineio_every_packet_type_encodes_as_the_spec_writes_it() {
    let cases = [
        (E::Open("{}".into()), "0{}"),
        (E::Close, "1"),
        (E::Ping(String::new()), "2"),
        (E::Ping("probe".into()), "2probe"),
        (E::Pong(String::new()), "3"),
        (E::Pong("probe".into()), "3probe"),
        (E::Message(text("hello")), "4hello"),
        (E::Message(Data::Binary(vec![1, 2, 3, 4])), "bAQIDBA=="),
        (E::Upgrade, "5"),
        (E::Noop, "6"),
    ];
    for (packet, wire) in cases {
        assert_eq!(packet.encode_text(), wire, "{packet:?}");
        assert_eq!(E::decode_text(wire), Ok(packet.clone()), "{wire}");
    }
}

#[test]
fn engineio_type_names_follow_the_spec() {
    let names: Vec<_> = "0123456".chars().map(engineio::type_name).collect();
    let want = [
        "open", "close", "ping", "pong", "message", "upgrade", "noop",
    ];
    assert_eq!(names, want.map(Some));
    assert_eq!(engineio::type_name('7'), None);
}

#[test]
fn engineio_websocket_binary_frames_are_the_raw_bytes() {
    let p = E::Message(Data::Binary(vec![1, 2, 3, 4]));
    assert_eq!(p.ws_frame(), Data::Binary(vec![1, 2, 3, 4]));
    assert_eq!(E::decode_ws(Data::Binary(vec![1, 2, 3, 4])), Ok(p));
    assert_eq!(E::Message(text("hi")).ws_frame(), text("4hi"));
    assert_eq!(E::decode_ws(text("6")), Ok(E::Noop));
}

#[test]
fn engineio_payload_example_from_the_spec() {
    // The specification's example body: two text messages and one binary, joined by \x1e.
    let body = "4hello\x1e4€\x1ebAQIDBA==";
    let packets = decode_payload(body.as_bytes(), 1_000_000).unwrap();
    assert_eq!(
        packets,
        vec![
            E::Message(text("hello")),
            E::Message(text("€")),
            E::Message(Data::Binary(vec![1, 2, 3, 4])),
        ]
    );
    assert_eq!(encode_payload(&packets), body);
    assert_eq!(encode_payload(&[E::Noop]), "6");
    assert_eq!(encode_payload(&[]), "");
}

#[test]
fn engineio_handshake_json_has_the_spec_fields() {
    let hs = Handshake {
        sid: "lv_VI97HAXpY6yYWAAAC".into(),
        upgrades: vec!["websocket".into()],
        ping_interval: 25000,
        ping_timeout: 20000,
        max_payload: 1_000_000,
    };
    assert_eq!(
        hs.packet().encode_text(),
        r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
    );
}

#[test]
fn engineio_malformed_packets_are_typed_errors() {
    let cases: [(&str, EioError); 8] = [
        ("", EioError::Empty),
        ("7", EioError::UnknownType('7')),
        ("x", EioError::UnknownType('x')),
        ("1x", EioError::UnexpectedData('1')),
        ("5probe", EioError::UnexpectedData('5')),
        ("6 ", EioError::UnexpectedData('6')),
        ("€", EioError::UnknownType('€')),
        ("{\"type\":4}", EioError::UnknownType('{')),
    ];
    for (wire, err) in cases {
        assert_eq!(E::decode_text(wire), Err(err), "{wire:?}");
    }
    assert!(matches!(
        E::decode_text("b!!!"),
        Err(EioError::BadBase64(_))
    ));
}

#[test]
fn engineio_malformed_payloads_are_typed_errors() {
    assert_eq!(decode_payload(b"4a\xff", 100), Err(EioError::NotUtf8));
    assert_eq!(
        decode_payload(b"4hello", 3),
        Err(EioError::TooLarge { len: 6, max: 3 })
    );
    // An empty record (a trailing or doubled separator) is an empty packet.
    assert_eq!(decode_payload(b"4a\x1e", 100), Err(EioError::Empty));
    assert_eq!(decode_payload(b"4a\x1e\x1e4b", 100), Err(EioError::Empty));
    assert_eq!(decode_payload(b"", 100), Err(EioError::Empty));
    assert_eq!(
        decode_payload(b"4a\x1e9", 100),
        Err(EioError::UnknownType('9'))
    );
}

// ----- Socket.IO -------------------------------------------------------------------------------

fn p(kind: Kind, nsp: &str, id: Option<u64>, data: Option<Value>) -> Packet {
    Packet {
        kind,
        nsp: nsp.into(),
        id,
        data,
    }
}

/// Decode, check, and encode back to the same text.
fn same_both_ways(wire: &str, want: Packet) {
    let (got, attachments) = Packet::decode(wire).unwrap_or_else(|e| panic!("{wire}: {e}"));
    assert_eq!(attachments, 0);
    assert_eq!(got, want, "{wire}");
    assert_eq!(want.encode(), (wire.to_string(), vec![]), "{wire}");
}

#[test]
fn socketio_connect_examples() {
    same_both_ways("0", p(Kind::Connect, "/", None, None));
    same_both_ways("0/admin,", p(Kind::Connect, "/admin", None, None));
    same_both_ways(
        r#"0{"token":"123"}"#,
        p(Kind::Connect, "/", None, Some(json!({"token": "123"}))),
    );
    same_both_ways(
        r#"0/admin,{"token":"123"}"#,
        p(Kind::Connect, "/admin", None, Some(json!({"token": "123"}))),
    );
    same_both_ways(
        r#"0{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
        p(
            Kind::Connect,
            "/",
            None,
            Some(json!({"sid": "oSO0OpakMV_3jnilAAAA"})),
        ),
    );
}

#[test]
fn socketio_disconnect_and_connect_error_examples() {
    same_both_ways("1", p(Kind::Disconnect, "/", None, None));
    same_both_ways("1/admin,", p(Kind::Disconnect, "/admin", None, None));
    same_both_ways(
        r#"4{"message":"Not authorized"}"#,
        p(
            Kind::ConnectError,
            "/",
            None,
            Some(json!({"message": "Not authorized"})),
        ),
    );
    same_both_ways(
        r#"4/admin,{"message":"Not authorized"}"#,
        p(
            Kind::ConnectError,
            "/admin",
            None,
            Some(json!({"message": "Not authorized"})),
        ),
    );
    // A plain string is allowed too (older servers).
    same_both_ways(
        r#"4"Not authorized""#,
        p(Kind::ConnectError, "/", None, Some(json!("Not authorized"))),
    );
}

#[test]
fn socketio_event_and_ack_examples() {
    same_both_ways(
        r#"2["foo"]"#,
        p(Kind::Event, "/", None, Some(json!(["foo"]))),
    );
    same_both_ways(
        r#"2/admin,["bar"]"#,
        p(Kind::Event, "/admin", None, Some(json!(["bar"]))),
    );
    same_both_ways(
        r#"212["foo"]"#,
        p(Kind::Event, "/", Some(12), Some(json!(["foo"]))),
    );
    same_both_ways(
        r#"2/admin,13["project:delete",123]"#,
        p(
            Kind::Event,
            "/admin",
            Some(13),
            Some(json!(["project:delete", 123])),
        ),
    );
    same_both_ways(
        r#"3/admin,13[]"#,
        p(Kind::Ack, "/admin", Some(13), Some(json!([]))),
    );
    same_both_ways(
        r#"312["bar"]"#,
        p(Kind::Ack, "/", Some(12), Some(json!(["bar"]))),
    );
    // socket.io allows a number as the event name.
    let (num, _) = Packet::decode("2[42,1]").unwrap();
    assert_eq!(num.event_name().as_deref(), Some("42"));
    assert_eq!(
        Packet::decode(r#"2/chat,3["message","hi"]"#)
            .unwrap()
            .0
            .event_name()
            .as_deref(),
        Some("message")
    );
}

#[test]
fn socketio_binary_event_example_with_its_attachment() {
    let wire = r#"51-["baz",{"_placeholder":true,"num":0}]"#;
    let mut r = Reassembler::default();
    assert_eq!(r.text(wire), Ok(None));
    assert_eq!(r.waiting(), 1);
    let got = r.binary(vec![1, 2, 3, 4]).unwrap().unwrap();
    let want = p(
        Kind::Event,
        "/",
        None,
        Some(json!(["baz", binary_value(&[1, 2, 3, 4])])),
    );
    assert_eq!(got, want);
    assert_eq!(r.waiting(), 0);
    // And back: the same text and the attachment.
    assert_eq!(want.encode(), (wire.to_string(), vec![vec![1, 2, 3, 4]]));
}

#[test]
fn socketio_binary_ack_example_with_namespace_and_id() {
    let wire = r#"62-/admin,15[{"_placeholder":true,"num":0},{"a":{"_placeholder":true,"num":1}}]"#;
    let mut r = Reassembler::default();
    assert_eq!(r.text(wire), Ok(None));
    assert_eq!(r.binary(vec![9]), Ok(None));
    let got = r.binary(vec![]).unwrap().unwrap();
    let want = p(
        Kind::Ack,
        "/admin",
        Some(15),
        Some(json!([binary_value(&[9]), {"a": binary_value(&[])}])),
    );
    assert_eq!(got, want);
    assert_eq!(want.encode(), (wire.to_string(), vec![vec![9], vec![]]));
    assert_eq!(binary_bytes(&binary_value(b"hi")), Some(b"hi".to_vec()));
    assert_eq!(binary_bytes(&json!({"$binary": "aGk=", "x": 1})), None);
}

#[test]
fn socketio_binary_kinds_without_binary_data_encode_as_plain() {
    let plain = p(Kind::BinaryEvent, "/", None, Some(json!(["a"])));
    assert_eq!(plain.encode().0, r#"2["a"]"#);
    // A BINARY_EVENT that declares zero attachments is whole at once.
    let mut r = Reassembler::default();
    let got = r.text(r#"50-["a"]"#).unwrap().unwrap();
    assert_eq!(got, p(Kind::Event, "/", None, Some(json!(["a"]))));
}

/// What a malformed case's error must satisfy.
type Expect = fn(&SioError) -> bool;

#[test]
fn socketio_malformed_packets_are_typed_errors() {
    let cases: Vec<(&str, Expect)> = vec![
        ("", |e| *e == SioError::Empty),
        ("7", |e| *e == SioError::UnknownType('7')),
        ("a", |e| *e == SioError::UnknownType('a')),
        (r#"5["a"]"#, |e| *e == SioError::IllegalAttachments),
        (r#"5-["a"]"#, |e| *e == SioError::IllegalAttachments),
        (r#"5x-["a"]"#, |e| *e == SioError::IllegalAttachments),
        (r#"51["a-b"]"#, |e| *e == SioError::IllegalAttachments),
        (r#"6abc"#, |e| *e == SioError::IllegalAttachments),
        (r#"511-["a"]"#, |e| {
            *e == SioError::TooManyAttachments {
                count: 11,
                max: MAX_ATTACHMENTS,
            }
        }),
        (r#"2999999999999999999999["a"]"#, |e| {
            *e == SioError::BadAckId
        }),
        ("2[", |e| matches!(e, SioError::InvalidJson(_))),
        ("0/admin,{", |e| matches!(e, SioError::InvalidJson(_))),
        ("2/admin,1x", |e| matches!(e, SioError::InvalidJson(_))),
        // Payload rules per type.
        ("0[]", |e| is_invalid(e, "CONNECT")),
        (r#"0"token""#, |e| is_invalid(e, "CONNECT")),
        ("1{}", |e| is_invalid(e, "DISCONNECT")),
        ("1/admin,[]", |e| is_invalid(e, "DISCONNECT")),
        ("44", |e| is_invalid(e, "CONNECT_ERROR")),
        ("4", |e| is_invalid(e, "CONNECT_ERROR")),
        ("2", |e| is_invalid(e, "EVENT")),
        ("2{}", |e| is_invalid(e, "EVENT")),
        ("2[]", |e| is_invalid(e, "EVENT")),
        ("2[{}]", |e| is_invalid(e, "EVENT")),
        ("2[null]", |e| is_invalid(e, "EVENT")),
        (r#"2["connect"]"#, |e| is_invalid(e, "EVENT")),
        (r#"2["disconnect",1]"#, |e| is_invalid(e, "EVENT")),
        (r#"2["removeListener"]"#, |e| is_invalid(e, "EVENT")),
        ("31", |e| is_invalid(e, "ACK")),
        ("31{}", |e| is_invalid(e, "ACK")),
        ("61-1\"x\"", |e| is_invalid(e, "BINARY_ACK")),
        // Placeholders must point at an announced attachment.
        (r#"51-["a",{"_placeholder":true,"num":1}]"#, |e| {
            matches!(e, SioError::BadPlaceholder(_))
        }),
        (r#"51-["a",{"_placeholder":true,"num":-1}]"#, |e| {
            matches!(e, SioError::BadPlaceholder(_))
        }),
        (r#"51-["a",{"_placeholder":true,"num":"0"}]"#, |e| {
            matches!(e, SioError::BadPlaceholder(_))
        }),
        (r#"51-["a",{"_placeholder":true}]"#, |e| {
            matches!(e, SioError::BadPlaceholder(_))
        }),
        (r#"2["a",{"_placeholder":true,"num":0}]"#, |_| false),
    ];
    for (wire, ok) in cases {
        match Packet::decode(wire) {
            Err(e) => assert!(ok(&e), "{wire:?}: unexpected error {e:?}"),
            // A placeholder in a non-binary EVENT is plain data (socket.io leaves it alone).
            Ok(_) if wire.starts_with("2[\"a\",{\"_placeholder\"") => {}
            Ok(p) => panic!("{wire:?} decoded as {p:?}"),
        }
    }
}

fn is_invalid(e: &SioError, kind: &str) -> bool {
    matches!(e, SioError::InvalidPayload { kind: k, .. } if *k == kind)
}

#[test]
fn socketio_attachments_out_of_order_are_errors() {
    let mut r = Reassembler::default();
    assert_eq!(r.binary(vec![1]), Err(SioError::UnexpectedBinary));
    assert_eq!(
        r.text(r#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
        Ok(None)
    );
    assert_eq!(r.binary(vec![1]), Ok(None));
    assert_eq!(r.text(r#"2["b"]"#), Err(SioError::ExpectedBinary(1)));
}

#[test]
fn socketio_errors_say_what_to_do() {
    let e = Packet::decode("511-[]").unwrap_err();
    assert_eq!(
        e.to_string(),
        "11 attachments is more than the 10 this server accepts in one packet"
    );
    let e = Packet::decode(r#"2["connect"]"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid payload for EVENT: an event name that is not reserved (connect, disconnect, ...)"
    );
}

/// The packet `encode_event` stands for: `[name, ...args, "offset"]`.
fn event_packet(
    nsp: &str,
    id: Option<u64>,
    name: &str,
    args: &[Value],
    offset: Option<u64>,
) -> Packet {
    let mut data = vec![json!(name)];
    data.extend(args.iter().cloned());
    data.extend(offset.map(|o| json!(o.to_string())));
    Packet {
        kind: Kind::Event,
        nsp: nsp.into(),
        id,
        data: Some(Value::Array(data)),
    }
}

#[test]
fn encode_event_writes_the_text_the_packet_encodes_to() {
    let chat = [json!({"name": "ada", "room": "lobby", "text": "héllo \"you\"\n"})];
    // namespace, ack id, name, arguments, offset, and the text on the wire
    type Case<'a> = (
        &'a str,
        Option<u64>,
        &'a str,
        &'a [Value],
        Option<u64>,
        &'a str,
    );
    let cases: [Case; 5] = [
        (
            "/chat",
            None,
            "message",
            &chat,
            Some(7),
            r#"2/chat,["message",{"name":"ada","room":"lobby","text":"héllo \"you\"\n"},"7"]"#,
        ),
        ("/", None, "hi", &[], None, r#"2["hi"]"#),
        (
            "/",
            Some(12),
            "hi",
            &[json!(1.5), json!(null)],
            None,
            r#"212["hi",1.5,null]"#,
        ),
        (
            "/custom",
            Some(0),
            "e",
            &[json!([1, {"b": [true]}])],
            Some(18446744073709551615),
            r#"2/custom,0["e",[1,{"b":[true]}],"18446744073709551615"]"#,
        ),
        (
            "/",
            None,
            "x",
            &[json!({"$binary": "not base64!"})],
            None,
            r#"2["x",{"$binary":"not base64!"}]"#,
        ),
    ];
    for (nsp, id, name, args, offset, wire) in cases {
        let text = encode_event(nsp, id, name, args, offset);
        assert_eq!(text.as_deref(), Some(wire));
        assert_eq!(
            event_packet(nsp, id, name, args, offset).encode(),
            (wire.to_string(), vec![])
        );
    }
}

#[test]
fn encode_event_leaves_binary_values_to_the_packet() {
    let args = [json!({"file": binary_value(b"hi")})];
    assert_eq!(encode_event("/", None, "up", &args, None), None);
    let (text, attachments) = event_packet("/", None, "up", &args, None).encode();
    assert_eq!(text, r#"51-["up",{"file":{"_placeholder":true,"num":0}}]"#);
    assert_eq!(attachments, vec![b"hi".to_vec()]);
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_the_decoders(s in ".{0,64}") {
        let _ = Packet::decode(&s);
        let _ = E::decode_text(&s);
        let mut r = Reassembler::default();
        let _ = r.text(&s);
        let _ = r.binary(s.as_bytes().to_vec());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_payload_decoder(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_payload(&b, 32);
    }

    #[test]
    fn socketio_like_text_never_panics(s in "[0-6][0-9-]{0,3}(/[a-z]{0,3},?)?[0-9]{0,3}[\\[\\]{}\"a-z0-9_:,]{0,24}") {
        let _ = Packet::decode(&s);
    }

    #[test]
    fn events_round_trip(nsp in "/[a-z]{0,6}", id in proptest::option::of(0u64..1_000_000), name in "[a-z]{1,8}", arg in any::<i64>(), bin in proptest::collection::vec(any::<u8>(), 0..8)) {
        let pk = Packet { kind: Kind::Event, nsp, id, data: Some(json!([name, arg, binary_value(&bin)])) };
        let (t, att) = pk.encode();
        let mut r = Reassembler::default();
        prop_assert_eq!(r.text(&t), Ok(None));
        let back = r.binary(att[0].clone()).unwrap().unwrap();
        prop_assert_eq!(back, pk);
    }

    #[test]
    fn encode_event_matches_the_packet(nsp in "/[a-z]{0,6}", id in proptest::option::of(any::<u64>()), name in "\\PC{0,8}", text in "\\PC{0,12}", n in any::<f64>(), offset in proptest::option::of(any::<u64>())) {
        let args = [json!({"text": text, "n": n}), json!([text, null])];
        let (wire, attachments) = event_packet(&nsp, id, &name, &args, offset).encode();
        prop_assert!(attachments.is_empty());
        prop_assert_eq!(encode_event(&nsp, id, &name, &args, offset), Some(wire));
    }
}
