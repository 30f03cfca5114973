//! Lab 04, sockets and ports: bind, listen and accept one call at a time; ephemeral ports;
//! "address already in use", TIME_WAIT and SO_REUSEADDR; closing with unread data sends a reset;
//! the 4-tuple; the listen backlog (its size per student, capped by somaxconn).
//!
//! The lab is about the socket calls themselves, so it makes them with socket2 (one call per
//! line, no defaults hidden by a framework) and blocking std sockets with timeouts. Everything
//! stays on 127.0.0.1.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::question::Question;
use crate::render;
use crate::session::Session;
use crate::{LabError, LabFuture, LabInfo};

pub const INFO: LabInfo = LabInfo {
    number: 4,
    slug: "sockets",
    title: "Sockets and ports",
    minutes: 2,
    guide: include_str!("../../guides/04-sockets.md"),
    run,
};

/// How long a client waits for a connection the kernel will not complete: long enough for
/// loopback (microseconds), short enough to keep the lab fast.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);

/// The backlog of the backlog experiment (2 in the practice variant, 1 to 4 per student); three
/// more clients than can get in try to connect.
fn backlog_size(s: &Session) -> i32 {
    s.variant().pick("lab04.backlog", 2, 1..=4) as i32
}

fn run(s: &mut Session) -> LabFuture<'_> {
    Box::pin(async move {
        bind_listen_accept(s)?;
        ephemeral_ports(s)?;
        address_in_use(s).await?;
        unread_data(s).await?;
        many_clients(s)?;
        backlog(s).await?;
        s.explain("What you learned")?;
        Ok(())
    })
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

/// A TCP socket bound to 127.0.0.1:`port`, with or without SO_REUSEADDR, not yet listening.
fn tcp_socket(port: u16, reuse_addr: bool) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(reuse_addr)?;
    socket.bind(&loopback(port).into())?;
    Ok(socket)
}

fn local_port(socket: &Socket) -> Result<u16, LabError> {
    socket
        .local_addr()
        .map_err(LabError::io("reading the socket's address"))?
        .as_socket()
        .map(|a| a.port())
        .ok_or_else(|| LabError::Experiment("socket has no IP address".into()))
}

fn connect(addr: SocketAddr) -> Result<TcpStream, LabError> {
    TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
        .map_err(LabError::io(format!("connecting to {addr}")))
}

fn bind_listen_accept(s: &mut Session) -> Result<(), LabError> {
    s.explain("Bind, listen, accept")?;
    s.act("socket(); bind(127.0.0.1:0); listen(16); connect(); accept()");
    let socket = tcp_socket(0, false).map_err(LabError::io("binding 127.0.0.1:0"))?;
    let server_port = local_port(&socket)?;
    socket
        .listen(16)
        .map_err(LabError::io("listening on the bound socket"))?;
    let listener: TcpListener = socket.into();
    let client = connect(loopback(server_port))?;
    let (accepted, peer) = listener
        .accept()
        .map_err(LabError::io("accepting the client"))?;
    let addr = |r: std::io::Result<SocketAddr>| r.map(|a| a.to_string()).unwrap_or_default();
    let mut t = render::table(&["socket", "local address", "peer address"], s.style());
    t.add_row(vec![
        "listening socket (server)".into(),
        addr(listener.local_addr()),
        "(none: it only collects connections)".into(),
    ]);
    t.add_row(vec![
        "accepted socket (server)".into(),
        addr(accepted.local_addr()),
        addr(accepted.peer_addr()),
    ]);
    t.add_row(vec![
        "client socket".into(),
        addr(client.local_addr()),
        addr(client.peer_addr()),
    ]);
    s.show("Three sockets, one connection", &t.to_string());
    let accepted_port = accepted
        .local_addr()
        .map_err(LabError::io("reading the accepted socket's address"))?
        .port();
    let client_port = client
        .local_addr()
        .map_err(LabError::io("reading the client's address"))?
        .port();
    s.measure("server.port", server_port, "");
    s.measure("client.port", client_port, "");
    s.check_eq(
        "accepted socket shares the listener's port",
        accepted_port,
        server_port,
    );
    s.check_eq(
        "accept() reports the client's own address as the peer",
        peer,
        client
            .local_addr()
            .map_err(LabError::io("client address"))?,
    );
    s.ask(
        Question::choice(
            "accepted-port",
            "The accepted socket's local port is...",
            &[
                "a new port picked by the kernel",
                "the listening socket's port",
                "the client's port",
            ],
            1,
        )
        .hint("compare the local address column of the two server sockets")
        .hint("accept() makes a new socket: does it need a new port to be told apart?")
        .why("Accepting creates a new socket but not a new port: all of a server's connections share its one port, and the 4-tuple tells them apart (later in this lab)."),
    )?;
    Ok(())
}

