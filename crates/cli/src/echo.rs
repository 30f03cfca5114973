//! `netlab echo ...`: serve, client, ping, bench, demo. Every command calls netlab-echo and
//! renders what it returns; nothing here speaks to a socket directly.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::{ArgAction, Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use netlab_echo::{
    BenchConfig, BenchLimit, BenchMode, BenchReport, BufferSizes, DEFAULT_PORT, EchoError,
    ImpairmentConfig, PingConfig, PingEvent, PingSummary, Proto, RateLimit, TcpConfig,
    TcpEchoServer, TcpSummary, UdpConfig, UdpEchoServer, UdpSummary, shutdown,
};
use serde::Serialize;
use tokio::io::AsyncBufReadExt;

use crate::exit::usage;
use crate::output::{self, Output, OutputArgs, event, ms};

#[derive(Subcommand, Debug)]
pub enum EchoCommand {
    /// Run an echo server until Ctrl-C or SIGTERM; prints `listening on ...` first.
    #[command(subcommand)]
    Serve(ServeCommand),
    /// Send lines from stdin to an echo server and print the echo (works in a pipe).
    Client(ClientArgs),
    /// Probe an echo server: per-probe round trips, loss, duplicates, reordering.
    Ping(PingArgs),
    /// Load an echo server: msgs/s, MB/s and latency percentiles.
    Bench(BenchArgs),
    /// Both servers in this process on free ports, a ping and a bench against each.
    Demo(DemoArgs),
}

