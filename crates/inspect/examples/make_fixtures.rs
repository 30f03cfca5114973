//! Regenerate the committed fixture captures from their byte-by-byte recipes.
//!
//! ```text
//! cargo run -p netlab-inspect --example make_fixtures
//! ```
//!
//! writes one classic pcap file per fixture to crates/inspect/tests/fixtures/ (pcap rather than
//! pcapng because tshark, tcpdump and every tutorial read it, and each fixture has one link
//! type). The test `fixtures_are_up_to_date` fails when a recipe changes and this was not run.
//!
//! With `-- --corpus DIR` it also writes every frame as a seed for the `dissect` fuzz target
//! (crates/inspect/fuzz): one file per frame, its first byte selecting the link type.

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

use std::path::Path;

use netlab_inspect::capfile::{CaptureFormat, CaptureWriter};

/// The fuzz target's link-type table: a seed's first byte is an index into it.
const FUZZ_LINK_TYPES: [u32; 9] = [0, 1, 101, 108, 113, 228, 229, 276, 147];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--corpus") {
        let dir = args.get(i + 1).ok_or("--corpus needs a directory")?;
        return write_corpus(Path::new(dir));
    }
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

fn write_corpus(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let mut n = 0;
    for f in fixtures::all() {
        let pick = FUZZ_LINK_TYPES
            .iter()
            .position(|&l| l == f.link.0)
            .ok_or("link type missing from the fuzz table")?;
        for (i, frame) in f.frames.iter().enumerate() {
            let mut seed = vec![pick as u8];
            seed.extend_from_slice(&frame.bytes);
            std::fs::write(dir.join(format!("{}-{}", f.name, i + 1)), seed)?;
            n += 1;
        }
    }
    println!("{n} seeds written to {}", dir.display());
    Ok(())
}
