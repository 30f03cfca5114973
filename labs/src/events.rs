//! The event labs' (08 to 10) experiments: netlab-events servers on 127.0.0.1, port 0, whose
//! trace the lab can show, and [`Wire`], a client that speaks the protocol one frame at a time so
//! that every frame and every byte a lab talks about is one the lab itself sent or read.
//!
//! Why not netlab-events' own client? It does the right thing silently (reconnects, resumes,
//! drops events nobody handles, deduplicates replays); a lab must show each of those steps
//! happening, so it drives the frames itself. The server side is the real netlab-events server.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netlab_events::Frame;
use netlab_events::codec::{DEFAULT_MAX_FRAME_BYTES, LineDecoder, encode_line};
use netlab_events::core::{Config, Core, Note, Stats};
use netlab_events::frame::Resume;
use netlab_events::server::{Server, ServerHandle, ServerOptions, Trace};
use netlab_events::store::Store;
use netlab_inspect::Packet;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::LabError;
use crate::packets::LabPacket;
use crate::render;
use crate::servers::{STEP_TIMEOUT, timed};
use crate::style::Style;

/// How long a client listens before it concludes that nothing more is coming. Loopback
/// delivers in microseconds; this is for "did anything come back at all?".
pub const QUIET: Duration = Duration::from_millis(150);

fn events_err(e: netlab_events::EventsError) -> LabError {
    LabError::Experiment(e.to_string())
}

/// A netlab-events server on a free loopback port, recording its trace (what `netlab events
/// serve --trace` prints) for the lab to show.
pub struct EventServer {
    server: Server,
    trace: Arc<Mutex<Vec<Trace>>>,
}

