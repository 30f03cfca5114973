//! The HTTP listener: our own accept loop around hyper, for three things `axum::serve` does not
//! offer: a limit on open connections (one more is told `503` and closed), a deadline for the
//! request headers (thousands of half-open requests cost a timer each, then nothing), and the
//! peer address on every request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tower::ServiceExt;

use netlab_events::server::{self, say_goodbye};

use crate::app::Web;
use crate::error::WebError;

/// One open connection's place under [`crate::WebOptions::max_connections`]. A WebSocket keeps
/// a clone after hyper hands the socket over, so the place is held until the socket closes.
#[derive(Clone)]
pub struct ConnSlot(#[allow(dead_code)] Arc<OwnedSemaphorePermit>);

/// A running HTTP server.
pub struct WebServer {
    addr: SocketAddr,
    web: Web,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl WebServer {
    /// Bind `addr` (port 0 for any free port) and serve [`Web::router`].
    pub async fn bind(addr: SocketAddr, web: Web) -> Result<WebServer, WebError> {
        let router = web.router();
        WebServer::bind_router(addr, web, router).await
    }

    /// Bind `addr` and serve `router`, which is [`Web::router`] plus whatever a later transport
    /// merged into it. `web` gives the limits and the shutdown.
    pub async fn bind_router(
        addr: SocketAddr,
        web: Web,
        router: Router,
    ) -> Result<WebServer, WebError> {
        if !addr.ip().is_loopback() {
            tracing::warn!("binding http {addr}: reachable from other machines, not just this one");
        }
        let listener = server::listen(addr).map_err(|source| WebError::Bind { addr, source })?;
        let addr = listener.local_addr()?;
        let (stop, rx) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(web.options().max_connections));
        let header_timeout = web.options().header_timeout;
        let accept = tokio::spawn(accept_loop(listener, router, slots, header_timeout, rx));
        Ok(WebServer {
            addr,
            web,
            stop,
            accept,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn web(&self) -> &Web {
        &self.web
    }

    /// Stop accepting, answer held requests, tell every event-protocol client "server shutting
    /// down", and give their writers a moment to flush.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.accept.await;
        self.web.stop();
        say_goodbye(self.web.hub()).await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    slots: Arc<Semaphore>,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    match slots.clone().try_acquire_owned() {
                        Ok(permit) => {
                            let slot = ConnSlot(Arc::new(permit));
                            let conn = serve(stream, peer, router.clone(), slot, header_timeout, stop.clone());
                            tokio::spawn(conn);
                        }
                        Err(_) => {
                            tokio::spawn(refuse(stream));
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!("http accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

/// Serve one connection's requests (keep-alive) until it closes or the server stops.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    slot: ConnSlot,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(slot.clone());
        router.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!("http connection from {peer} ended: {e}");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
    }
}

/// Past the connection limit: say so in one response and close.
async fn refuse(mut stream: TcpStream) {
    let body = r#"{"error":"too_many_connections","message":"the server has as many connections open as it allows; try again in a moment"}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}
