//! The experiments' servers and clients: netlab-echo's TCP and UDP echo servers on 127.0.0.1,
//! port 0, and the small client exchanges the labs capture. Every await has a timeout, so a lab
//! never hangs on a lost packet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use netlab_echo::ImpairmentConfig;
use netlab_echo::shutdown::{self, ShutdownTrigger};
use netlab_echo::tcp::{TcpConfig, TcpEchoServer};
use netlab_echo::udp::{UdpConfig, UdpEchoServer, UdpStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use crate::error::LabError;

/// Loopback answers in microseconds; a second means something is wrong.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(2);

/// A server running on a tokio task until [`Running::stop`] (or drop of the trigger).
pub struct Running {
    pub addr: SocketAddr,
    trigger: ShutdownTrigger,
}

impl Running {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn stop(self) {
        self.trigger.fire();
    }
}

fn echo_err(e: netlab_echo::EchoError) -> LabError {
    LabError::Experiment(e.to_string())
}

/// A TCP echo server on 127.0.0.1 and a free port.
pub async fn tcp_echo() -> Result<Running, LabError> {
    let server = TcpEchoServer::bind(TcpConfig::loopback(0))
        .await
        .map_err(echo_err)?;
    let addr = server.local_addr();
    let (trigger, signal) = shutdown::channel();
    tokio::spawn(server.run(signal));
    Ok(Running { addr, trigger })
}

/// A UDP echo server on 127.0.0.1 and a free port, with optional seeded impairment.
pub async fn udp_echo(impairment: ImpairmentConfig) -> Result<Running, LabError> {
    udp_echo_with_stats(impairment).await.map(|(r, _)| r)
}

/// [`udp_echo`], also returning the server's live counters (received, dropped, delayed...).
pub async fn udp_echo_with_stats(
    impairment: ImpairmentConfig,
) -> Result<(Running, Arc<UdpStats>), LabError> {
    let config = UdpConfig {
        impairment,
        ..UdpConfig::loopback(0)
    };
    let server = UdpEchoServer::bind(config).await.map_err(echo_err)?;
    let addr = server.local_addr();
    let stats = server.stats();
    let (trigger, signal) = shutdown::channel();
    tokio::spawn(server.run(signal));
    Ok((Running { addr, trigger }, stats))
}

pub async fn timed<T>(
    what: &str,
    f: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, LabError> {
    match timeout(STEP_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(LabError::Experiment(format!("{what}: {e}"))),
        Err(_) => Err(LabError::Experiment(format!(
            "{what}: no answer within {STEP_TIMEOUT:?}"
        ))),
    }
}

/// What a client saw of one TCP exchange.
#[derive(Debug, Clone)]
pub struct TcpExchange {
    pub echoes: Vec<Vec<u8>>,
    /// The client socket's own address and its peer's, as the socket API reports them.
    pub local: SocketAddr,
    pub peer: SocketAddr,
}

/// One TCP connection: each payload written and its echo read back in full before the next, then
/// a clean close (our FIN, the server's FIN).
pub async fn tcp_exchange(addr: SocketAddr, payloads: &[&[u8]]) -> Result<TcpExchange, LabError> {
    let mut stream = timed("connecting", TcpStream::connect(addr)).await?;
    let io = |e: std::io::Error| LabError::Experiment(format!("socket address: {e}"));
    let local = stream.local_addr().map_err(io)?;
    let peer = stream.peer_addr().map_err(io)?;
    let mut echoes = Vec::new();
    for p in payloads {
        timed("sending", stream.write_all(p)).await?;
        let mut buf = vec![0u8; p.len()];
        timed("reading the echo", stream.read_exact(&mut buf)).await?;
        echoes.push(buf);
    }
    close_tcp(stream).await?;
    Ok(TcpExchange {
        echoes,
        local,
        peer,
    })
}

/// Half-closes our side and waits for the server's end of stream, so the whole teardown is on
/// the wire before the capture stops.
pub async fn close_tcp(mut stream: TcpStream) -> Result<(), LabError> {
    timed("closing", stream.shutdown()).await?;
    let mut rest = Vec::new();
    timed(
        "waiting for the server to close",
        stream.read_to_end(&mut rest),
    )
    .await?;
    Ok(())
}

/// One UDP socket: each payload sent as one datagram and its echo received before the next.
pub async fn udp_exchange(addr: SocketAddr, payloads: &[&[u8]]) -> Result<Vec<Vec<u8>>, LabError> {
    let socket = timed("binding a UDP socket", UdpSocket::bind("127.0.0.1:0")).await?;
    timed("connecting the UDP socket", socket.connect(addr)).await?;
    let mut echoes = Vec::new();
    for p in payloads {
        timed("sending a datagram", socket.send(p)).await?;
        echoes.push(recv_one(&socket).await?);
    }
    Ok(echoes)
}

/// Receives one datagram (whole: the buffer fits the largest UDP payload).
pub async fn recv_one(socket: &UdpSocket) -> Result<Vec<u8>, LabError> {
    let mut buf = vec![0u8; 65536];
    let n = timed("receiving a datagram", socket.recv(&mut buf)).await?;
    buf.truncate(n);
    Ok(buf)
}