impl EventServer {
    /// Binds 127.0.0.1:`port` (0 for any) with the application `install` puts on the core.
    pub async fn start(
        config: Config,
        port: u16,
        store: Option<Box<dyn Store>>,
        install: impl FnOnce(&mut Core),
    ) -> Result<EventServer, LabError> {
        let mut core = Core::new(Config {
            trace: true,
            ..config
        });
        install(&mut core);
        let trace = Arc::new(Mutex::new(Vec::new()));
        let sink = trace.clone();
        let opts = ServerOptions {
            store,
            trace: Some(Arc::new(move |t| {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(t);
            })),
            ..ServerOptions::default()
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let server = Server::bind(addr, core, opts).await.map_err(events_err)?;
        Ok(EventServer { server, trace })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The server's counters: volatile events dropped, default events lost while away, ...
    pub fn stats(&self) -> Stats {
        self.handle().with(|c, _| c.stats().clone())
    }

    /// Everything traced so far, as `--trace` prints it, and forgets it.
    pub fn take_trace(&self) -> Vec<String> {
        let taken = std::mem::take(&mut *self.trace.lock().unwrap_or_else(|p| p.into_inner()));
        taken.iter().filter_map(trace_line).collect()
    }

    pub async fn stop(self) {
        let _ = tokio::time::timeout(STEP_TIMEOUT, self.server.shutdown()).await;
    }
}

/// One trace entry as `netlab events serve --trace` prints it (frames in and out, dropped
/// events); opens and closes are left out, they carry nothing the labs discuss.
fn trace_line(t: &Trace) -> Option<String> {
    Some(match t {
        Trace::In { conn, frame } => format!("#{conn} <- {}", frame.to_json()),
        Trace::Out { conn, frame } => format!("#{conn} -> {}", frame.to_json()),
        Trace::Note(Note::Unhandled { conn, event }) => format!(
            "#{conn} !! dropped event {:?} on {}: no handler for it",
            event.name, event.ns
        ),
        Trace::Note(Note::VolatileDropped { conn, name }) => {
            format!("#{conn} !! dropped volatile event {name:?}: send queue half full")
        }
        _ => return None,
    })
}

/// The bytes one frame takes on the wire: its JSON line and the newline (the server writes
/// exactly this, so it is also the TCP payload a capture shows).
pub fn wire_len(f: &Frame) -> usize {
    encode_line(f).len()
}

/// A client that speaks the event protocol one frame at a time and counts the bytes.
pub struct Wire {
    stream: TcpStream,
    decoder: LineDecoder,
    /// Frames decoded but not returned yet (one read may bring several).
    ready: VecDeque<Frame>,
    pub bytes_in: usize,
    pub bytes_out: usize,
}

impl Wire {
    /// Connects and reads the server's `hello`.
    pub async fn connect(addr: SocketAddr) -> Result<Wire, LabError> {
        let stream = timed("connecting to the event server", TcpStream::connect(addr)).await?;
        let _ = stream.set_nodelay(true);
        let mut wire = Wire {
            stream,
            decoder: LineDecoder::new(DEFAULT_MAX_FRAME_BYTES),
            ready: VecDeque::new(),
            bytes_in: 0,
            bytes_out: 0,
        };
        match wire.recv(STEP_TIMEOUT).await? {
            Some(Frame::Hello { .. }) => Ok(wire),
            other => Err(LabError::Experiment(format!(
                "expected hello from the event server, got {other:?}"
            ))),
        }
    }

    pub fn local_port(&self) -> u16 {
        self.stream.local_addr().map_or(0, |a| a.port())
    }

    /// Writes one frame; returns its size in bytes.
    pub async fn send(&mut self, f: &Frame) -> Result<usize, LabError> {
        let line = encode_line(f);
        timed("sending a frame", self.stream.write_all(&line)).await?;
        self.bytes_out += line.len();
        Ok(line.len())
    }

    /// Emits an event on `ns`, with an ack id if given; returns the bytes written.
    pub async fn emit(
        &mut self,
        ns: &str,
        name: &str,
        args: Vec<Value>,
        ack: Option<u64>,
    ) -> Result<usize, LabError> {
        let f = Frame::Event {
            ns: ns.to_string(),
            name: name.to_string(),
            args,
            ack,
            seq: None,
        };
        self.send(&f).await
    }

    /// The next frame, or `None` if none arrives `within`. A `ping` is answered and skipped.
    /// An end of stream is an error: the labs' servers do not close on their clients.
    pub async fn recv(&mut self, within: Duration) -> Result<Option<Frame>, LabError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(f) = self.ready.pop_front() {
                if f == Frame::Ping {
                    self.send(&Frame::Pong).await?;
                    continue;
                }
                return Ok(Some(f));
            }
            let mut buf = [0u8; 8192];
            let n = match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return Ok(None),
                Ok(r) => r.map_err(|e| LabError::Experiment(format!("reading frames: {e}")))?,
            };
            if n == 0 {
                return Err(LabError::Experiment(
                    "the event server closed the connection".into(),
                ));
            }
            self.decoder.feed(&buf[..n]);
            while let Some(f) = self
                .decoder
                .next_frame()
                .map_err(|e| LabError::Experiment(format!("a bad frame from the server: {e}")))?
            {
                self.bytes_in += wire_len(&f);
                self.ready.push_back(f);
            }
        }
    }

    /// Frames until one matches `done` (included), within [`STEP_TIMEOUT`].
    pub async fn recv_until(
        &mut self,
        what: &str,
        done: impl Fn(&Frame) -> bool,
    ) -> Result<Vec<Frame>, LabError> {
        let start = Instant::now();
        let mut out = Vec::new();
        while let Some(left) = STEP_TIMEOUT.checked_sub(start.elapsed()) {
            match self.recv(left).await? {
                Some(f) => {
                    let stop = done(&f);
                    out.push(f);
                    if stop {
                        return Ok(out);
                    }
                }
                None => break,
            }
        }
        Err(LabError::Experiment(format!(
            "waiting for {what}: not there within {STEP_TIMEOUT:?} (got {out:?})"
        )))
    }

    /// Every frame that arrives until none has for [`QUIET`].
    pub async fn until_quiet(&mut self) -> Result<Vec<Frame>, LabError> {
        let mut out = Vec::new();
        while let Some(f) = self.recv(QUIET).await? {
            out.push(f);
        }
        Ok(out)
    }

    /// Sends `connect` for `ns` and returns the answer: `connected` or `connect_error`.
    pub async fn join_ns(
        &mut self,
        ns: &str,
        auth: Option<Value>,
        resume: Option<Resume>,
    ) -> Result<Frame, LabError> {
        self.send(&Frame::Connect {
            ns: ns.to_string(),
            auth,
            resume,
        })
        .await?;
        let frames = self
            .recv_until("the answer to connect", |f| {
                matches!(f, Frame::Connected { ns: n, .. } | Frame::ConnectError { ns: n, .. } if n == ns)
            })
            .await?;
        // Frames before the answer would be a server bug; the answer is the last one.
        Ok(frames
            .into_iter()
            .last()
            .expect("recv_until returns the match"))
    }

    /// Closes cleanly: our FIN, then the server's, so the teardown is in the capture.
    pub async fn close(self) -> Result<(), LabError> {
        crate::servers::close_tcp(self.stream).await
    }
}

