//! `netlab inspect ...`: read a capture file, capture live, list interfaces. Thin: the work is
//! in netlab-inspect (capfile, live, dissect, filter, render); this module wires a source through
//! dissect -> filter -> the chosen view, one packet at a time.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
        /// The capture file (pcap or pcapng, from tcpdump, Wireshark or `inspect live -w`).
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
    /// Show the layer tree (every field, its offset and length) under each packet.
    #[arg(long)]
    pub detail: bool,
    /// Show a hex dump coloured by layer under each packet.
    #[arg(long)]
    pub hex: bool,
    /// With --hex: highlight the bytes of this field, e.g. tcp.dstport.
    #[arg(long, value_name = "FIELD")]
    pub highlight: Option<String>,
    /// One JSON object per packet (schema: docs/src/inspect-json.md).
    #[arg(long)]
    pub json: bool,
    /// Instead of packets: protocol hierarchy, bytes per layer and conversations, at the end.
    #[arg(long)]
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

/// Shows packets in the chosen view, one at a time.
struct Pipeline {
    filter: Filter,
    view: ViewArgs,
    style: Style,
    clock: Clock,
    stats: Stats,
    /// Stream indexes, relative seq/ack, hints, WebSocket after an upgrade; conversations.
    flows: FlowTracker,
    number: u64,
    shown: u64,
    header_done: bool,
}

impl Pipeline {
    fn new(filter: &str, view: &ViewArgs) -> anyhow::Result<Self> {
        Ok(Pipeline {
            filter: Filter::parse(filter).map_err(classify)?,
            view: view.clone(),
            style: Style::detect(io::stdout().is_terminal()),
            clock: Clock::default(),
            stats: Stats::new(),
            flows: FlowTracker::new(),
            number: 0,
            shown: 0,
            header_done: false,
        })
    }

    /// Dissect, filter and show one packet; returns it when it was shown.
    fn push(&mut self, raw: RawPacket, w: &mut impl Write) -> io::Result<Option<Packet>> {
        self.number += 1;
        self.clock.saw(raw.ts);
        // Every packet goes through the tracker, shown or not: stream numbers and relative
        // sequence numbers must not depend on the filter.
        let (dissection, flow) = self.flows.process(&raw);
        let packet = Packet {
            number: self.number,
            raw,
            dissection,
            flow,
        };
        if !self.filter.matches(&packet) {
            return Ok(None);
        }
        self.shown += 1;
        self.show(&packet, w)?;
        Ok(Some(packet))
    }

    fn show(&mut self, p: &Packet, w: &mut impl Write) -> io::Result<()> {
        let v = &self.view;
        if v.stats {
            self.stats.add(p);
            return Ok(());
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

    fn finish(&self, w: &mut impl Write) -> io::Result<()> {
        if self.view.stats {
            // Conversations are over every packet read, like the stream numbers.
            let convs = self.flows.conversations();
            if self.view.json {
                self.stats.write_json(w)?;
                render::stats::write_conversations_json(w, &convs)?;
            } else {
                self.stats.write(w)?;
                render::stats::write_conversations(w, &convs)?;
            }
        }
        w.flush()
    }
}

fn read(file: &Path, filter: &str, view: &ViewArgs) -> anyhow::Result<()> {
    let mut pipe = Pipeline::new(filter, view)?;
    let reader = CaptureReader::open(file).map_err(classify)?;
    let stdout = io::stdout();
    let mut w = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut failure = None;
    for item in reader {
        match item {
            Ok(raw) => {
                pipe.push(raw, &mut w)?;
            }
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
            pipe.number
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
        let streams = tracker
            .conversations()
            .iter()
            .filter(|c| c.protocol == "TCP")
            .count();
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
    let mut cap = LiveCapture::open(&LiveConfig::on(iface).with_ports(&ports)).map_err(classify)?;
    let mut sink = match save {
        Some(path) => Some(open_sink(path)?),
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::Release))
        .context("cannot install the Ctrl-C handler")?;
    eprintln!(
        "capturing on {} (link type {}); Ctrl-C to stop",
        cap.interface(),
        cap.link_type().0
    );
    let stdout = io::stdout();
    let mut w = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let result = (|| -> anyhow::Result<()> {
        while !stop.load(Ordering::Acquire) && count.is_none_or(|c| pipe.shown < c) {
            // Output streams: it is flushed whenever the kernel's queue is empty, so a quiet
            // capture shows each packet at once and a flood is written in large batches.
            let raw = match cap.try_next_packet().map_err(classify)? {
                Some(raw) => raw,
                None => {
                    w.flush()?;
                    match cap.next_packet().map_err(classify)? {
                        Some(raw) => raw,
                        None => continue,
                    }
                }
            };
            if let Some(p) = pipe.push(raw, &mut w)? {
                if let Some(s) = sink.as_mut() {
                    s.write_packet(&p.raw)?;
                }
            }
        }
        Ok(())
    })();
    pipe.finish(&mut w)?;
    if let Some(s) = sink {
        s.finish()?;
    }
    let stats = cap.stats().map_err(classify)?;
    report_live(&stats, &pipe, save);
    result
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
