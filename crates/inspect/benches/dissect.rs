//! Dissection throughput on one core: packets per second for a mixed set of fixture frames
//! (every committed fixture: TCP handshakes and data, HTTP, WebSocket, DNS, TLS, ICMP errors,
//! IPv6 extension headers, VLAN, ARP, every link type, truncated frames).
//!
//! ```text
//! cargo bench -p netlab-inspect --bench dissect
//! ```
//!
//! Prints packets/s for `dissect` alone, `dissect` + the flow tracker, and `dissect` + flows +
//! serde_json of the dissection (what `--json` costs on top), and, when tshark is installed,
//! tshark's own rate on the same packets (`tshark -n -r FILE -T fields -e frame.number` over a
//! pcap of 100,000 of them) as the baseline. Bounded: each measurement runs about 3 seconds.
//! Rates are printed per wall-clock second and per CPU second (the ratios use CPU seconds for
//! ours and wall-clock for tshark's whole run, which is single-threaded).

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

use std::hint::black_box;
use std::time::{Duration, Instant};

use netlab_inspect::capfile::{CaptureFormat, CaptureWriter};
use netlab_inspect::dissect::dissect;
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::model::{RawPacket, Timestamp};

const RUN: Duration = Duration::from_secs(3);
const TSHARK_PACKETS: usize = 100_000;

fn packets() -> Vec<RawPacket> {
    fixtures::all().iter().flat_map(|f| f.packets()).collect()
}

/// CPU seconds this process has used (user + system), from /proc/self/stat: on a shared
/// machine wall-clock rates depend on the neighbours, CPU-time rates much less.
fn cpu_secs() -> Option<f64> {
    stat_secs(11)
}

/// CPU seconds used by waited-for children (tshark), from the same file.
fn children_cpu_secs() -> Option<f64> {
    stat_secs(13)
}

/// Two consecutive tick counters of /proc/self/stat, counted after the ")" that ends the
/// command name: utime and stime at 11, cutime and cstime at 13.
fn stat_secs(at: usize) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(at)?.parse::<f64>().ok()? + f.get(at + 1)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux configuration this runs on.
    Some(ticks / 100.0)
}

/// Run `f` over the packets, round after round, for about `RUN`; returns packets per second,
/// and prints it both per wall-clock second and per CPU second.
fn rate(label: &str, packets: &[RawPacket], mut f: impl FnMut(&RawPacket)) -> f64 {
    let cpu0 = cpu_secs();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < RUN {
        for p in packets {
            f(p);
        }
        n += packets.len() as u64;
    }
    let wall = n as f64 / start.elapsed().as_secs_f64();
    let cpu = cpu0
        .zip(cpu_secs())
        .map(|(a, b)| n as f64 / (b - a).max(0.01));
    match cpu {
        Some(c) => {
            println!("{label:<28}{wall:>12.0} packets/s wall, {c:>12.0} packets per CPU-second")
        }
        None => println!("{label:<28}{wall:>12.0} packets/s wall"),
    }
    cpu.unwrap_or(wall)
}

/// tshark's packets per wall-clock second and per CPU second.
fn tshark_rate(packets: &[RawPacket]) -> Option<(f64, f64)> {
    let path = std::env::temp_dir().join(format!(
        "netlab-dissect-bench-{}.pcapng",
        std::process::id()
    ));
    let mut w =
        CaptureWriter::new(std::fs::File::create(&path).ok()?, CaptureFormat::Pcapng).ok()?;
    for (i, p) in packets.iter().cycle().take(TSHARK_PACKETS).enumerate() {
        let mut p = p.clone();
        p.ts = Timestamp {
            secs: 1_700_000_000 + (i / 1000) as i64,
            nanos: (i % 1000) as u32 * 1000,
        };
        w.write_packet(&p).ok()?;
    }
    w.finish().ok()?;
    let cpu0 = children_cpu_secs()?;
    let start = Instant::now();
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&path)
        .args(["-T", "fields", "-e", "frame.number"])
        .output()
        .ok();
    let secs = start.elapsed().as_secs_f64();
    let cpu = (children_cpu_secs()? - cpu0).max(0.01);
    let _ = std::fs::remove_file(&path);
    let out = out?;
    let lines = out.stdout.iter().filter(|&&b| b == b'\n').count();
    let n = TSHARK_PACKETS as f64;
    (out.status.success() && lines == TSHARK_PACKETS).then_some((n / secs, n / cpu))
}

fn main() {
    let packets = packets();
    let bytes: usize = packets.iter().map(|p| p.bytes.len()).sum();
    println!(
        "mixed set: {} fixture packets, {:.0} bytes on average",
        packets.len(),
        bytes as f64 / packets.len() as f64
    );

    let d = rate("dissect:", &packets, |p| {
        black_box(dissect(p.link_type, &p.bytes));
    });
    // The commonest packet of a lab: a small TCP segment on lo (netlab echo, "ping\n").
    let echo: Vec<RawPacket> = fixtures::all()
        .iter()
        .filter(|f| f.name == "netlab-protocols")
        .flat_map(|f| f.packets())
        .skip(5)
        .take(1)
        .collect();
    println!(
        "(next: one {}-byte Ethernet/IPv4/TCP/Echo segment, over and over)",
        echo[0].bytes.len()
    );
    rate("dissect, TCP echo segment:", &echo, |p| {
        black_box(dissect(p.link_type, &p.bytes));
    });

    // For profiling: `NETLAB_BENCH_ONLY=dissect` (or `flows`) stops after that measurement.
    if std::env::var("NETLAB_BENCH_ONLY").is_ok_and(|v| v == "dissect") {
        return;
    }

    let mut tracker = FlowTracker::new();
    let mut rounds = 0;
    let df = rate("dissect + flows:", &packets, |p| {
        // A fresh tracker per round keeps the flows table the size of one capture.
        if rounds % packets.len() == 0 {
            tracker = FlowTracker::new();
        }
        rounds += 1;
        black_box(tracker.process(p));
    });
    if std::env::var("NETLAB_BENCH_ONLY").is_ok_and(|v| v == "flows") {
        return;
    }

    let mut tracker = FlowTracker::new();
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut rounds = 0;
    let dj = rate("dissect + flows + JSON:", &packets, |p| {
        if rounds % packets.len() == 0 {
            tracker = FlowTracker::new();
        }
        rounds += 1;
        let (d, _) = tracker.process(p);
        buf.clear();
        serde_json::to_writer(&mut buf, &d).expect("serializes");
        black_box(&buf);
    });

    match tshark_rate(&packets) {
        Some((wall, cpu)) => {
            println!(
                "{:<28}{wall:>12.0} packets/s wall, {cpu:>12.0} packets per CPU-second ({TSHARK_PACKETS} packets)",
                "tshark -T fields (baseline):"
            );
            println!(
                "per CPU-second: dissect {:.0}x tshark, dissect + flows {:.0}x, dissect + flows + JSON {:.0}x",
                d / cpu,
                df / cpu,
                dj / cpu
            );
        }
        None => println!("tshark baseline: SKIPPED (tshark not installed)"),
    }
}
