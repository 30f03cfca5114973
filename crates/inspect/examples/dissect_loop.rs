//! Dissects every packet of a capture in a tight loop, in memory: the dissector's own cost,
//! without file I/O or rendering. Used with `scripts/bench/icount.sh`, which counts the
//! instructions per packet under callgrind (repeatable on a shared, noisy machine, where
//! wall-clock time is not), and for `perf record`.
//!
//! ```text
//! cargo run --release -p netlab-inspect --example dissect_loop -- FILE [full|lean] [flows]
//! ROUNDS=1 ...      # passes over the capture (default 20; 0 = read only, the baseline)
//! ```
//!
//! `lean` dissects with `Context::summaries_only` (what the one-line view and `--stats` use),
//! `flows` runs the flow tracker too.

use netlab_inspect::capfile::CaptureReader;
use netlab_inspect::dissect::{Context, dissect_into};
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::model::Dissection;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: dissect_loop FILE [full|lean] [flows]");
    let lean = args.next().is_some_and(|a| a == "lean");
    let flows = args.next().is_some_and(|a| a == "flows");
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let packets: Vec<_> = CaptureReader::open(&path)
        .expect("open the capture")
        .into_iter()
        .map_while(Result::ok)
        .collect();
    let ctx = Context {
        summaries_only: lean,
        ..Context::default()
    };
    let start = std::time::Instant::now();
    let mut layers = 0usize;
    // One dissection refilled packet after packet, as the CLI does (`dissect_into`).
    let mut d = Dissection::default();
    for _ in 0..rounds {
        let mut tracker = FlowTracker::new();
        tracker.set_summaries_only(lean);
        for raw in &packets {
            if flows {
                std::hint::black_box(tracker.process_into(raw, &mut d));
            } else {
                dissect_into(raw.link_type, &raw.bytes, &ctx, &mut d);
            }
            layers += d.layers.len();
            std::hint::black_box(&d);
        }
    }
    let per_packet = start.elapsed().as_nanos() as f64 / (rounds * packets.len()).max(1) as f64;
    eprintln!(
        "{} packets x {rounds}: {per_packet:.0} ns per packet ({layers} layers)",
        packets.len()
    );
}
