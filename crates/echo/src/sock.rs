//! Building sockets with socket2 before handing them to tokio.
//!
//! tokio's own `bind` picks the options for you. A teaching tool wants to show them, so the
//! socket is made by hand here: create, set options, bind, listen, then convert.

use std::net::SocketAddr;

use serde::Serialize;
use socket2::{Domain, Protocol, Socket, Type};

use crate::EchoError;

/// Kernel buffer sizes. `None` keeps the system default (see `sysctl net.core.rmem_default`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BufferSizes {
    /// SO_RCVBUF: how much the kernel may queue for us before the sender must wait (TCP) or
    /// datagrams are dropped (UDP). Linux doubles the value asked for, for its bookkeeping.
    pub recv: Option<usize>,
    /// SO_SNDBUF: how much we may write before `write` waits for the peer to acknowledge.
    pub send: Option<usize>,
}

fn new_socket(addr: SocketAddr, ty: Type, proto: Protocol) -> Result<Socket, EchoError> {
    let socket = Socket::new(Domain::for_address(addr), ty, Some(proto))
        .map_err(|e| EchoError::io("cannot create a socket", e))?;
    if addr.is_ipv6() {
        // One socket, one family: [::]:7007 then does not also take 0.0.0.0:7007, so an IPv4
        // and an IPv6 server can run side by side, as students expect.
        socket
            .set_only_v6(true)
            .map_err(|e| EchoError::io("cannot set IPV6_V6ONLY", e))?;
    }
    Ok(socket)
}

fn apply_buffers(socket: &Socket, buffers: BufferSizes) -> Result<(), EchoError> {
    if let Some(size) = buffers.recv {
        socket
            .set_recv_buffer_size(size)
            .map_err(|e| EchoError::io("cannot set SO_RCVBUF", e))?;
    }
    if let Some(size) = buffers.send {
        socket
            .set_send_buffer_size(size)
            .map_err(|e| EchoError::io("cannot set SO_SNDBUF", e))?;
    }
    Ok(())
}

/// A TCP listener with SO_REUSEADDR, the given buffers and backlog, registered with tokio.
pub fn tcp_listener(
    addr: SocketAddr,
    backlog: u32,
    buffers: BufferSizes,
) -> Result<tokio::net::TcpListener, EchoError> {
    let socket = new_socket(addr, Type::STREAM, Protocol::TCP)?;
    // SO_REUSEADDR lets a restarted server bind while old connections sit in TIME_WAIT; it does
    // NOT let two live servers share a port on Linux (that is SO_REUSEPORT).
    socket
        .set_reuse_address(true)
        .map_err(|e| EchoError::io("cannot set SO_REUSEADDR", e))?;
    // Buffers set on the listener are inherited by every accepted connection.
    apply_buffers(&socket, buffers)?;
    socket
        .bind(&addr.into())
        .map_err(|e| EchoError::from_bind(addr, e))?;
    let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
    socket
        .listen(backlog)
        .map_err(|e| EchoError::io(format!("cannot listen on {addr}"), e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| EchoError::io("cannot make the listener non-blocking", e))?;
    tokio::net::TcpListener::from_std(socket.into())
        .map_err(|e| EchoError::io("cannot register the listener with tokio", e))
}

/// A UDP socket bound to `addr` with the given buffers, registered with tokio.
pub fn udp_socket(
    addr: SocketAddr,
    buffers: BufferSizes,
) -> Result<tokio::net::UdpSocket, EchoError> {
    let socket = new_socket(addr, Type::DGRAM, Protocol::UDP)?;
    apply_buffers(&socket, buffers)?;
    socket
        .bind(&addr.into())
        .map_err(|e| EchoError::from_bind(addr, e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| EchoError::io("cannot make the socket non-blocking", e))?;
    tokio::net::UdpSocket::from_std(socket.into())
        .map_err(|e| EchoError::io("cannot register the socket with tokio", e))
}

/// A client's UDP socket, connected to `target`: bound to the wildcard address of the same
/// family (port 0), then `connect`ed. A connected UDP socket sends to `target` with plain
/// `send`, receives only from it, and learns of an ICMP "port unreachable" as ECONNREFUSED on
/// the next receive: that is how a client can say "no server there".
pub async fn udp_client(target: SocketAddr) -> Result<tokio::net::UdpSocket, EchoError> {
    let socket = tokio::net::UdpSocket::bind(any_addr_for(target))
        .await
        .map_err(|e| EchoError::io("cannot bind a UDP socket", e))?;
    socket
        .connect(target)
        .await
        .map_err(|e| EchoError::from_io(target, crate::Proto::Udp, "cannot reach", e))?;
    Ok(socket)
}

/// The wildcard address of the same family as `peer`, port 0: where a client binds.
pub fn any_addr_for(peer: SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    }
}
