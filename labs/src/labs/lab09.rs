//! Lab 09, rooms and namespaces: two namespaces multiplexed on one TCP connection (one
//! handshake in the capture), a middleware that refuses a connection without credentials
//! (`connect_error` with its reason), rooms joined and left by the server on the clients'
//! requests, and broadcasts to a room, to a room except the sender and to a whole namespace,
//! measured with five clients as a matrix of who received what.

use std::collections::BTreeSet;

use netlab_events::Frame;
use netlab_events::core::Core;
use netlab_inspect::Packet;
use serde_json::{Value, json};

use crate::events::{self, EventServer, Wire};
use crate::packets::{self, LabPacket};
use crate::question::Question;
use crate::render;
use crate::session::Session;
use crate::{LabError, LabFuture, LabInfo};

pub const INFO: LabInfo = LabInfo {
    number: 9,
    slug: "rooms-and-namespaces",
    title: "Rooms and namespaces",
    minutes: 3,
    guide: include_str!("../../guides/09-rooms-and-namespaces.md"),
    run,
};

/// The namespace behind the middleware, and the credential it wants.
const ADMIN: &str = "/admin";
const TOKEN: &str = "s3cret";

/// The five clients of the rooms experiment.
const CLIENTS: [&str; 5] = ["A", "B", "C", "D", "E"];

/// Which rooms each client asks to join, one layout per variant (the practice variant has the
/// first). In every layout A and C are in red and D is in blue, as the broadcasts assume.
const LAYOUTS: [&[(&str, &str)]; 3] = [
    &[
        ("A", "red"),
        ("B", "red"),
        ("C", "red"),
        ("C", "blue"),
        ("D", "blue"),
    ],
    &[("A", "red"), ("C", "red"), ("D", "red"), ("D", "blue")],
    &[
        ("A", "red"),
        ("B", "red"),
        ("C", "red"),
        ("E", "red"),
        ("C", "blue"),
        ("D", "blue"),
        ("E", "blue"),
    ],
];

/// Clients that also connect to /admin, over the same connection as their `/`.
const ADMINS: [&str; 2] = ["D", "E"];

/// The lab's server application.
///
/// Namespace `/`: `join [room]` and `leave [room]` (the server puts the socket in the room or
/// takes it out, and acks the socket's rooms); `to-room [room, id]` (everyone in the room, the
/// sender included), `to-others [room, id]` (the room except the sender), `to-all [id]` (the
/// whole namespace). Each broadcast is an event `news [id]` and the sender gets an ack.
///
/// Namespace `/admin`: a middleware refuses a socket without `auth.token`; `announce [id]`
/// broadcasts `news [id]` to the whole of /admin.
fn install(core: &mut Core) {
    let main = core.namespace("/");
    main.on("join", |ctx, ev| {
        if let Some(room) = ev.args.first().and_then(Value::as_str) {
            ctx.join(room);
        }
        let rooms = own_rooms(ctx);
        ctx.ack(vec![json!(rooms)]);
    });
    main.on("leave", |ctx, ev| {
        if let Some(room) = ev.args.first().and_then(Value::as_str) {
            ctx.leave(room);
        }
        let rooms = own_rooms(ctx);
        ctx.ack(vec![json!(rooms)]);
    });
    main.on("to-room", |ctx, ev| {
        let (room, id) = (arg_str(ev, 0), ev.args.get(1).cloned().unwrap_or_default());
        ctx.namespace().to(&room).emit("news", vec![id]);
        ctx.ack(vec![]);
    });
    main.on("to-others", |ctx, ev| {
        let (room, id) = (arg_str(ev, 0), ev.args.get(1).cloned().unwrap_or_default());
        ctx.to(&room).emit("news", vec![id]);
        ctx.ack(vec![]);
    });
    main.on("to-all", |ctx, ev| {
        let id = ev.args.first().cloned().unwrap_or_default();
        ctx.namespace().emit("news", vec![id]);
        ctx.ack(vec![]);
    });
    let admin = core.namespace(ADMIN);
    admin.use_middleware(|hs| {
        if hs.auth.get("token").and_then(Value::as_str) == Some(TOKEN) {
            Ok(())
        } else {
            Err(format!(
                "{ADMIN} needs credentials: connect with \"auth\":{{\"token\":\"...\"}}"
            ))
        }
    });
    admin.on("announce", |ctx, ev| {
        let id = ev.args.first().cloned().unwrap_or_default();
        ctx.namespace().emit("news", vec![id]);
        ctx.ack(vec![]);
    });
}

