//! Waiting for a polite stop: Ctrl-C (SIGINT) or SIGTERM (what `kill` and service managers send).
//!
//! The handlers are installed by [`StopSignals::install`], eagerly: a server installs them
//! *before* it prints `listening on ...`, so a supervisor (or a test) that sends SIGTERM as soon
//! as it reads that line gets a graceful stop, not the default "die at once".

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Installed SIGINT and SIGTERM handlers.
pub struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl StopSignals {
    /// Installs the handlers now (needs a tokio runtime).
    pub fn install() -> anyhow::Result<Self> {
        let install = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| anyhow::Error::new(e).context(format!("cannot handle {name}")))
        };
        Ok(StopSignals {
            interrupt: install(SignalKind::interrupt(), "Ctrl-C")?,
            terminate: install(SignalKind::terminate(), "SIGTERM")?,
        })
    }

    /// Completes on the first Ctrl-C or SIGTERM and says which it was.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "Ctrl-C",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

/// Completes on the first Ctrl-C or SIGTERM. The handlers are installed when this is first
/// polled; a server that prints its address should call [`StopSignals::install`] before that.
pub async fn stop_requested() -> &'static str {
    match StopSignals::install() {
        Ok(mut signals) => signals.recv().await,
        Err(err) => {
            tracing::warn!("{err:#}; only Ctrl-C will stop this");
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