/// The kernel's ephemeral range, from /proc on Linux.
fn ephemeral_range() -> Option<(u16, u16)> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|n| n.parse::<u16>().ok());
    Some((it.next()??, it.next()??))
}

fn ephemeral_ports(s: &mut Session) -> Result<(), LabError> {
    s.explain("Ephemeral ports")?;
    s.act("connecting 4 clients to one server");
    let listener = TcpListener::bind(loopback(0)).map_err(LabError::io("binding a server"))?;
    let server = listener
        .local_addr()
        .map_err(LabError::io("server address"))?;
    let clients = (0..4)
        .map(|_| connect(server))
        .collect::<Result<Vec<_>, _>>()?;
    let ports: Vec<u16> = clients
        .iter()
        .filter_map(|c| c.local_addr().ok().map(|a| a.port()))
        .collect();
    let mut t = render::table(
        &["client", "local (ephemeral) port", "server port"],
        s.style(),
    );
    for (i, p) in ports.iter().enumerate() {
        t.add_row(vec![
            format!("{}", i + 1),
            p.to_string(),
            server.port().to_string(),
        ]);
    }
    s.show("Ports the kernel picked", &t.to_string());
    let Some((lo, hi)) = ephemeral_range() else {
        s.say("(This system has no /proc/sys/net/ipv4/ip_local_port_range: not Linux?)");
        return Ok(());
    };
    s.say(&format!(
        "The ephemeral range on this machine: {lo} to {hi}."
    ));
    s.measure("ephemeral.range", vec![lo, hi], "");
    s.check(
        "every client port is in the ephemeral range",
        ports.iter().all(|p| (lo..=hi).contains(p)),
        format!("{ports:?} in {lo}..={hi}"),
    );
    let v = s.variant();
    let first = v.pick("lab04.range-first", 32768, 1024..=40000);
    let last = first + v.pick("lab04.range-span", 28231, 999..=24999);
    let count = last - first + 1;
    s.ask(
        Question::number(
            "ephemeral-count",
            &format!(
                "This machine's range is {lo} to {hi}. On a machine whose ip_local_port_range is {first} {last}, how many ports does the ephemeral range hold?"
            ),
            count as f64,
        )
        .hint("from the first to the last port, both included")
        .hint("last - first + 1")
        .why(&format!(
            "{last} - {first} + 1 = {count}: that many outgoing connections can exist at once to one server address and port, one per source port."
        )),
    )?;
    drop(clients);
    Ok(())
}

/// Whether the kernel lists a TCP socket on 127.0.0.1:`port` in TIME_WAIT (state 06 in
/// /proc/net/tcp, where addresses are hex: 0100007F:1F5F).
fn in_time_wait(port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        cols.len() > 3 && cols[1] == local && cols[3] == "06"
    })
}

