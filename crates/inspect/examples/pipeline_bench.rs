//! Times each stage of the inspector's pipeline on a capture file, one stage added at a time:
//! read, + dissect, + flows, + filter, + one-line view, + JSON (all to an in-memory sink), each
//! the best of three runs. The JSON stage is the default lean schema; the last line is the full
//! schema of `--json --detail` instead, for comparison. Each stage reuses its storage from packet
//! to packet as the CLI does, and the one-line stage dissects summaries only, as the CLI does
//! for that view (the other stages up to the filter dissect in full, as for `--json`).
//! Used for docs/performance.md ("Inspector"). Run:
//!
//! ```text
//! cargo run --release -p netlab-inspect --example pipeline_bench -- capture.pcapng
//! ```

use std::time::Instant;

use netlab_inspect::Packet;
use netlab_inspect::capfile::CaptureReader;
use netlab_inspect::dissect::{Context, dissect_into};
use netlab_inspect::filter::Filter;
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::render::{self, Clock, Style, TimeFormat};

#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Stage {
    Read,
    Dissect,
    Flows,
    Filter,
    Line,
    Json,
    JsonDetailed,
}

/// One pass over the file up to `stage`, the way the CLI goes: one `RawPacket` refilled by the
/// reader and one `Packet` dissected in place (`dissect_into`, `FlowTracker::process_into`),
/// summaries only for the one-line view (its filter reads no fields), in full for the rest.
fn run(path: &str, stage: Stage) -> (u64, f64, usize) {
    let start = Instant::now();
    let mut flows = FlowTracker::new();
    let filter = Filter::parse("not arp and (tcp or udp)").unwrap();
    flows.set_summaries_only(stage == Stage::Line && !filter.needs_fields());
    let mut clock = Clock::default();
    let mut out: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut bytes = 0usize;
    let mut n = 0u64;
    let mut reader = CaptureReader::open(path).unwrap();
    let mut p = Packet::default();
    while reader.read_into(&mut p.raw).unwrap() {
        n += 1;
        if stage == Stage::Read {
            bytes += p.raw.bytes.len();
            continue;
        }
        p.number = n;
        p.flow = if stage >= Stage::Flows {
            flows.process_into(&p.raw, &mut p.dissection)
        } else {
            dissect_into(
                p.raw.link_type,
                &p.raw.bytes,
                &Context::default(),
                &mut p.dissection,
            );
            None
        };
        if stage >= Stage::Filter && !filter.matches(&p) {
            continue;
        }
        match stage {
            Stage::Line => {
                render::line::row(&mut out, &p, &mut clock, TimeFormat::Rel, Style::PLAIN).unwrap()
            }
            Stage::Json => render::json::write(&mut out, &p, &mut clock).unwrap(),
            Stage::JsonDetailed => render::json::write_detailed(&mut out, &p, &mut clock).unwrap(),
            _ => bytes += p.dissection.layers.len(),
        }
        // Keep memory flat: the sink is drained like a pipe would be.
        bytes += out.len();
        out.clear();
    }
    (n, start.elapsed().as_secs_f64(), bytes)
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: pipeline_bench FILE");
    for (name, stage) in [
        ("read", Stage::Read),
        ("+ dissect", Stage::Dissect),
        ("+ flows", Stage::Flows),
        ("+ filter", Stage::Filter),
        ("+ one-line view", Stage::Line),
        ("+ json view", Stage::Json),
        ("+ json --detail", Stage::JsonDetailed),
    ] {
        // Best of three: the machine is shared, the minimum is the least disturbed run.
        let (n, secs, check) = (0..3)
            .map(|_| run(&path, stage))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        println!(
            "{name:<16} {n} packets in {secs:.3} s: {:>9.0} packets/s  (checksum {check})",
            n as f64 / secs
        );
    }
}
