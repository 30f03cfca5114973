//! The one error type of netlab-echo.
//!
//! Every message says what happened and what to do next, because the CLI prints it as is to a
//! student. Callers should branch on the variant or on [`EchoError::is_usage`], never on the text.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::Proto;

/// The largest UDP payload that fits one IPv4 datagram: 65,535 (IP total length) - 20 (IPv4
/// header) - 8 (UDP header). IPv6 could carry 20 bytes more; one limit for both keeps it simple.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// What went wrong in an echo server or client.
#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    /// Another socket already owns the address.
    #[error(
        "address {addr} is already in use (another server is listening there); \
         choose another port with --port N, or --port 0 to get any free port"
    )]
    AddrInUse { addr: SocketAddr },

    /// Binding a privileged port (below 1024) without the right to.
    #[error(
        "permission denied binding {addr}: ports below 1024 are reserved for root \
         (or CAP_NET_BIND_SERVICE); use a port of 1024 or more, such as the default 7007"
    )]
    PermissionDenied { addr: SocketAddr },

    /// The address to bind is not on this machine.
    #[error(
        "cannot bind {addr}: that address does not belong to this machine; \
         use 127.0.0.1 (the default) or ::1"
    )]
    AddrNotAvailable { addr: SocketAddr },

    /// Nobody listens at the target (TCP RST, or ICMP port unreachable for UDP).
    #[error(
        "connection refused by {addr}: no {proto} echo server is listening there; \
         start one in another terminal with `netlab echo serve {proto} --port {port}`",
        port = addr.port()
    )]
    ConnectionRefused { addr: SocketAddr, proto: Proto },

    /// Waited too long for something.
    #[error("timed out after {after:?} waiting for {what}; {hint}")]
    Timeout {
        what: String,
        after: Duration,
        hint: &'static str,
    },

    /// A text that is not a socket address.
    #[error(
        "invalid address {input:?}: {reason}; write it as IP:PORT, \
         for example 127.0.0.1:7007 or [::1]:7007"
    )]
    InvalidAddress { input: String, reason: String },

    /// A UDP payload that no datagram can carry.
    #[error(
        "a UDP payload of {size} bytes cannot fit one datagram: the maximum is 65,507 bytes \
         (65,535 - 20 bytes of IPv4 header - 8 bytes of UDP header); use a smaller --size"
    )]
    PayloadTooLarge { size: usize },

    /// A setting that makes no sense (a probability above 1, zero connections...).
    #[error("invalid setting: {0}")]
    InvalidConfig(String),

    /// The server sent back something other than what was sent: a broken echo.
    #[error("the echo from {addr} differs from what was sent ({detail})")]
    Mismatch { addr: SocketAddr, detail: String },

    /// The server closed the connection before answering.
    #[error("{addr} closed the connection before echoing everything (server full or stopped?)")]
    ClosedEarly { addr: SocketAddr },

    /// Any other I/O error, with what we were doing.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl EchoError {
    /// True when the error comes from what the user typed (exit code 2), not from the world.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            EchoError::InvalidAddress { .. }
                | EchoError::PayloadTooLarge { .. }
                | EchoError::InvalidConfig(_)
        )
    }

    /// Turns an error from `bind` into the variant a student can act on.
    pub fn from_bind(addr: SocketAddr, err: io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::AddrInUse => EchoError::AddrInUse { addr },
            io::ErrorKind::PermissionDenied => EchoError::PermissionDenied { addr },
            io::ErrorKind::AddrNotAvailable => EchoError::AddrNotAvailable { addr },
            _ => EchoError::Io {
                context: format!("cannot bind {addr}"),
                source: err,
            },
        }
    }

    /// Turns an error from connect/send/recv into the variant a student can act on.
    pub fn from_io(addr: SocketAddr, proto: Proto, context: &str, err: io::Error) -> Self {
        match err.kind() {
            io::ErrorKind::ConnectionRefused => EchoError::ConnectionRefused { addr, proto },
            _ => EchoError::Io {
                context: format!("{context} {addr}"),
                source: err,
            },
        }
    }

    /// A timeout waiting for `what`, with the hint that fits the protocol.
    pub fn timeout(what: impl Into<String>, after: Duration, proto: Proto) -> Self {
        let hint = match proto {
            Proto::Tcp => "is the server overloaded, or stopped? try a longer --timeout",
            Proto::Udp => {
                "UDP cannot tell a lost datagram from a stopped server: check that \
                 `netlab echo serve udp` runs there, or try a longer --timeout"
            }
        };
        EchoError::Timeout {
            what: what.into(),
            after,
            hint,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        EchoError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Rejects a UDP payload size that no datagram can carry.
pub fn check_udp_size(size: usize) -> Result<(), EchoError> {
    if size > MAX_UDP_PAYLOAD {
        return Err(EchoError::PayloadTooLarge { size });
    }
    Ok(())
}
