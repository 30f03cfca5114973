//! Regenerate the committed fixture captures from their byte-by-byte recipes.
//!
//! ```text
//! cargo run -p netlab-inspect --example make_fixtures
//! ```
//!
//! writes one classic pcap file per fixture to crates/inspect/tests/fixtures/ (pcap rather than
//! pcapng because tshark, tcpdump and every tutorial read it, and each fixture has one link
//! type). The test `fixtures_are_up_to_date` fails when a recipe changes and this was not run.

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

use std::path::Path;

use netlab_inspect::capfile::{CaptureFormat, CaptureWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::create_dir_all(&dir)?;
    for f in fixtures::all() {
        let mut w = CaptureWriter::new(Vec::new(), CaptureFormat::Pcap)?;
        for p in f.packets() {
            w.write_packet(&p)?;
        }
        let path = dir.join(format!("{}.pcap", f.name));
        std::fs::write(&path, w.finish()?)?;
        println!(
            "{}: {} packets, {}",
            path.display(),
            f.frames.len(),
            f.about
        );
    }
    Ok(())
}
