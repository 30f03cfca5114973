//! The line client: text from a reader goes to the server, the echo goes to a writer.
//!
//! Over TCP the bytes are copied both ways at once; at the end of the input the client shuts its
//! write side (half-close) and keeps reading until the server has echoed everything and closed.
//! Over UDP each line is one datagram (without its newline) and its echo is printed as one line.
//! Works in a pipe: `printf 'a\nb\n' | netlab echo client tcp 127.0.0.1:7007`.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::{EchoError, MAX_UDP_PAYLOAD, Proto, sock};

/// What the line client moved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LineReport {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// UDP only: datagrams sent (one per line).
    pub datagrams: u64,
}

/// Sends `input` to `target` and writes the echo to `output`. `wait` bounds every wait for the
/// server (the TCP handshake, each UDP echo, the end of the TCP echo after the input ends).
pub async fn line_client<R, W>(
    proto: Proto,
    target: SocketAddr,
    input: R,
    output: W,
    wait: Duration,
) -> Result<LineReport, EchoError>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    match proto {
        Proto::Tcp => tcp_lines(target, input, output, wait).await,
        Proto::Udp => udp_lines(target, input, output, wait).await,
    }
}

async fn tcp_lines<R, W>(
    target: SocketAddr,
    mut input: R,
    mut output: W,
    wait: Duration,
) -> Result<LineReport, EchoError>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let proto = Proto::Tcp;
    let stream = timeout(wait, TcpStream::connect(target))
        .await
        .map_err(|_| EchoError::timeout("the TCP handshake", wait, proto))?
        .map_err(|e| EchoError::from_io(target, proto, "cannot connect to", e))?;
    let (mut rd, mut wr) = stream.into_split();
    let send = async {
        let n = tokio::io::copy_buf(&mut input, &mut wr).await?;
        wr.shutdown().await?; // half-close: "no more from me"
        Ok::<_, std::io::Error>(n)
    };
    let receive = async {
        let n = tokio::io::copy(&mut rd, &mut output).await?;
        output.flush().await?;
        Ok::<_, std::io::Error>(n)
    };
    tokio::pin!(receive);
    // Input may take forever (a person typing); only the wait after it ends is bounded.
    let (sent, early) = tokio::select! {
        sent = send => (sent, None),
        received = &mut receive => (Ok(0), Some(received)),
    };
    let sent = sent.map_err(|e| EchoError::from_io(target, proto, "cannot send to", e))?;
    let received = match early {
        // The server closed first: it is full, stopped, or timed us out.
        Some(received) => {
            received.map_err(|e| EchoError::from_io(target, proto, "from", e))?;
            return Err(EchoError::ClosedEarly { addr: target });
        }
        None => timeout(wait, receive)
            .await
            .map_err(|_| EchoError::timeout("the rest of the echo", wait, proto))?
            .map_err(|e| EchoError::from_io(target, proto, "from", e))?,
    };
    Ok(LineReport {
        bytes_sent: sent,
        bytes_received: received,
        datagrams: 0,
    })
}

async fn udp_lines<R, W>(
    target: SocketAddr,
    input: R,
    mut output: W,
    wait: Duration,
) -> Result<LineReport, EchoError>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let proto = Proto::Udp;
    let socket = sock::udp_client(target).await?;
    let mut lines = input.lines();
    let mut buf = vec![0u8; MAX_UDP_PAYLOAD + 1];
    let mut report = LineReport::default();
    let write_err = |e| EchoError::io("cannot write the echo", e);
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| EchoError::io("cannot read the input", e))?
    {
        crate::check_udp_size(line.len())?;
        socket
            .send(line.as_bytes())
            .await
            .map_err(|e| EchoError::from_io(target, proto, "cannot send to", e))?;
        let n = timeout(wait, socket.recv(&mut buf))
            .await
            .map_err(|_| EchoError::timeout("the echo of a line", wait, proto))?
            .map_err(|e| EchoError::from_io(target, proto, "from", e))?;
        output.write_all(&buf[..n]).await.map_err(write_err)?;
        output.write_all(b"\n").await.map_err(write_err)?;
        output.flush().await.map_err(write_err)?;
        report.bytes_sent += line.len() as u64;
        report.bytes_received += n as u64;
        report.datagrams += 1;
    }
    Ok(report)
}
