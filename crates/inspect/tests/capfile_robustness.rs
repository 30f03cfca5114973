//! Hostile capture files never panic the reader, never allocate beyond the record limit, and
//! always end: random bytes behind a valid header, every truncation of a real file, and real
//! files with random bytes overwritten. Also: the filter parser on arbitrary text, and every
//! view on whatever the reader and dissector make of such files.

use netlab_inspect::InspectError;
use netlab_inspect::capfile::{CaptureFormat, CaptureReader, CaptureWriter};
use netlab_inspect::filter::Filter;
use netlab_inspect::flows::FlowTracker;
use netlab_inspect::render::{self, Clock, Style, TimeFormat};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Read everything; render every packet in every view. Returns how many packets were read.
fn read_and_render(bytes: &[u8]) -> usize {
    let Ok(reader) = CaptureReader::new(bytes) else {
        return 0;
    };
    let mut flows = FlowTracker::new();
    let mut clock = Clock::default();
    let mut sink = Vec::new();
    let mut n = 0;
    for raw in reader {
        let Ok(raw) = raw else { break };
        n += 1;
        let p = flows.packet(n as u64, raw);
        sink.clear();
        render::line::row(&mut sink, &p, &mut clock, TimeFormat::Delta, Style::COLOR).unwrap();
        render::tree::write(&mut sink, &p, Style::PLAIN).unwrap();
        render::hex::write(&mut sink, &p, Style::PLAIN, Some("tcp.dstport")).unwrap();
        render::json::write(&mut sink, &p, &mut clock).unwrap();
        render::json::write_detailed(&mut sink, &p, &mut clock).unwrap();
    }
    n
}

#[test]
fn every_truncation_of_real_files_is_read_up_to_the_cut() {
    for name in ["http-get.pcapng", "tcp-flows.pcap"] {
        let file = fixture(name);
        let whole = read_and_render(&file);
        for cut in 0..file.len() {
            // Reading every cut is cheap; rendering every 13th keeps the test quick.
            let n = if cut % 13 == 0 {
                read_and_render(&file[..cut])
            } else {
                CaptureReader::new(&file[..cut])
                    .map(|r| r.packets().take_while(|p| p.is_ok()).count())
                    .unwrap_or(0)
            };
            assert!(n <= whole, "{name} cut at {cut}: {n} > {whole}");
            if cut > 0 && cut < file.len() {
                // A cut file is either not a capture (header cut) or ends with a located error.
                if let Ok(r) = CaptureReader::new(&file[..cut]) {
                    let last = r.packets().last();
                    if let Some(Err(e)) = last {
                        assert!(
                            matches!(
                                e,
                                InspectError::Truncated { .. } | InspectError::Malformed { .. }
                            ),
                            "{name} cut at {cut}: {e}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn a_round_trip_through_the_writer_keeps_every_packet() {
    for name in ["http-get.pcapng", "tcp-flows.pcap", "linktype-sll2.pcap"] {
        let packets: Vec<_> = CaptureReader::new(&fixture(name)[..])
            .unwrap()
            .packets()
            .collect::<Result<_, _>>()
            .unwrap();
        for format in [CaptureFormat::Pcapng, CaptureFormat::Pcap] {
            let mut w = CaptureWriter::new(Vec::new(), format).unwrap();
            for p in &packets {
                w.write_packet(p).unwrap();
            }
            let again: Vec<_> = CaptureReader::new(&w.finish().unwrap()[..])
                .unwrap()
                .packets()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(again, packets, "{name} as {format:?}");
        }
    }
}

proptest! {
    // A fixed seed: the same cases on every run, so a failure in CI reproduces anywhere.
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x6e65_746c_6162),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_behind_a_pcap_header(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut file = fixture("tcp-flows.pcap")[..24].to_vec();
        file.extend_from_slice(&body);
        read_and_render(&file);
    }

    #[test]
    fn random_bytes_behind_a_pcapng_header(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let real = fixture("http-get.pcapng");
        let shb_len = u32::from_le_bytes([real[4], real[5], real[6], real[7]]) as usize;
        let mut file = real[..shb_len].to_vec();
        file.extend_from_slice(&body);
        read_and_render(&file);
    }

    #[test]
    fn real_files_with_bytes_overwritten(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16)
    ) {
        for name in ["http-get.pcapng", "tcp-flows.pcap"] {
            let mut file = fixture(name);
            for (at, b) in &edits {
                let i = at.index(file.len());
                file[i] = *b;
            }
            read_and_render(&file);
        }
    }

    #[test]
    fn the_filter_parser_never_panics(text in "[ -~]{0,40}") {
        let _ = Filter::parse(&text);
    }

    #[test]
    fn filter_errors_point_inside_the_text(text in "[a-z0-9.=<>!&|() \"]{0,30}") {
        if let Err(InspectError::Filter { pos, rendered, .. }) = Filter::parse(&text) {
            prop_assert!(pos <= text.chars().count(), "{pos} past {text:?}");
            prop_assert!(rendered.contains('^'));
        }
    }
}
