//! What an application registers on a namespace: middleware, connection hooks and handlers.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::ctx::Ctx;

/// An incoming event, as a handler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub ns: String,
    pub name: String,
    pub args: Vec<Value>,
    /// The ack id the sender asked for; reply with [`Ctx::ack`].
    pub ack: Option<u64>,
    /// Set when the sender emitted it reliably (the server deduplicates by it).
    pub seq: Option<u64>,
}

/// What connection middleware sees: it may refuse the socket, or fill in `data` for handlers.
#[derive(Debug)]
pub struct Handshake {
    pub ns: String,
    pub auth: Value,
    /// True when the client asked to resume an earlier session.
    pub resuming: bool,
    /// Becomes the socket's data (see [`Ctx::data`]); e.g. a display name taken from `auth`.
    pub data: Map<String, Value>,
}

pub type Middleware = Arc<dyn Fn(&mut Handshake) -> Result<(), String> + Send + Sync>;
pub type Handler = Arc<dyn Fn(&mut Ctx<'_>, &Event) + Send + Sync>;
pub type ConnectHook = Arc<dyn Fn(&mut Ctx<'_>) + Send + Sync>;
pub type DisconnectHook = Arc<dyn Fn(&mut Ctx<'_>, &str) + Send + Sync>;

/// The application side of one namespace. Handlers run inside the core, synchronously, so they
/// must not block; work that waits goes to a task that later emits through a server handle.
#[derive(Default, Clone)]
pub struct Namespace {
    pub(crate) middleware: Vec<Middleware>,
    pub(crate) on_connect: Vec<ConnectHook>,
    pub(crate) on_disconnect: Vec<DisconnectHook>,
    pub(crate) handlers: HashMap<String, Handler>,
    pub(crate) catch_all: Option<Handler>,
}

impl Namespace {
    /// Connection middleware, run in order on every connect; `Err(reason)` refuses the socket
    /// with a `connect_error` carrying that reason.
    pub fn use_middleware(
        &mut self,
        f: impl Fn(&mut Handshake) -> Result<(), String> + Send + Sync + 'static,
    ) -> &mut Self {
        self.middleware.push(Arc::new(f));
        self
    }

    /// Runs for each socket once it is connected (again after a resume, which middleware sees in
    /// [`Handshake::resuming`]).
    pub fn on_connection(&mut self, f: impl Fn(&mut Ctx<'_>) + Send + Sync + 'static) -> &mut Self {
        self.on_connect.push(Arc::new(f));
        self
    }

    /// Runs when a socket leaves, with the reason ("transport close", "ping timeout", ...).
    pub fn on_disconnect(
        &mut self,
        f: impl Fn(&mut Ctx<'_>, &str) + Send + Sync + 'static,
    ) -> &mut Self {
        self.on_disconnect.push(Arc::new(f));
        self
    }

    /// Handle the event `name` for every socket of the namespace.
    pub fn on(
        &mut self,
        name: &str,
        f: impl Fn(&mut Ctx<'_>, &Event) + Send + Sync + 'static,
    ) -> &mut Self {
        self.handlers.insert(name.to_string(), Arc::new(f));
        self
    }

    /// Catch-all: runs for every incoming event, after the named handler if there is one.
    pub fn on_any(
        &mut self,
        f: impl Fn(&mut Ctx<'_>, &Event) + Send + Sync + 'static,
    ) -> &mut Self {
        self.catch_all = Some(Arc::new(f));
        self
    }
}