#[derive(Subcommand, Debug)]
pub enum ServeCommand {
    /// TCP echo server: every byte back, unchanged.
    Tcp(TcpServeArgs),
    /// UDP echo server: every datagram back as one datagram.
    Udp(UdpServeArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProtoArg {
    Tcp,
    Udp,
}

impl From<ProtoArg> for Proto {
    fn from(p: ProtoArg) -> Self {
        match p {
            ProtoArg::Tcp => Proto::Tcp,
            ProtoArg::Udp => Proto::Udp,
        }
    }
}

#[derive(Args, Debug)]
pub struct BindArgs {
    /// Address to listen on. Anything but 127.0.0.1 or ::1 is reachable from other machines.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Port to listen on; 0 picks any free port (printed on the first line).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// SO_RCVBUF in bytes (default: the system's).
    #[arg(long)]
    rcvbuf: Option<usize>,
    /// SO_SNDBUF in bytes (default: the system's).
    #[arg(long)]
    sndbuf: Option<usize>,
}

#[derive(Args, Debug)]
pub struct TcpServeArgs {
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    bind: BindArgs,
    /// Finished handshakes the kernel queues before we accept them.
    #[arg(long, default_value_t = 1024)]
    backlog: u32,
    /// TCP_NODELAY: send small echoes at once (false lets Nagle's algorithm coalesce them).
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    nodelay: bool,
    /// Connections served at once; one more is accepted and closed at once. Default: 1024, or
    /// fewer if `ulimit -n` would run out first.
    #[arg(long, default_value_t = netlab_echo::tcp::default_max_connections())]
    max_connections: usize,
    /// Close a connection silent for this long (e.g. 30s, 500ms; 0 = never).
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// On Ctrl-C, how long open connections may finish before they are cut.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    drain_timeout: Duration,
}

#[derive(Args, Debug)]
pub struct UdpServeArgs {
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    bind: BindArgs,
    // `allow_negative_numbers` on each number: `--drop -0.1` then reaches the validation, which
    // says what a probability is, instead of clap's "unexpected argument '-0'".
    /// Probability (0..1) of dropping a datagram.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    drop: f64,
    /// Delay every reply by this many milliseconds.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    delay: u64,
    /// Add up to this many milliseconds of random delay per reply.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    jitter: u64,
    /// Probability of sending a reply twice.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    duplicate: f64,
    /// Probability of holding a reply back until after the next one.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    reorder: f64,
    /// Seed of the impairment: the same seed makes the same decisions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Switch anti-reflection off (only for benchmarks on loopback).
    #[arg(long)]
    no_anti_reflection: bool,
    /// Anti-reflection: replies per second per source IP (0.001 to 1e9).
    #[arg(long, default_value_t = 1000.0, allow_negative_numbers = true)]
    rate: f64,
    /// Anti-reflection: replies a source may get at once after a pause (1 to 1e9).
    #[arg(long, default_value_t = 100.0, allow_negative_numbers = true)]
    burst: f64,
}

#[derive(Args, Debug)]
pub struct TargetArgs {
    /// tcp or udp.
    #[arg(value_enum)]
    proto: ProtoArg,
    /// The server: IP:PORT, [IPv6]:PORT, localhost:PORT, or just a port.
    // This comment is clap's help text too, where `\[IPv6\]` would show its backslashes:
    // rustdoc is told that the brackets are not a link instead.
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(default_value = "127.0.0.1:7007")]
    addr: String,
}

#[derive(Args, Debug)]
pub struct ClientArgs {
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// Longest wait for the server (handshake, each UDP echo, the end of the TCP echo).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    timeout: Duration,
}

#[derive(Args, Debug)]
pub struct PingArgs {
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// Probes to send.
    #[arg(short, long, default_value_t = 5)]
    count: u64,
    /// Time between probes (e.g. 200ms, 1s).
    #[arg(short, long, default_value = "200ms", value_parser = parse_duration)]
    interval: Duration,
    /// Wait this long for each reply before calling it lost.
    #[arg(short = 'W', long, default_value = "1s", value_parser = parse_duration)]
    timeout: Duration,
    /// Probe size in bytes (8 to 65,507 over UDP).
    #[arg(short, long, default_value_t = 64)]
    size: usize,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModeArg {
    /// One message in flight per connection: measures latency.
    PingPong,
    /// Up to --depth messages in flight per connection: measures throughput.
    Pipelined,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// Concurrent connections (UDP: sockets).
    #[arg(short, long, default_value_t = 1)]
    connections: usize,
    /// Message size in bytes.
    #[arg(short, long, default_value_t = 64)]
    size: usize,
    /// How long to run (e.g. 5s).
    #[arg(short, long, default_value = "5s", value_parser = parse_duration, conflicts_with = "messages")]
    duration: Duration,
    /// Send this many messages in total instead of running for --duration.
    #[arg(short, long)]
    messages: Option<u64>,
    #[arg(long, value_enum, default_value_t = ModeArg::PingPong)]
    mode: ModeArg,
    /// Messages in flight per connection in pipelined mode.
    #[arg(long, default_value_t = 16)]
    depth: usize,
    /// A UDP echo not back within this is lost; a TCP stall this long fails the run.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    timeout: Duration,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    out: OutputArgs,
    /// How long each bench runs.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    duration: Duration,
}

/// Parses `250ms`, `2s`, `1.5s`, `1m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write e.g. 500ms, 2s, 1.5s or 1m"))?;
    Duration::try_from_secs_f64(value * scale)
        .map_err(|_| format!("{text:?} is not a duration that can be waited for"))
}

/// Library errors that come from what was typed exit with 2; the rest with 1.
fn lift(err: EchoError) -> anyhow::Error {
    if err.is_usage() {
        usage(err)
    } else {
        anyhow::Error::new(err)
    }
}

pub async fn run(cmd: EchoCommand) -> anyhow::Result<()> {
    match cmd {
        EchoCommand::Serve(ServeCommand::Tcp(args)) => serve_tcp(&args.out.output(), args).await,
        EchoCommand::Serve(ServeCommand::Udp(args)) => serve_udp(&args.out.output(), args).await,
        EchoCommand::Client(args) => client(&args.out.output(), args).await,
        EchoCommand::Ping(args) => ping(&args.out.output(), args).await,
        EchoCommand::Bench(args) => bench(&args.out.output(), args).await,
        EchoCommand::Demo(args) => demo(&args.out.output(), args).await,
    }
}

// ---------------------------------------------------------------------------------------------
// serve

fn bind_addr(args: &BindArgs) -> anyhow::Result<SocketAddr> {
    let text = args.bind.trim().trim_matches(['[', ']']);
    let ip: IpAddr = match text {
        "localhost" => Ipv4Addr::LOCALHOST.into(),
        _ => text.parse().map_err(|_| {
            usage(format!(
                "invalid --bind {:?}: give an IP address without a port, such as 127.0.0.1 \
                 or ::1 (the port goes in --port)",
                args.bind
            ))
        })?,
    };
    let addr = SocketAddr::new(ip, args.port);
    if !netlab_echo::is_loopback(&addr) {
        eprintln!(
            "warning: {addr} is reachable from other machines; an echo server belongs on a \
             trusted network only. Use --bind 127.0.0.1 (the default) unless you mean it."
        );
    }
    Ok(addr)
}

fn buffers(args: &BindArgs) -> BufferSizes {
    BufferSizes {
        recv: args.rcvbuf,
        send: args.sndbuf,
    }
}

#[derive(Serialize)]
struct Listening {
    proto: Proto,
    addr: SocketAddr,
}

fn print_listening(out: &Output, proto: Proto, addr: SocketAddr) {
    if out.json {
        out.json_line(&event("listening", &Listening { proto, addr }));
    } else {
        out.line(format!("listening on {proto} {addr}"));
    }
    eprintln!("press Ctrl-C to stop");
}

async fn serve_tcp(out: &Output, args: TcpServeArgs) -> anyhow::Result<()> {
    let config = TcpConfig {
        bind: bind_addr(&args.bind)?,
        backlog: args.backlog,
        nodelay: args.nodelay,
        buffers: buffers(&args.bind),
        max_connections: args.max_connections,
        idle_timeout: (!args.idle_timeout.is_zero()).then_some(args.idle_timeout),
        drain_timeout: args.drain_timeout,
        ..TcpConfig::default()
    };
    let server = TcpEchoServer::bind(config).await.map_err(lift)?;
    let mut signals = crate::signal::StopSignals::install()?;
    print_listening(out, Proto::Tcp, server.local_addr());
    let (trigger, signal) = shutdown::channel();
    let running = tokio::spawn(server.run(signal));
    let why = signals.recv().await;
    eprintln!(
        "{why}: no longer accepting; draining open connections (up to {:?})",
        args.drain_timeout
    );
    trigger.fire();
    let summary = running.await.context("the server task failed")?;
    print_tcp_summary(out, &summary);
    Ok(())
}

async fn serve_udp(out: &Output, args: UdpServeArgs) -> anyhow::Result<()> {
    let impairment = ImpairmentConfig {
        drop: args.drop,
        delay: Duration::from_millis(args.delay),
        jitter: Duration::from_millis(args.jitter),
        duplicate: args.duplicate,
        reorder: args.reorder,
        seed: args.seed,
    };
    let anti_reflection = (!args.no_anti_reflection).then_some(RateLimit {
        rate: args.rate,
        burst: args.burst,
    });
    let config = UdpConfig {
        bind: bind_addr(&args.bind)?,
        buffers: buffers(&args.bind),
        anti_reflection,
        impairment,
    };
    let server = UdpEchoServer::bind(config).await.map_err(lift)?;
    let mut signals = crate::signal::StopSignals::install()?;
    print_listening(out, Proto::Udp, server.local_addr());
    let (trigger, signal) = shutdown::channel();
    let running = tokio::spawn(server.run(signal));
    let why = signals.recv().await;
    eprintln!("{why}: stopping");
    trigger.fire();
    let summary = running.await.context("the server task failed")?;
    print_udp_summary(out, &summary);
    Ok(())
}

fn print_tcp_summary(out: &Output, s: &TcpSummary) {
    if out.json {
        return out.json_line(&event(
            "summary",
            &(Tagged {
                proto: Proto::Tcp,
                inner: s,
            }),
        ));
    }
    out.print_table(&tcp_summary_table(out, s));
}

fn print_udp_summary(out: &Output, s: &UdpSummary) {
    if out.json {
        return out.json_line(&event(
            "summary",
            &(Tagged {
                proto: Proto::Udp,
                inner: s,
            }),
        ));
    }
    out.print_table(&udp_summary_table(out, s));
}

/// A result with its protocol in front, for JSON lines.
#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    proto: Proto,
    #[serde(flatten)]
    inner: &'a T,
}