async fn address_in_use(s: &mut Session) -> Result<(), LabError> {
    s.explain("Address already in use")?;
    s.act("server (with SO_REUSEADDR) accepts a client and closes first; then it is restarted on the same port");
    let socket = tcp_socket(0, true).map_err(LabError::io("binding a server"))?;
    let port = local_port(&socket)?;
    socket.listen(16).map_err(LabError::io("listening"))?;
    let listener: TcpListener = socket.into();
    let mut client = connect(loopback(port))?;
    let (accepted, _) = listener.accept().map_err(LabError::io("accepting"))?;
    // The server closes first: its side of the connection is the one that waits in TIME_WAIT.
    drop(accepted);
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(LabError::io("setting a read timeout"))?;
    let mut buf = [0u8; 16];
    let eof = client.read(&mut buf).map_err(LabError::io("reading EOF"))? == 0;
    drop(client);
    drop(listener);
    let seen = wait_for(Duration::from_secs(2), || in_time_wait(port)).await;
    s.check(
        "client saw the server's FIN as end of stream",
        eof,
        "read() returned 0",
    );
    s.check(
        "kernel lists the server's old connection in TIME_WAIT",
        seen,
        format!("127.0.0.1:{port} state 06 in /proc/net/tcp"),
    );

    let plain = tcp_socket(port, false).map(drop);
    let reuse = tcp_socket(port, true).and_then(|sock| sock.listen(16));
    let outcome = |r: &std::io::Result<()>| match r {
        Ok(()) => "bound".to_string(),
        Err(e) if e.kind() == ErrorKind::AddrInUse => "address already in use (EADDRINUSE)".into(),
        Err(e) => format!("error: {e}"),
    };
    let mut t = render::table(
        &["restart the server on port", "SO_REUSEADDR", "result"],
        s.style(),
    );
    t.add_row(vec![port.to_string(), "off".into(), outcome(&plain)]);
    t.add_row(vec![port.to_string(), "on".into(), outcome(&reuse)]);
    s.show(
        "bind() while the old connection is in TIME_WAIT",
        &t.to_string(),
    );
    let plain_in_use = matches!(&plain, Err(e) if e.kind() == ErrorKind::AddrInUse);
    s.measure("bind.without_reuseaddr", outcome(&plain), "");
    s.measure("bind.with_reuseaddr", outcome(&reuse), "");
    s.check(
        "bind without SO_REUSEADDR fails",
        plain_in_use,
        outcome(&plain),
    );
    s.check(
        "bind with SO_REUSEADDR succeeds",
        reuse.is_ok(),
        outcome(&reuse),
    );
    s.ask(
        Question::choice(
            "reuseaddr",
            "Which side of a TCP connection keeps it in TIME_WAIT?",
            &[
                "the side that closed first",
                "the side that closed last",
                "always the server",
            ],
            0,
        )
        .hint("in this experiment the server closed first, and the kernel's table showed the server's port")
        .hint("the active close is the one that waits")
        .why("The side that closes first (the active close) waits, so that stray old packets die out before the 4-tuple is used again. A server restarted right after closing connections hits it, hence SO_REUSEADDR."),
    )?;
    Ok(())
}

/// Polls `condition` every 10 ms until it holds or `limit` passes.
async fn wait_for(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}