fn arg_str(ev: &netlab_events::core::Event, i: usize) -> String {
    ev.args
        .get(i)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The socket's rooms without its own (every socket is in a room named after its sid).
fn own_rooms(ctx: &netlab_events::core::Ctx<'_>) -> Vec<String> {
    let me = ctx.sid().to_string();
    ctx.rooms().into_iter().filter(|r| *r != me).collect()
}

fn run(s: &mut Session) -> LabFuture<'_> {
    Box::pin(async move {
        s.explain("Namespaces share one connection")?;
        let guess = s.predict(
            "handshakes-guess",
            "The client will join two namespaces. How many TCP connections (handshakes) will that take?",
        )?;
        let server = EventServer::start(Default::default(), 0, None, install).await?;
        s.act(&format!(
            "one client connects to / and to {ADMIN} on {}, first without credentials",
            server.addr()
        ));
        let (answers, rec) = s
            .capture(
                "lab09-namespaces",
                &[server.port()],
                two_namespaces(&server),
            )
            .await?;
        server.take_trace();
        let pkts = packets::dissect_all(&rec);
        let frames = events::captured_frames(&pkts);
        s.show(
            "The packets of that connection",
            &packets::packet_table(&pkts, s.style()),
        );
        s.show(
            "One client, two namespaces, in the capture (spaces added after commas)",
            &events::frames_table(&frames, s.style()),
        );
        namespaces(s, guess, &pkts, &frames, &answers)?;
        s.explain("Rooms and broadcasts")?;
        let joins = *s.variant().choose("lab09.rooms", &LAYOUTS);
        rooms(s, &server, joins).await?;
        server.stop().await;
        s.explain("What you learned")?;
        Ok(())
    })
}

/// The server's answers to: connect `/`, connect /admin without auth, connect /admin with it.
async fn two_namespaces(server: &EventServer) -> Result<[Frame; 3], LabError> {
    let mut wire = Wire::connect(server.addr()).await?;
    let main = wire.join_ns("/", None, None).await?;
    let refused = wire.join_ns(ADMIN, None, None).await?;
    let admitted = wire
        .join_ns(ADMIN, Some(json!({ "token": TOKEN })), None)
        .await?;
    wire.close().await?;
    Ok([main, refused, admitted])
}

fn namespaces(
    s: &mut Session,
    guess: crate::session::Prediction,
    pkts: &[Packet],
    frames: &[events::CapturedFrame],
    answers: &[Frame; 3],
) -> Result<(), LabError> {
    let syns = pkts
        .iter()
        .filter(|p| p.flag("tcp.flags.syn") && !p.flag("tcp.flags.ack"))
        .count();
    s.check_eq("one TCP handshake (one SYN) in the capture", syns, 1);
    s.reveal(guess, syns, "handshakes");
    let nss: BTreeSet<&str> = frames
        .iter()
        .filter_map(|f| f.frame.as_ref().and_then(Frame::ns))
        .collect();
    s.check_eq(
        "frames of both namespaces cross that one connection",
        nss.into_iter().collect::<Vec<_>>(),
        vec!["/", ADMIN],
    );
    let reason = match &answers[1] {
        Frame::ConnectError { message, .. } => message.clone(),
        other => format!("not refused: {}", other.kind()),
    };
    s.check(
        "the middleware refused the connect without credentials",
        matches!(answers[1], Frame::ConnectError { .. }),
        reason.clone(),
    );
    s.check_eq(
        "with the token the same connection is admitted",
        answers[2].kind(),
        "connected",
    );
    let captured_refusal = frames
        .iter()
        .any(|f| matches!(&f.frame, Some(Frame::ConnectError { .. })));
    s.check(
        "the capture holds the connect_error",
        captured_refusal,
        "a connect_error frame, server to client",
    );
    s.measure("namespaces.syn_packets", syns, "");
    s.ask(
        Question::number(
            "handshakes",
            "The client joined two namespaces. How many TCP handshakes (packets with SYN and no ACK) are in the capture?",
            syns as f64,
        )
        .hint("count the rows of the packet list whose Info starts with [SYN]")
        .hint("one connection begins with one SYN; the frames of both namespaces share its ports")
        .why("One: namespaces are multiplexed over one connection; each frame names its namespace in \"ns\"."),
    )?;
    s.ask(
        Question::choice(
            "refusal",
            "What did the server answer the connect to /admin without credentials?",
            &[
                "it closed the TCP connection",
                "a connect_error frame with the reason; the connection stayed open",
                "nothing: the connect was ignored",
            ],
            1,
        )
        .hint("look at the frame after the second connect in the capture table")
        .hint("the connection went on: the next connect, with the token, was answered connected")
        .why("Middleware refuses one namespace, not the connection: the same connection then joined /admin with the token."),
    )?;
    Ok(())
}