/// The session token and the socket id in a `connected` frame.
pub fn session_of(f: &Frame) -> Option<(String, String, bool)> {
    match f {
        Frame::Connected {
            sid,
            session,
            recovered,
            ..
        } => Some((sid.clone(), session.clone(), *recovered)),
        _ => None,
    }
}

/// The events named `name` among `frames`.
pub fn events_named<'a>(frames: &'a [Frame], name: &'a str) -> impl Iterator<Item = &'a Frame> {
    frames
        .iter()
        .filter(move |f| matches!(f, Frame::Event { name: n, .. } if n == name))
}

/// One frame as a capture shows it: in which packet its line ended, which way it went, its size
/// and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedFrame {
    pub packet: u64,
    pub to_server: bool,
    pub bytes: usize,
    pub json: String,
    /// The frame decoded, when the line is one.
    pub frame: Option<Frame>,
}

/// The event frames of the TCP conversations in a capture, read from the payloads: each
/// direction's bytes in order (a repeated sequence number is a retransmission and counted once),
/// cut at newlines. The server is whoever the first SYN went to (a shipped capture was made by
/// an earlier run, on another port).
pub fn captured_frames(pkts: &[Packet]) -> Vec<CapturedFrame> {
    let mut out = Vec::new();
    let Some(server_port) = pkts
        .iter()
        .find(|p| p.flag("tcp.flags.syn") && !p.flag("tcp.flags.ack"))
        .and_then(Packet::dst_port)
    else {
        return out;
    };
    // Per direction of each connection (source port, destination port): the next sequence
    // number, and the bytes of a line not ended yet.
    let mut next: HashMap<(u64, u64), u64> = HashMap::new();
    let mut partial: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    for p in pkts.iter().filter(|p| p.is_tcp() && p.payload_len() > 0) {
        let to_server = p.dst_port() == Some(server_port);
        if !to_server && p.src_port() != Some(server_port) {
            continue;
        }
        let dir = (p.src_port().unwrap_or(0), p.dst_port().unwrap_or(0));
        let seq = p.num("tcp.seq_raw").unwrap_or(0);
        if next.get(&dir).is_some_and(|n| seq < *n) {
            continue;
        }
        next.insert(dir, seq + p.payload_len());
        let partial = partial.entry(dir).or_default();
        partial.extend_from_slice(p.payload());
        while let Some(end) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line[..end]).into_owned();
            out.push(CapturedFrame {
                packet: p.number,
                to_server,
                bytes: line.len(),
                frame: Frame::decode(&line[..end]).ok(),
                json: text,
            });
        }
    }
    out
}

/// The captured frames as a table: packet, direction, bytes, the JSON as it crossed.
pub fn frames_table(frames: &[CapturedFrame], style: Style) -> String {
    let mut t = render::table(
        &["No.", "direction", "bytes", "frame (one JSON line)"],
        style,
    );
    render::keep_whole(&mut t, &[0, 2]);
    for f in frames {
        t.add_row(vec![
            f.packet.to_string(),
            if f.to_server {
                "client → server"
            } else {
                "server → client"
            }
            .to_string(),
            f.bytes.to_string(),
            break_json(&f.json),
        ]);
    }
    t.to_string()
}

/// JSON has no spaces to wrap at; a space after each comma lets a narrow table wrap it between
/// fields instead of cutting a field in two.
fn break_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        out.push(c);
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ',' if !in_string => out.push(' '),
            _ => {}
        }
    }
    out
}

/// A short text list of trace lines for a lab to show.
pub fn trace_block(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn break_json_adds_spaces_between_fields_only() {
        assert_eq!(
            break_json(r#"{"a":"x,y","b":[1,2]}"#),
            r#"{"a":"x,y", "b":[1, 2]}"#
        );
        assert_eq!(
            break_json(r#"{"a":"q\",","b":1}"#),
            r#"{"a":"q\",", "b":1}"#
        );
    }

    #[test]
    fn wire_len_counts_the_newline() {
        let f = Frame::event("/", "x", vec![]);
        assert_eq!(wire_len(&f), f.to_json().len() + 1);
    }
}
