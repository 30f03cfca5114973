//! Telling a running server to stop.
//!
//! [`channel`] gives a [`ShutdownTrigger`] (kept by whoever owns the server: a test, a lab, the
//! CLI's Ctrl-C handler) and a [`Shutdown`] (handed to `run`). A `watch` channel is used because
//! every connection task needs its own copy of the signal and must see a shutdown that happened
//! before it started listening. Dropping the trigger also counts as a shutdown, so a server never
//! outlives the code that started it.

use tokio::sync::watch;

/// Fires the shutdown. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Waits for the shutdown. Cheap to clone; every clone sees the same event.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

/// A connected trigger and signal.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    /// Asks every holder of the matching [`Shutdown`] to stop. Idempotent.
    pub fn fire(&self) {
        self.0.send_replace(true);
    }

    /// A new signal for this trigger (for a second server stopped by the same event).
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

impl Shutdown {
    /// Completes once the trigger fired or was dropped.
    pub async fn wait(&mut self) {
        // `wait_for` returns at once if the value is already true; an error means the trigger
        // is gone, which we treat the same way.
        let _ = self.0.wait_for(|fired| *fired).await;
    }

    /// True if the shutdown already happened.
    pub fn is_fired(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }
}