/// One broadcast of the rooms experiment: who sends it, which handler, the room.
struct Broadcast {
    id: u64,
    from: &'static str,
    ns: &'static str,
    event: &'static str,
    room: Option<&'static str>,
    label: String,
}

fn broadcasts() -> Vec<Broadcast> {
    let b = |id, from, ns, event, room: Option<&'static str>, label: &str| Broadcast {
        id,
        from,
        ns,
        event,
        room,
        label: label.to_string(),
    };
    vec![
        b(1, "A", "/", "to-room", Some("red"), "A: to room red"),
        b(
            2,
            "A",
            "/",
            "to-others",
            Some("red"),
            "A: to room red except the sender",
        ),
        b(3, "D", "/", "to-room", Some("blue"), "D: to room blue"),
        b(4, "B", "/", "to-all", None, "B: to all of namespace /"),
        b(
            5,
            "A",
            "/",
            "to-room",
            Some("red"),
            "A: to red, after C left it",
        ),
        b(
            6,
            "E",
            ADMIN,
            "announce",
            None,
            "E: to all of namespace /admin",
        ),
    ]
}

/// The broadcast after which C leaves red.
const C_LEAVES_BEFORE: u64 = 5;

/// The id of the last broadcast, to everyone in `/`: each client reads until it has it, so it
/// has everything before it (one connection delivers in order).
const END: u64 = 99;

async fn rooms(
    s: &mut Session,
    server: &EventServer,
    joins: &[(&'static str, &'static str)],
) -> Result<(), LabError> {
    s.act("five clients A to E connect; D and E also join /admin on the same connection; they ask to join rooms");
    // Each client's connection, and the news frames it read while waiting for its acks.
    let mut wires: Vec<(Wire, Vec<Frame>)> = Vec::new();
    for name in CLIENTS {
        let mut w = Wire::connect(server.addr()).await?;
        w.join_ns("/", None, None).await?;
        if ADMINS.contains(&name) {
            w.join_ns(ADMIN, Some(json!({ "token": TOKEN })), None)
                .await?;
        }
        wires.push((w, Vec::new()));
    }
    let idx = |name: &str| CLIENTS.iter().position(|c| *c == name).unwrap_or(0);
    let mut membership = Vec::new();
    for (i, (name, room)) in joins.iter().enumerate() {
        let rooms = request(
            &mut wires[idx(name)],
            "/",
            "join",
            vec![json!(room)],
            i as u64 + 1,
        )
        .await?;
        membership.push(format!(
            "{name} asked to join {room}; the server says {name} is in {}",
            json!(rooms)
        ));
    }
    s.show(
        "Rooms, as the server acknowledged them",
        &membership.join("\n"),
    );
    let mut ack_id = 100;
    let mut left = String::new();
    for b in broadcasts() {
        if b.id == C_LEAVES_BEFORE {
            ack_id += 1;
            let rooms = request(
                &mut wires[idx("C")],
                "/",
                "leave",
                vec![json!("red")],
                ack_id,
            )
            .await?;
            left = format!(
                "(before broadcast {}, C asked to leave red; the server says C is in {rooms})",
                b.id
            );
        }
        let args = match b.room {
            Some(room) => vec![json!(room), json!(b.id)],
            None => vec![json!(b.id)],
        };
        ack_id += 1;
        request(&mut wires[idx(b.from)], b.ns, b.event, args, ack_id).await?;
    }
    ack_id += 1;
    request(
        &mut wires[idx("A")],
        "/",
        "to-all",
        vec![json!(END)],
        ack_id,
    )
    .await?;
    let mut received: Vec<BTreeSet<u64>> = Vec::new();
    for (w, inbox) in &mut wires {
        if !inbox.iter().any(|f| news_id(f) == Some(END)) {
            let frames = w
                .recv_until("the last broadcast", |f| news_id(f) == Some(END))
                .await?;
            inbox.extend(frames);
        }
        received.push(
            inbox
                .iter()
                .filter_map(news_id)
                .filter(|id| *id != END)
                .collect(),
        );
    }
    for (w, _) in wires {
        w.close().await?;
    }
    matrix(s, &received, &left, joins)
}