fn tcp_summary_table(out: &Output, s: &TcpSummary) -> comfy_table::Table {
    out.key_values(
        "TCP server summary",
        &[
            ("connections served", s.connections.to_string()),
            ("rejected (over --max-connections)", s.rejected.to_string()),
            ("closed by idle timeout", s.idle_closed.to_string()),
            ("cut at the drain deadline", s.aborted.to_string()),
            ("bytes in", s.bytes_in.to_string()),
            ("bytes out", s.bytes_out.to_string()),
            ("errors", s.errors.to_string()),
        ],
    )
}

fn udp_summary_table(out: &Output, s: &UdpSummary) -> comfy_table::Table {
    out.key_values(
        "UDP server summary",
        &[
            ("datagrams received", s.received.to_string()),
            ("datagrams sent back", s.replied.to_string()),
            ("dropped (--drop)", s.dropped.to_string()),
            ("delayed (--delay/--jitter)", s.delayed.to_string()),
            ("duplicated (--duplicate)", s.duplicated.to_string()),
            ("reordered (--reorder)", s.reordered.to_string()),
            (
                "not sent: anti-reflection limit",
                s.rate_limited.to_string(),
            ),
            ("not sent: delay queue full", s.delay_queue_full.to_string()),
            ("bytes in", s.bytes_in.to_string()),
            ("bytes out", s.bytes_out.to_string()),
            ("errors", s.errors.to_string()),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// client

fn target(args: &TargetArgs) -> anyhow::Result<(Proto, SocketAddr)> {
    let addr = netlab_echo::parse_addr(&args.addr, DEFAULT_PORT).map_err(lift)?;
    Ok((args.proto.into(), addr))
}

async fn client(out: &Output, args: ClientArgs) -> anyhow::Result<()> {
    let (proto, addr) = target(&args.target)?;
    let input = tokio::io::BufReader::new(tokio::io::stdin());
    if !out.json {
        let stdout = tokio::io::stdout();
        netlab_echo::line::line_client(proto, addr, input, stdout, args.timeout)
            .await
            .map_err(lift)?;
        return Ok(());
    }
    // JSON: the echo goes through a pipe and comes out as one object per line.
    let (writer, reader) = tokio::io::duplex(64 * 1024);
    let printer = tokio::spawn({
        let out = *out;
        async move {
            let mut lines = tokio::io::BufReader::new(reader).split(b'\n');
            while let Ok(Some(line)) = lines.next_segment().await {
                let text = String::from_utf8_lossy(&line).into_owned();
                out.json_line(&serde_json::json!({"event": "echo", "line": text}));
            }
        }
    });
    let report = netlab_echo::line::line_client(proto, addr, input, writer, args.timeout).await;
    printer.await.context("the JSON printer failed")?;
    let report = report.map_err(lift)?;
    out.json_line(&event(
        "summary",
        &Tagged {
            proto,
            inner: &report,
        },
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ping

async fn ping(out: &Output, args: PingArgs) -> anyhow::Result<()> {
    let (proto, addr) = target(&args.target)?;
    let config = PingConfig {
        proto,
        target: addr,
        count: args.count,
        interval: args.interval,
        timeout: args.timeout,
        size: args.size,
    };
    if proto == Proto::Udp {
        netlab_echo::check_udp_size(args.size).map_err(lift)?;
    }
    if !out.json {
        out.line(format!(
            "PING {proto} {addr}: {} probes of {} bytes, every {:?}",
            config.count, config.size, config.interval
        ));
    }
    let summary = netlab_echo::ping(&config, |e| print_ping_event(out, addr, e))
        .await
        .map_err(lift)?;
    if out.json {
        out.json_line(&event("summary", &summary));
    } else {
        out.print_table(&ping_summary_table(out, &summary));
    }
    if summary.received == 0 {
        return Err(lift(EchoError::timeout("any reply", args.timeout, proto)));
    }
    Ok(())
}

fn print_ping_event(out: &Output, addr: SocketAddr, e: &PingEvent) {
    if out.json {
        return out.json_line(e);
    }
    out.line(ping_event_line(addr, e));
}

/// One line per probe, in the style of the classic `ping`.
fn ping_event_line(addr: SocketAddr, e: &PingEvent) -> String {
    match e {
        PingEvent::Connected { connect_ms } => {
            format!("connected to {addr} in {} (TCP handshake)", ms(*connect_ms))
        }
        PingEvent::Reply { seq, bytes, rtt_ms } => {
            format!("{bytes} bytes from {addr}: seq={seq} time={}", ms(*rtt_ms))
        }
        PingEvent::Duplicate { seq, rtt_ms } => {
            format!(
                "duplicate from {addr}: seq={seq} time={} (DUP!)",
                ms(*rtt_ms)
            )
        }
        PingEvent::Late { seq, rtt_ms } => {
            format!(
                "late reply from {addr}: seq={seq} time={} (already counted lost)",
                ms(*rtt_ms)
            )
        }
        PingEvent::Timeout { seq } => format!("no reply for seq={seq} (timeout)"),
    }
}

fn ping_summary_table(out: &Output, s: &PingSummary) -> comfy_table::Table {
    let mut rows = vec![
        ("probes sent", s.sent.to_string()),
        ("replies received", s.received.to_string()),
        ("loss", format!("{:.1} %", s.loss_percent)),
        ("duplicates", s.duplicates.to_string()),
        ("reordered", s.reordered.to_string()),
        ("late (after timeout)", s.late.to_string()),
    ];
    if let Some(c) = s.connect_ms {
        rows.push(("TCP connect", ms(c)));
    }
    if let Some(r) = &s.rtt {
        rows.extend([
            ("RTT min", ms(r.min_ms)),
            ("RTT avg", ms(r.avg_ms)),
            ("RTT max", ms(r.max_ms)),
            ("RTT mdev", ms(r.mdev_ms)),
            ("RTT p50", ms(r.p50_ms)),
            ("RTT p99", ms(r.p99_ms)),
        ]);
    }
    out.key_values(&format!("ping {} {}", s.proto, s.target), &rows)
}

// ---------------------------------------------------------------------------------------------
// bench

fn bench_config(args: &BenchArgs) -> anyhow::Result<BenchConfig> {
    let (proto, addr) = target(&args.target)?;
    Ok(BenchConfig {
        proto,
        target: addr,
        connections: args.connections,
        size: args.size,
        limit: match args.messages {
            Some(n) => BenchLimit::Messages(n),
            None => BenchLimit::Duration(args.duration),
        },
        mode: match args.mode {
            ModeArg::PingPong => BenchMode::PingPong,
            ModeArg::Pipelined => BenchMode::Pipelined { depth: args.depth },
        },
        timeout: args.timeout,
    })
}

async fn bench(out: &Output, args: BenchArgs) -> anyhow::Result<()> {
    let config = bench_config(&args)?;
    let report = bench_with_progress(&config).await?;
    if report.lost > 0 {
        // The usual cause on loopback is the server's own protection, not the network.
        eprintln!(
            "note: {} UDP messages got no echo within {:?}. A netlab UDP server answers each \
             source at most 1,000 times per second unless started with --no-anti-reflection \
             (or check its --drop setting).",
            report.lost, config.timeout
        );
    }
    if out.json {
        out.json_line(&event("bench", &report));
    } else {
        out.print_table(&bench_table(out, &[report]));
    }
    Ok(())
}

/// Runs a bench with a progress bar on stderr (hidden when stderr is not a terminal).
async fn bench_with_progress(config: &BenchConfig) -> anyhow::Result<BenchReport> {
    let progress = Arc::new(AtomicU64::new(0));
    let bar = progress_bar(config);
    let ticker = tokio::spawn({
        let (bar, progress, limit) = (bar.clone(), progress.clone(), config.limit);
        let started = tokio::time::Instant::now();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let done = progress.load(Ordering::Relaxed);
                bar.set_message(format!("{done} echoed"));
                // A duration bar follows the clock; a message-count bar follows the messages.
                bar.set_position(match limit {
                    BenchLimit::Duration(_) => started.elapsed().as_millis() as u64,
                    BenchLimit::Messages(_) => done,
                });
            }
        }
    });
    let report = netlab_echo::run_bench(config, progress).await;
    ticker.abort();
    bar.finish_and_clear();
    report.map_err(lift)
}

fn progress_bar(config: &BenchConfig) -> ProgressBar {
    let (len, unit) = match config.limit {
        BenchLimit::Duration(d) => (d.as_millis() as u64, "ms"),
        BenchLimit::Messages(n) => (n, "msgs"),
    };
    let bar = ProgressBar::new(len);
    let template = format!(
        "bench {} {} [{{bar:30}}] {{pos}}/{{len}} {unit} {{msg}}",
        config.proto, config.target
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn mode_name(mode: BenchMode) -> String {
    match mode {
        BenchMode::PingPong => "ping-pong".into(),
        BenchMode::Pipelined { depth } => format!("pipelined x{depth}"),
    }
}

fn bench_table(out: &Output, reports: &[BenchReport]) -> comfy_table::Table {
    let mut table = out.table([
        "bench", "conns", "size", "mode", "messages", "lost", "msgs/s", "MB/s", "p50", "p90",
        "p99", "p99.9", "max",
    ]);
    output::align_right(&mut table, 1..3); // the mode (column 3) is text
    output::align_right(&mut table, 4..13);
    let us = |v: f64| format!("{v:.0} µs");
    for r in reports {
        table.add_row(vec![
            format!("{} {}", r.proto, r.target),
            r.connections.to_string(),
            r.size.to_string(),
            mode_name(r.mode),
            r.messages.to_string(),
            r.lost.to_string(),
            format!("{:.0}", r.msgs_per_sec),
            format!("{:.2}", r.mb_per_sec),
            us(r.latency.p50_us),
            us(r.latency.p90_us),
            us(r.latency.p99_us),
            us(r.latency.p999_us),
            us(r.latency.max_us),
        ]);
    }
    table
}

// ---------------------------------------------------------------------------------------------
// demo

async fn demo(out: &Output, args: DemoArgs) -> anyhow::Result<()> {
    let tcp = TcpEchoServer::bind(TcpConfig::loopback(0))
        .await
        .map_err(lift)?;
    // The demo's bench would trip the anti-reflection limit (1,000 replies/s), which is there
    // for servers others can reach; this one lives and dies inside this process.
    let udp = UdpEchoServer::bind(UdpConfig {
        anti_reflection: None,
        ..UdpConfig::loopback(0)
    })
    .await
    .map_err(lift)?;
    let (tcp_addr, udp_addr) = (tcp.local_addr(), udp.local_addr());
    print_listening_quiet(out, Proto::Tcp, tcp_addr);
    print_listening_quiet(out, Proto::Udp, udp_addr);
    let (trigger, signal) = shutdown::channel();
    let tcp_run = tokio::spawn(tcp.run(signal.clone()));
    let udp_run = tokio::spawn(udp.run(signal));

    let mut pings = Vec::new();
    let mut benches = Vec::new();
    for (proto, addr) in [(Proto::Tcp, tcp_addr), (Proto::Udp, udp_addr)] {
        let config = PingConfig {
            count: 10,
            interval: Duration::from_millis(20),
            ..PingConfig::new(proto, addr)
        };
        pings.push(netlab_echo::ping(&config, |_| {}).await.map_err(lift)?);
        let config = BenchConfig {
            connections: 4,
            limit: BenchLimit::Duration(args.duration),
            ..BenchConfig::new(proto, addr)
        };
        benches.push(bench_with_progress(&config).await?);
    }
    trigger.fire();
    let tcp_summary = tcp_run.await.context("the TCP server task failed")?;
    let udp_summary = udp_run.await.context("the UDP server task failed")?;
    if out.json {
        pings.iter().for_each(|p| out.json_line(&event("ping", p)));
        benches
            .iter()
            .for_each(|b| out.json_line(&event("bench", b)));
        out.json_line(&event(
            "summary",
            &Tagged {
                proto: Proto::Tcp,
                inner: &tcp_summary,
            },
        ));
        out.json_line(&event(
            "summary",
            &Tagged {
                proto: Proto::Udp,
                inner: &udp_summary,
            },
        ));
        return Ok(());
    }
    out.print_table(&ping_rows_table(out, &pings));
    out.print_table(&bench_table(out, &benches));
    out.print_table(&tcp_summary_table(out, &tcp_summary));
    out.print_table(&udp_summary_table(out, &udp_summary));
    out.line(
        "Next: run `netlab echo serve tcp` in one terminal and `netlab echo ping tcp` in another;\n\
         try `netlab echo serve udp --drop 0.2 --seed 7` to watch loss.",
    );
    Ok(())
}

fn print_listening_quiet(out: &Output, proto: Proto, addr: SocketAddr) {
    if out.json {
        out.json_line(&event("listening", &Listening { proto, addr }));
    } else {
        out.line(format!("listening on {proto} {addr}"));
    }
}

fn ping_rows_table(out: &Output, pings: &[PingSummary]) -> comfy_table::Table {
    let mut table = out.table([
        "ping", "sent", "received", "loss", "connect", "RTT min", "avg", "max", "mdev", "p50",
        "p99",
    ]);
    output::align_right(&mut table, 1..11);
    for p in pings {
        let r = p.rtt.as_ref();
        let f = |v: Option<f64>| v.map(ms).unwrap_or_else(|| "-".into());
        table.add_row(vec![
            format!("{} {}", p.proto, p.target),
            p.sent.to_string(),
            p.received.to_string(),
            format!("{:.1} %", p.loss_percent),
            f(p.connect_ms),
            f(r.map(|r| r.min_ms)),
            f(r.map(|r| r.avg_ms)),
            f(r.map(|r| r.max_ms)),
            f(r.map(|r| r.mdev_ms)),
            f(r.map(|r| r.p50_ms)),
            f(r.map(|r| r.p99_ms)),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlab_echo::bench::Latency;
    use netlab_echo::ping::RttStats;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn durations_parse_the_way_students_type_them() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn ping_summary_table_snapshot() {
        let summary = PingSummary {
            proto: Proto::Tcp,
            target: addr(7007),
            sent: 10,
            received: 9,
            loss_percent: 10.0,
            duplicates: 1,
            reordered: 2,
            late: 0,
            connect_ms: Some(0.081),
            rtt: Some(RttStats {
                min_ms: 0.041,
                avg_ms: 0.052,
                max_ms: 0.090,
                mdev_ms: 0.012,
                p50_ms: 0.049,
                p99_ms: 0.090,
            }),
        };
        insta::assert_snapshot!(ping_summary_table(&Output::plain(), &summary).to_string());
    }

    fn report(proto: Proto, port: u16) -> BenchReport {
        BenchReport {
            proto,
            target: addr(port),
            connections: 4,
            size: 64,
            mode: BenchMode::PingPong,
            messages: 120_000,
            lost: 0,
            elapsed_s: 2.0,
            msgs_per_sec: 60_000.0,
            mb_per_sec: 3.84,
            latency: Latency {
                mean_us: 60.0,
                p50_us: 55.0,
                p90_us: 80.0,
                p99_us: 140.0,
                p999_us: 400.0,
                max_us: 2100.0,
            },
        }
    }

    #[test]
    fn ping_probe_lines_snapshot() {
        let a = addr(7007);
        let lines: Vec<String> = [
            PingEvent::Connected { connect_ms: 0.081 },
            PingEvent::Reply {
                seq: 0,
                bytes: 64,
                rtt_ms: 0.052,
            },
            PingEvent::Duplicate {
                seq: 0,
                rtt_ms: 0.060,
            },
            PingEvent::Timeout { seq: 1 },
            PingEvent::Late {
                seq: 1,
                rtt_ms: 1200.5,
            },
        ]
        .iter()
        .map(|e| ping_event_line(a, e))
        .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn demo_ping_table_snapshot() {
        let tcp = PingSummary {
            proto: Proto::Tcp,
            target: addr(7007),
            sent: 10,
            received: 10,
            loss_percent: 0.0,
            duplicates: 0,
            reordered: 0,
            late: 0,
            connect_ms: Some(0.1),
            rtt: RttStats::from_samples(&[Duration::from_micros(50), Duration::from_micros(70)]),
        };
        let udp = PingSummary {
            proto: Proto::Udp,
            target: addr(7008),
            received: 0,
            loss_percent: 100.0,
            connect_ms: None,
            rtt: None,
            ..tcp.clone()
        };
        insta::assert_snapshot!(ping_rows_table(&Output::plain(), &[tcp, udp]).to_string());
    }

    #[test]
    fn bench_table_snapshot() {
        let reports = [report(Proto::Tcp, 7007), report(Proto::Udp, 7008)];
        insta::assert_snapshot!(bench_table(&Output::plain(), &reports).to_string());
    }

    #[test]
    fn server_summary_tables_snapshot() {
        let tcp = TcpSummary {
            connections: 3,
            rejected: 1,
            idle_closed: 1,
            aborted: 0,
            bytes_in: 1_048_576,
            bytes_out: 1_048_576,
            errors: 0,
        };
        let udp = UdpSummary {
            received: 100,
            replied: 93,
            dropped: 10,
            duplicated: 3,
            ..UdpSummary::default()
        };
        let out = Output::plain();
        insta::assert_snapshot!(format!(
            "{}\n{}",
            tcp_summary_table(&out, &tcp),
            udp_summary_table(&out, &udp)
        ));
    }
}
