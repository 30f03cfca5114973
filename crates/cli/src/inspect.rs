//! `netlab inspect ...`: read a capture file, capture live, list interfaces. Thin: the work is
//! in netlab-inspect (capfile, live, dissect, filter, render); this module wires a source through
//! dissect -> filter -> the chosen view, one packet at a time.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use netlab_inspect::capfile::{CaptureFormat, CaptureReader, CaptureWriter};
use netlab_inspect::filter::Filter;
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::live::{self, CaptureStats, LiveCapture, LiveConfig};
use netlab_inspect::render::{self, Clock, Style, TimeFormat, stats::Stats};
use netlab_inspect::{InspectError, Packet, RawPacket};

use crate::exit;
use crate::output::OutputArgs;

#[derive(Subcommand, Debug)]
pub enum InspectCommand {
    /// Read a pcap or pcapng file and show its packets.
    #[command(after_help = FILTER_HELP)]
    Read {
        /// The capture file (pcap or pcapng, from tcpdump, Wireshark or `inspect live -w`);
        /// `-` reads standard input (`tcpdump -w - | netlab inspect read -`).
        file: PathBuf,
        /// Display filter, e.g. `tcp and port 7007` (quotes optional).
        filter: Vec<String>,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Capture live from an interface (needs CAP_NET_RAW or root).
    #[command(after_help = FILTER_HELP)]
    Live {
        /// Interface to capture on; `any` for all.
        #[arg(short, long, default_value = "lo")]
        interface: String,
        /// Display filter, e.g. `udp port 7007` (quotes optional).
        filter: Vec<String>,
        /// Stop after this many packets have been shown.
        #[arg(short = 'c', long)]
        count: Option<u64>,
        /// Also save the shown packets to this file (pcapng; pcap if the name ends in .pcap).
        #[arg(short = 'w', long)]
        write: Option<PathBuf>,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Show the reassembled payload of one TCP stream, both directions in order.
    Follow {
        /// The capture file.
        file: PathBuf,
        /// The stream index, as in `tcp.stream` (the Stream column of `--stats`).
        #[arg(long)]
        stream: u32,
        /// One JSON object for the stream, then one per chunk of data.
        #[arg(long)]
        json: bool,
    },
    /// List the interfaces you can capture on.
    Interfaces {
        #[command(flatten)]
        out: OutputArgs,
    },
}

const FILTER_HELP: &str = "Filters: tcp, udp, icmp, arp, dns, http, ws, tls, events, echo; \
port N; host ADDR; src/dst; fields such as tcp.flags.syn, ip.ttl > 60, tcp.port == 80; \
and/or/not, &&/||/!, parentheses. See docs/src/inspect-filters.md.";

/// How packets are shown; shared by `read` and `live`.
#[derive(Args, Debug, Clone)]
pub struct ViewArgs {
    /// Show the layer tree (every field, its offset and length) under each packet; with --json,
    /// the full JSON schema (labels, offsets, lengths, notes) instead of the lean one.
    #[arg(long)]
    pub detail: bool,
    /// Show a hex dump coloured by layer under each packet.
    #[arg(long)]
    pub hex: bool,
    /// With --hex: highlight the bytes of this field, e.g. tcp.dstport.
    #[arg(long, value_name = "FIELD", requires = "hex")]
    pub highlight: Option<String>,
    /// One JSON object per packet (schema: docs/src/inspect-json.md); add --detail for the full
    /// schema.
    #[arg(long, conflicts_with = "hex")]
    pub json: bool,
    /// Instead of packets: protocol hierarchy, bytes per layer and conversations (the first
    /// 1,000, then one `other` row), at the end.
    #[arg(long, conflicts_with_all = ["detail", "hex"])]
    pub stats: bool,
    /// Time column: absolute (UTC), relative to the first packet, or delta from the previous.
    #[arg(long, value_enum, default_value_t = TimeArg::Rel)]
    pub time: TimeArg,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum TimeArg {
    Abs,
    Rel,
    Delta,
}

impl From<TimeArg> for TimeFormat {
    fn from(t: TimeArg) -> Self {
        match t {
            TimeArg::Abs => TimeFormat::Abs,
            TimeArg::Rel => TimeFormat::Rel,
            TimeArg::Delta => TimeFormat::Delta,
        }
    }
}

/// Run a command; errors say whether they are usage errors (exit 2) or runtime errors (exit 1).
pub fn run(cmd: InspectCommand) -> anyhow::Result<()> {
    let result = match cmd {
        InspectCommand::Read { file, filter, view } => read(&file, &filter.join(" "), &view),
        InspectCommand::Live {
            interface,
            filter,
            count,
            write,
            view,
        } => capture(
            &interface,
            &filter.join(" "),
            count,
            write.as_deref(),
            &view,
        ),
        InspectCommand::Follow { file, stream, json } => follow(&file, stream, json),
        InspectCommand::Interfaces { out } => interfaces(&out),
    };
    match result {
        Err(e) if e.is::<io::Error>() && is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

/// An `InspectError` as an anyhow error, marked as usage (exit 2) when the input was at fault.
fn classify(e: InspectError) -> anyhow::Error {
    match e {
        InspectError::Filter { .. } | InspectError::NoSuchInterface { .. } => exit::usage(e),
        other => other.into(),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

/// Standard output for the views: a buffer written out in pieces of at least [`Out::PIECE`]
/// bytes, and only between packets, so that a reader of a pipe never sees half a packet.
struct Out<W: Write> {
    buf: Vec<u8>,
    inner: W,
}

impl<W: Write> Out<W> {
    const PIECE: usize = 64 * 1024;

    fn new(inner: W) -> Self {
        Out {
            buf: Vec::with_capacity(Self::PIECE + 16 * 1024),
            inner,
        }
    }

    /// Write the buffer out once it holds a piece's worth: called after each packet.
    fn packet_done(&mut self) -> io::Result<()> {
        if self.buf.len() >= Self::PIECE {
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl<W: Write> Write for Out<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        self.inner.flush()
    }
}

/// Shows packets in the chosen view, one at a time.
struct Pipeline {
    filter: Filter,
    view: View,
    /// Stream indexes, relative seq/ack, hints, WebSocket after an upgrade; conversations.
    flows: FlowTracker,
    /// The packet just pushed. It is refilled by the next one, which then reuses its storage
    /// (see `FlowTracker::process_into`). Its `number` counts the packets read so far.
    packet: Packet,
    shown: u64,
}

/// The chosen view and what it keeps from packet to packet.
struct View {
    args: ViewArgs,
    style: Style,
    clock: Clock,
    stats: Stats,
    header_done: bool,
}

impl Pipeline {
    fn new(filter: &str, view: &ViewArgs) -> anyhow::Result<Self> {
        let filter = Filter::parse(filter).map_err(classify)?;
        let mut flows = FlowTracker::new();
        // The one-line view and --stats show no fields and no notes: unless the filter reads
        // fields, the dissector need not record them.
        let summaries = view.stats || !(view.json || view.detail || view.hex);
        flows.set_summaries_only(summaries && !filter.needs_fields());
        Ok(Pipeline {
            filter,
            view: View {
                args: view.clone(),
                style: Style::detect(io::stdout().is_terminal()),
                clock: Clock::default(),
                stats: Stats::new(),
                header_done: false,
            },
            flows,
            packet: Packet::default(),
            shown: 0,
        })
    }

    /// Dissect, filter and show one packet; returns whether it was shown (it is then
    /// `self.packet`). `raw` is swapped with the previous packet's, so a reader can refill
    /// that one's buffer instead of allocating another.
    fn push<W: Write>(&mut self, raw: &mut RawPacket, w: &mut Out<W>) -> io::Result<bool> {
        self.view.clock.saw(raw.ts);
        // Filled in place: a `Packet` is a few hundred bytes, and moving it in and out cost
        // more than some of the layers' decoding.
        let p = &mut self.packet;
        std::mem::swap(&mut p.raw, raw);
        p.number += 1;
        // Every packet goes through the tracker, shown or not: stream numbers and relative
        // sequence numbers must not depend on the filter.
        p.flow = self.flows.process_into(&p.raw, &mut p.dissection);
        if !self.filter.matches(&self.packet) {
            return Ok(false);
        }
        self.shown += 1;
        self.view.show(&self.packet, w)?;
        w.packet_done()?;
        Ok(true)
    }

    fn finish(&self, w: &mut impl Write) -> io::Result<()> {
        let v = &self.view;
        if v.args.stats {
            // Conversations are over every packet read, like the stream numbers.
            let convs = self.flows.conversations();
            if v.args.json {
                v.stats.write_json(w)?;
                render::stats::write_conversations_json(w, &convs)?;
            } else {
                v.stats.write(w)?;
                render::stats::write_conversations(w, &convs)?;
            }
        }
        w.flush()
    }
}

impl View {
    fn show<W: Write>(&mut self, p: &Packet, w: &mut Out<W>) -> io::Result<()> {
        let v = &self.args;
        if v.stats {
            self.stats.add(p);
            return Ok(());
        }
        if v.json && v.detail {
            return render::json::write_detailed(w, p, &mut self.clock);
        }
        if v.json {
            return render::json::write(w, p, &mut self.clock);
        }
        if !self.header_done {
            render::line::header(w, v.time.into(), self.style)?;
            self.header_done = true;
        }
        render::line::row(w, p, &mut self.clock, v.time.into(), self.style)?;
        if v.detail {
            render::tree::write(w, p, self.style)?;
        }
        if v.hex {
            render::hex::write(w, p, self.style, v.highlight.as_deref())?;
        }
        Ok(())
    }
}

fn read(file: &Path, filter: &str, view: &ViewArgs) -> anyhow::Result<()> {
    let mut pipe = Pipeline::new(filter, view)?;
    let input: Box<dyn io::Read> = if file == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        let f = File::open(file).map_err(|source| {
            classify(InspectError::Open {
                path: file.to_path_buf(),
                source,
            })
        })?;
        Box::new(f)
    };
    // Unbuffered: the capture reader keeps its own 256 KiB buffer.
    let mut reader = CaptureReader::new(input).map_err(classify)?;
    let stdout = io::stdout();
    let mut w = Out::new(stdout.lock());
    let mut failure = None;
    // One packet buffer goes round: `push` swaps it with the previous packet's, which the
    // reader then refills, so reading allocates nothing per packet.
    let mut raw = RawPacket::empty();
    loop {
        match reader.read_into(&mut raw) {
            Ok(true) => {
                pipe.push(&mut raw, &mut w)?;
            }
            Ok(false) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    pipe.finish(&mut w)?;
    match failure {
        // The packets before the break were shown; the error says where the file broke.
        Some(e) => Err(anyhow::Error::new(e).context(format!(
            "{}: read {} packets, then the file broke",
            file.display(),
            pipe.packet.number
        ))),
        None => Ok(()),
    }
}

fn follow(file: &Path, stream: u32, json: bool) -> anyhow::Result<()> {
    let mut tracker = FlowTracker::following(stream);
    for (read, raw) in CaptureReader::open(file)
        .map_err(classify)?
        .into_iter()
        .enumerate()
    {
        let raw = raw.with_context(|| {
            format!(
                "{}: read {read} packets, then the file broke",
                file.display()
            )
        })?;
        tracker.process(&raw);
    }
    let Some(followed) = tracker.followed() else {
        let streams = tracker.tcp_streams();
        return Err(exit::usage(format!(
            "{} has no TCP stream {stream}; it has {streams} (numbered from 0; `netlab inspect \
             read FILE --stats` lists them)",
            file.display()
        )));
    };
    let stdout = io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    if json {
        render::follow::write_json(&mut w, &followed)?;
    } else {
        render::follow::write(&mut w, &followed, Style::detect(io::stdout().is_terminal()))?;
    }
    w.flush()?;
    Ok(())
}

fn capture(
    iface: &str,
    filter: &str,
    count: Option<u64>,
    save: Option<&Path>,
    view: &ViewArgs,
) -> anyhow::Result<()> {
    let mut pipe = Pipeline::new(filter, view)?;
    // A filter that implies ports (`udp port 7007`) also becomes a kernel filter: under a flood
    // of other traffic only ours is queued, copied and dissected.
    let ports = pipe.filter.required_ports().unwrap_or_default();
    let cap = LiveCapture::open(&LiveConfig::on(iface).with_ports(&ports)).map_err(classify)?;
    let mut sink = match save {
        Some(path) => Some(open_sink(path)?),
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // Ctrl-C, SIGTERM (`timeout`, `kill`) and SIGHUP all stop the capture the same way, so
    // that -w is flushed and the kernel's drop count reported.
    ctrlc::set_handler(move || flag.store(true, Ordering::Release))
        .context("cannot install the Ctrl-C and SIGTERM handler")?;
    eprintln!(
        "capturing on {} (link type {}); Ctrl-C to stop",
        cap.interface(),
        cap.link_type().0
    );
    // A reader thread empties the kernel's queue into batches while this thread dissects and
    // renders: a slow moment of rendering then costs memory here, not drops in the kernel.
    let (tx, rx) = mpsc::sync_channel::<Vec<RawPacket>>(QUEUED_BATCHES);
    let reader_stop = stop.clone();
    let reader = std::thread::Builder::new()
        .name("capture-reader".into())
        .spawn(move || read_batches(cap, &reader_stop, &tx))
        .context("cannot start the capture thread")?;
    let stdout = io::stdout();
    let mut w = Out::new(stdout.lock());
    let result = (|| -> anyhow::Result<()> {
        'outer: loop {
            // Output is flushed whenever nothing is waiting, so a quiet capture shows each
            // packet at once and a flood is written in large batches.
            let batch = match rx.try_recv() {
                Ok(batch) => batch,
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => {
                    w.flush()?;
                    match rx.recv_timeout(Duration::from_millis(100)) {
                        Ok(batch) => batch,
                        Err(mpsc::RecvTimeoutError::Timeout) => continue,
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            for mut raw in batch {
                if count.is_some_and(|c| pipe.shown >= c) {
                    break 'outer;
                }
                if pipe.push(&mut raw, &mut w)? {
                    if let Some(s) = sink.as_mut() {
                        s.write_packet(&pipe.packet.raw)?;
                    }
                }
            }
            if count.is_some_and(|c| pipe.shown >= c) {
                break;
            }
        }
        Ok(())
    })();
    stop.store(true, Ordering::Release);
    drop(rx);
    let stats = match reader.join() {
        Ok(stats) => stats.map_err(classify)?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    pipe.finish(&mut w)?;
    if let Some(s) = sink {
        s.finish()?;
    }
    report_live(&stats, &pipe, save);
    result
}

/// Packets per batch handed from the reader thread to the renderer.
const BATCH: usize = 256;
/// Batches that may wait for the renderer: up to a quarter of a million packets.
const QUEUED_BATCHES: usize = 1024;

/// The reader thread: drain the socket in batches until stopped (or the renderer is gone), then
/// return the capture's counters.
fn read_batches(
    mut cap: LiveCapture,
    stop: &AtomicBool,
    tx: &mpsc::SyncSender<Vec<RawPacket>>,
) -> Result<CaptureStats, InspectError> {
    let mut batch = Vec::with_capacity(BATCH);
    while !stop.load(Ordering::Acquire) {
        let next = match cap.try_next_packet()? {
            Some(p) => Some(p),
            None => {
                // The kernel's queue is empty: hand over what we have, then wait.
                if !batch.is_empty() && tx.send(std::mem::take(&mut batch)).is_err() {
                    break;
                }
                cap.next_packet()?
            }
        };
        if let Some(p) = next {
            batch.push(p);
            if batch.len() == BATCH && tx.send(std::mem::take(&mut batch)).is_err() {
                break;
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
    cap.stats()
}

fn open_sink(path: &Path) -> anyhow::Result<CaptureWriter<BufWriter<File>>> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let format = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pcap"))
    {
        CaptureFormat::Pcap
    } else {
        CaptureFormat::Pcapng
    };
    Ok(CaptureWriter::new(BufWriter::new(file), format)?)
}

/// The end-of-capture summary, on stderr (it is not a result).
fn report_live(s: &CaptureStats, pipe: &Pipeline, save: Option<&Path>) {
    let duplicates = if s.kernel_filter {
        "the kernel filter drops the outgoing copy of each loopback frame (lo delivers every \
         frame twice: leaving and arriving)"
            .to_string()
    } else {
        format!(
            "{} loopback duplicates skipped (lo delivers every frame twice: leaving and arriving)",
            s.loopback_duplicates
        )
    };
    eprintln!(
        "{} packets captured, {} shown{}; kernel: {} received, {} dropped; {duplicates}",
        s.delivered,
        pipe.shown,
        save.map(|p| format!(", saved to {}", p.display()))
            .unwrap_or_default(),
        s.kernel_received,
        s.kernel_dropped,
    );
    if s.kernel_dropped > 0 {
        eprintln!(
            "warning: the kernel dropped {} packets because the capture fell behind; filter less, \
             or write with -w and read the file afterwards",
            s.kernel_dropped
        );
    }
}

fn interfaces(args: &OutputArgs) -> anyhow::Result<()> {
    let out = args.output();
    let list = live::interfaces();
    if out.json {
        for i in &list {
            out.json_line(i);
        }
        return Ok(());
    }
    let mut t = out.table(["Interface", "Index", "State", "MAC", "Addresses"]);
    for i in &list {
        let state = match (i.up, i.loopback) {
            (true, true) => "up, loopback",
            (true, false) => "up",
            (false, _) => "down",
        };
        t.add_row(vec![
            i.name.clone(),
            i.index.to_string(),
            state.to_string(),
            i.mac.clone().unwrap_or_default(),
            i.addresses.join(", "),
        ]);
    }
    out.print_table(&t);
    Ok(())
}