/// Emits `name` with an ack id and waits for the ack (so that requests happen in order);
/// returns the ack's first argument. Frames that arrive before the ack (a broadcast the sender
/// is part of) go to the client's inbox.
async fn request(
    (w, inbox): &mut (Wire, Vec<Frame>),
    ns: &str,
    name: &str,
    args: Vec<Value>,
    ack: u64,
) -> Result<Value, LabError> {
    w.emit(ns, name, args, Some(ack)).await?;
    let mut frames = w
        .recv_until(
            "the ack",
            |f| matches!(f, Frame::Ack { id, .. } if *id == ack),
        )
        .await?;
    let reply = match frames.pop() {
        Some(Frame::Ack { args, .. }) => args.first().cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    };
    inbox.extend(frames);
    Ok(reply)
}

fn news_id(f: &Frame) -> Option<u64> {
    match f {
        Frame::Event { name, args, .. } if name == "news" => args.first().and_then(Value::as_u64),
        _ => None,
    }
}

/// Who should get broadcast `b`, from the rooms the lab asked for (C leaves red before 5).
fn expected(b: &Broadcast, joins: &[(&str, &str)]) -> Vec<&'static str> {
    let in_room = |client: &str, room: &str| {
        joins.contains(&(client, room))
            && !(client == "C" && room == "red" && b.id >= C_LEAVES_BEFORE)
    };
    CLIENTS
        .into_iter()
        .filter(|c| match (b.ns, b.event, b.room) {
            (ADMIN, _, _) => ADMINS.contains(c),
            (_, "to-others", Some(room)) => in_room(c, room) && *c != b.from,
            (_, _, Some(room)) => in_room(c, room),
            _ => true,
        })
        .collect()
}

fn matrix(
    s: &mut Session,
    received: &[BTreeSet<u64>],
    left: &str,
    joins: &[(&str, &str)],
) -> Result<(), LabError> {
    let mut header = vec!["broadcast"];
    header.extend(CLIENTS);
    header.push("got it");
    let mut t = render::table(&header, s.style());
    render::keep_whole(&mut t, &[1, 2, 3, 4, 5, 6]);
    let mut counts = Vec::new();
    let mut checks = Vec::new();
    for b in broadcasts() {
        let got: Vec<&str> = CLIENTS
            .iter()
            .zip(received)
            .filter(|(_, ids)| ids.contains(&b.id))
            .map(|(c, _)| *c)
            .collect();
        let mut row = vec![b.label.clone()];
        row.extend(
            CLIENTS
                .iter()
                .map(|c| if got.contains(c) { "✓" } else { "·" }.to_string()),
        );
        row.push(got.len().to_string());
        t.add_row(row);
        counts.push(got.len());
        checks.push((
            format!("{}: received by", b.label),
            got,
            expected(&b, joins),
        ));
    }
    s.show(
        "Who received which broadcast (measured: each client's frames)",
        &format!("{t}\n{left}"),
    );
    for (name, got, expected) in checks {
        s.check_eq(&name, got, expected);
    }
    s.measure("rooms.receivers", counts.clone(), "clients");
    s.ask(
        Question::number(
            "to-others",
            "How many clients received A's broadcast to room red except the sender?",
            counts[1] as f64,
        )
        .hint("the second row of the matrix")
        .hint("red's members, from the rooms list above, minus the sender A")
        .why("Everyone in red minus A, the sender: socket.io's socket.to(room)."),
    )?;
    s.ask(
        Question::number(
            "whole-namespace",
            "How many clients received B's broadcast to all of namespace /, rooms or not?",
            counts[3] as f64,
        )
        .hint("the row \"B: to all of namespace /\"")
        .hint("every client is in namespace /: count the ticks in that row")
        .why("A namespace broadcast reaches every socket of the namespace, whatever its rooms: a client in no room gets it too."),
    )?;
    s.ask(
        Question::number(
            "admin-announce",
            "How many clients received E's announcement to namespace /admin?",
            counts[5] as f64,
        )
        .hint("only sockets connected to /admin hear /admin")
        .hint("D and E joined /admin with the token; A, B and C never did")
        .why("D and E: a namespace is a separate audience, even for clients whose other namespace shares the connection."),
    )?;
    s.ask(
        Question::choice(
            "who-joins",
            "C asked to join red, then to leave it. Who actually put C in the room and took it out?",
            &[
                "C's client, by itself",
                "the server, in its join and leave handlers",
                "the other clients in red",
            ],
            1,
        )
        .hint("rooms exist only on the server; what did C send?")
        .hint("C sent events called join and leave; the server's handlers called join and leave")
        .why("A client only emits a request (an event); the server's handler calls join or leave. A client does not even know which rooms exist."),
    )?;
    Ok(())
}