/// Closing a socket while data it never read sits in its receive buffer: Linux sends a reset
/// (RST) instead of a FIN, and the peer's next read fails.
async fn unread_data(s: &mut Session) -> Result<(), LabError> {
    s.explain("Closing with unread data")?;
    let guess = s.predict(
        "predict-unread",
        "The client sends a request; the server closes its socket without reading it. What will the client's next read() return: 0 (end of stream), an error, or data?",
    )?;
    s.act("twice: the client writes \"request\"; the server reads it, or not, then closes; the client reads");
    let outcomes = tokio::task::spawn_blocking(|| -> Result<Vec<String>, LabError> {
        Ok(vec![close_and_read(true)?, close_and_read(false)?])
    })
    .await
    .map_err(|e| LabError::Experiment(format!("close task: {e}")))??;
    let mut t = render::table(
        &["the server, before close()", "the client's read()"],
        s.style(),
    );
    t.add_row(vec!["read the request".into(), outcomes[0].clone()]);
    t.add_row(vec!["did not read it".into(), outcomes[1].clone()]);
    s.show("What the client saw", &t.to_string());
    s.reveal(guess, outcomes[1].clone(), "");
    s.measure("close.after_reading", outcomes[0].clone(), "");
    s.measure("close.unread", outcomes[1].clone(), "");
    s.check_eq(
        "after reading everything, close() sends FIN: the client reads end of stream",
        outcomes[0].as_str(),
        EOF_TEXT,
    );
    s.check_eq(
        "with unread data, close() sends RST: the client's read fails",
        outcomes[1].as_str(),
        RESET_TEXT,
    );
    s.ask(
        Question::choice(
            "unread-close",
            "Why did the client get \"connection reset\" when the server closed without reading?",
            &[
                "closing a socket with unread data makes the kernel send RST instead of FIN: the data was lost, and the peer must not think it was delivered",
                "the server's FIN was lost on loopback",
                "the client read too early",
                "SO_REUSEADDR was not set",
            ],
            0,
        )
        .hint("compare the two rows: what differs on the server's side?")
        .hint("a FIN says \"all data delivered, nothing more\": would that be true here?")
        .why("A FIN promises an orderly end: everything sent was delivered to the application. With unread data that would be a lie, so Linux (following RFC 1122) sends a reset, and the peer's next call fails with ECONNRESET. Servers that answer before reading the whole request hit this: read the request to the end, or shut down the write side and drain before closing."),
    )?;
    Ok(())
}

const EOF_TEXT: &str = "0: end of stream (FIN)";
const RESET_TEXT: &str = "error: connection reset by peer (RST)";

/// One client/server pair: the client writes, the server reads the request or not, closes, and
/// the client reads. Returns what that read got.
fn close_and_read(server_reads: bool) -> Result<String, LabError> {
    let listener = TcpListener::bind(loopback(0)).map_err(LabError::io("binding a server"))?;
    let server = listener
        .local_addr()
        .map_err(LabError::io("server address"))?;
    let mut client = connect(server)?;
    let (mut accepted, _) = listener.accept().map_err(LabError::io("accepting"))?;
    client
        .write_all(b"request")
        .map_err(LabError::io("client write"))?;
    accepted
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(LabError::io("read timeout"))?;
    let mut buf = [0u8; 16];
    if server_reads {
        let n = accepted
            .read(&mut buf)
            .map_err(LabError::io("server read"))?;
        if n != 7 {
            return Err(LabError::Experiment(format!(
                "the server read {n} bytes, expected 7"
            )));
        }
    } else {
        // Wait until the request is in the server's receive buffer, without taking it out.
        accepted
            .peek(&mut buf)
            .map_err(LabError::io("server peek"))?;
    }
    drop(accepted);
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(LabError::io("read timeout"))?;
    Ok(match client.read(&mut buf) {
        Ok(0) => EOF_TEXT.to_string(),
        Ok(n) => format!("{n} bytes of data"),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => RESET_TEXT.to_string(),
        Err(e) => format!("error: {e}"),
    })
}

