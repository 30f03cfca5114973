//! A bare tokio echo, the yardstick for benchmarks: what the features of [`tcp`](crate::tcp)
//! and [`udp`](crate::udp) cost is measured as a ratio against these.
//!
//! No options, no limits, no counters: the TCP one is a read/write copy loop per connection, the
//! UDP one is `recv_from` then `send_to`. Not for anything but measurement.
//!
//! The TCP loop reads into a 64 KiB buffer, the same size as [`TcpConfig::read_buffer`]'s
//! default (`tokio::io::copy` would use 8 KiB and lose to netlab for that reason alone, which is
//! not a feature's cost).
//!
//! [`TcpConfig::read_buffer`]: crate::TcpConfig

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

use crate::shutdown::Shutdown;

/// Binds a bare TCP echo on `addr` and serves it in a spawned task until `shutdown`.
pub async fn spawn_tcp(addr: SocketAddr, mut shutdown: Shutdown) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                Ok((mut stream, _)) = listener.accept() => {
                    let _ = stream.set_nodelay(true);
                    let mut stop = shutdown.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = copy_loop(&mut stream) => {}
                            _ = stop.wait() => {}
                        }
                    });
                }
            }
        }
    });
    Ok(local)
}

async fn copy_loop(stream: &mut tokio::net::TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return stream.shutdown().await;
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// Binds a bare UDP echo on `addr` and serves it in a spawned task until `shutdown`.
pub async fn spawn_udp(addr: SocketAddr, mut shutdown: Shutdown) -> std::io::Result<SocketAddr> {
    let socket = UdpSocket::bind(addr).await?;
    let local = socket.local_addr()?;
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                Ok((n, peer)) = socket.recv_from(&mut buf) => {
                    let _ = socket.send_to(&buf[..n], peer).await;
                }
            }
        }
    });
    Ok(local)
}
