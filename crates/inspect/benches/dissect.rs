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
//! pcap of 100,000 of them) as the baseline. Bounded: each measurement runs about 2 seconds.

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

use std::hint::black_box;
use std::time::{Duration, Instant};

use netlab_inspect::capfile::{CaptureFormat, CaptureWriter};
use netlab_inspect::dissect::dissect;
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::model::{RawPacket, Timestamp};

const RUN: Duration = Duration::from_secs(2);
const TSHARK_PACKETS: usize = 100_000;

fn packets() -> Vec<RawPacket> {
    fixtures::all().iter().flat_map(|f| f.packets()).collect()
}

/// Run `f` over the packets, round after round, for about `RUN`; returns packets per second.
fn rate(packets: &[RawPacket], mut f: impl FnMut(&RawPacket)) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < RUN {
        for p in packets {
            f(p);
        }
        n += packets.len() as u64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn tshark_rate(packets: &[RawPacket]) -> Option<f64> {
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
    let start = Instant::now();
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&path)
        .args(["-T", "fields", "-e", "frame.number"])
        .output()
        .ok();
    let secs = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    let out = out?;
    let lines = out.stdout.iter().filter(|&&b| b == b'\n').count();
    (out.status.success() && lines == TSHARK_PACKETS).then(|| TSHARK_PACKETS as f64 / secs)
}

fn main() {
    let packets = packets();
    let bytes: usize = packets.iter().map(|p| p.bytes.len()).sum();
    println!(
        "mixed set: {} fixture packets, {:.0} bytes on average",
        packets.len(),
        bytes as f64 / packets.len() as f64
    );

    let d = rate(&packets, |p| {
        black_box(dissect(p.link_type, &p.bytes));
    });
    println!("dissect:                  {:>12.0} packets/s", d);
    // For profiling the dissector alone: `NETLAB_BENCH_ONLY=dissect perf record ...`.
    if std::env::var("NETLAB_BENCH_ONLY").is_ok_and(|v| v == "dissect") {
        return;
    }

    let mut tracker = FlowTracker::new();
    let mut rounds = 0;
    let df = rate(&packets, |p| {
        // A fresh tracker per round keeps the flows table the size of one capture.
        if rounds % packets.len() == 0 {
            tracker = FlowTracker::new();
        }
        rounds += 1;
        black_box(tracker.process(p));
    });
    println!("dissect + flows:          {:>12.0} packets/s", df);

    let mut tracker = FlowTracker::new();
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut rounds = 0;
    let dj = rate(&packets, |p| {
        if rounds % packets.len() == 0 {
            tracker = FlowTracker::new();
        }
        rounds += 1;
        let (d, _) = tracker.process(p);
        buf.clear();
        serde_json::to_writer(&mut buf, &d).expect("serializes");
        black_box(&buf);
    });
    println!("dissect + flows + JSON:   {:>12.0} packets/s", dj);

    match tshark_rate(&packets) {
        Some(t) => {
            println!(
                "tshark -T fields (baseline): {:>9.0} packets/s ({TSHARK_PACKETS} packets)",
                t
            );
            println!(
                "ratio dissect / tshark: {:.0}x, dissect + flows + JSON / tshark: {:.0}x",
                d / t,
                dj / t
            );
        }
        None => println!("tshark baseline: SKIPPED (tshark not installed)"),
    }
}