fn many_clients(s: &mut Session) -> Result<(), LabError> {
    s.explain("Many clients, one port")?;
    s.act("3 clients connect to one server; each sends its number, the server reads it on the accepted socket");
    let listener = TcpListener::bind(loopback(0)).map_err(LabError::io("binding a server"))?;
    let server = listener
        .local_addr()
        .map_err(LabError::io("server address"))?;
    let mut clients = (0..3)
        .map(|_| connect(server))
        .collect::<Result<Vec<_>, _>>()?;
    let mut t = render::table(
        &[
            "accepted socket",
            "source (client)",
            "destination (server)",
            "client said",
        ],
        s.style(),
    );
    let mut tuples = Vec::new();
    for (i, client) in clients.iter_mut().enumerate() {
        client
            .write_all(format!("client {}", i + 1).as_bytes())
            .map_err(LabError::io("client write"))?;
    }
    for i in 0..clients.len() {
        let (mut conn, peer) = listener.accept().map_err(LabError::io("accepting"))?;
        conn.set_read_timeout(Some(Duration::from_secs(2)))
            .map_err(LabError::io("read timeout"))?;
        let mut buf = [0u8; 32];
        let n = conn.read(&mut buf).map_err(LabError::io("server read"))?;
        let local = conn.local_addr().map_err(LabError::io("local address"))?;
        t.add_row(vec![
            format!("#{}", i + 1),
            peer.to_string(),
            local.to_string(),
            String::from_utf8_lossy(&buf[..n]).into_owned(),
        ]);
        tuples.push((peer, local));
    }
    s.show("The 4-tuples the server sees", &t.to_string());
    let server_ports: std::collections::BTreeSet<u16> = tuples.iter().map(|t| t.1.port()).collect();
    let distinct: std::collections::BTreeSet<_> = tuples.iter().collect();
    s.measure("four_tuples.distinct", distinct.len(), "");
    s.check_eq("3 connections, 3 different 4-tuples", distinct.len(), 3);
    s.check_eq("all on one server port", server_ports.len(), 1);
    s.ask(
        Question::choice(
            "four-tuple",
            "Which part of the 4-tuple differs between the three connections?",
            &[
                "the destination port",
                "the source address",
                "the source port",
            ],
            2,
        )
        .hint("read the source column: same address, different...")
        .hint("the destination is the same server for all three")
        .why("Same machine, so same source address; same server, so same destination. The kernel gave each client its own ephemeral port, and that alone makes each 4-tuple unique."),
    )?;
    Ok(())
}

async fn backlog(s: &mut Session) -> Result<(), LabError> {
    s.explain("The listen backlog")?;
    let backlog_len = backlog_size(s);
    let clients = backlog_len as usize + 3;
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    if let Some(max) = somaxconn {
        s.say(&format!(
            "This machine caps every backlog at net.core.somaxconn = {max}."
        ));
        s.measure("backlog.somaxconn", max, "");
    }
    s.act(&format!(
        "listen(backlog = {backlog_len}), never accept; {clients} clients connect one after the other, each waits {} ms",
        CONNECT_TIMEOUT.as_millis()
    ));
    let socket = tcp_socket(0, false).map_err(LabError::io("binding a server"))?;
    let port = local_port(&socket)?;
    socket
        .listen(backlog_len)
        .map_err(LabError::io("listening"))?;
    // Clients connect one after the other, so which ones wait is deterministic; each attempt runs
    // on its own thread only to bound it by the timeout.
    let mut connected = Vec::new();
    let mut results = Vec::new();
    for _ in 0..clients {
        let addr = loopback(port);
        let r =
            tokio::task::spawn_blocking(move || TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT))
                .await
                .map_err(|e| LabError::Experiment(format!("connect task: {e}")))?;
        results.push(match &r {
            Ok(_) => "connected (waiting in the accept queue)".to_string(),
            Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {
                "no answer: SYN ignored, queue full".to_string()
            }
            Err(e) => format!("error: {e}"),
        });
        if let Ok(stream) = r {
            connected.push(stream);
        }
    }
    let mut t = render::table(&["client", "result"], s.style());
    for (i, r) in results.iter().enumerate() {
        t.add_row(vec![format!("{}", i + 1), r.clone()]);
    }
    s.show("Who got in", &t.to_string());
    s.measure("backlog.connected", connected.len(), "");
    s.check(
        "some clients connect without accept(), the rest wait",
        !connected.is_empty() && connected.len() < clients,
        format!("{} of {clients} connected", connected.len()),
    );
    s.ask(
        Question::number(
            "backlog-connected",
            &format!(
                "With backlog {backlog_len} and nobody calling accept(), how many clients connected?"
            ),
            connected.len() as f64,
        )
        .hint("count the \"connected\" rows in the table")
        .hint("compare with the backlog: Linux lets one more in than it says")
        .why("The kernel completes handshakes on its own until the accept queue is full (Linux: backlog + 1 connections); later SYNs are ignored and those clients retry, then time out."),
    )?;
    drop(socket);
    Ok(())
}
