//! A bare tokio echo, the yardstick for benchmarks: what the features of [`tcp`](crate::tcp)
//! and [`udp`](crate::udp) cost is measured as a ratio against these.
//!
//! No options, no limits, no counters: the TCP one is tokio's copy loop per connection, the UDP
//! one is `recv_from` then `send_to`. Not for anything but measurement.

use std::net::SocketAddr;

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
                        let (mut rd, mut wr) = stream.split();
                        tokio::select! {
                            _ = tokio::io::copy(&mut rd, &mut wr) => {}
                            _ = stop.wait() => {}
                        }
                    });
                }
            }
        }
    });
    Ok(local)
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
