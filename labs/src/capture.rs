//! Capturing a lab's own loopback traffic, with a fallback every student can use.
//!
//! Live capture needs root or CAP_NET_RAW. When the lab has it, [`Session::capture`] records the
//! experiment's packets on `lo` (only the experiment's ports, so the rest of the machine stays
//! out). When it does not, the lab says exactly how to allow it, still runs the experiment, and
//! shows the packets the same lab recorded earlier and ships in `labs/captures/NAME.pcap`, so
//! every student can finish. `--offline` (or NETLAB_OFFLINE=1) forces the fallback; `--pcap DIR`
//! keeps what the lab showed as `DIR/NAME.pcap`, which is also how the shipped files are made:
//! `sudo target/release/lab01 --ci --pcap labs/captures`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netlab_inspect::RawPacket;
use netlab_inspect::capfile::{CaptureReader, PcapWriter};
use netlab_inspect::live::{BackgroundCapture, LiveConfig};

use crate::error::LabError;
use crate::report::Event;
use crate::session::Session;

/// After the experiment's last write, the kernel may still be delivering its last ACK on `lo`;
/// this grace keeps it in the capture. Loopback delivers in microseconds, so it is generous.
const SETTLE: Duration = Duration::from_millis(30);

/// Where the packets of a [`Recording`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Captured just now, from this run's traffic.
    Live,
    /// Read from labs/captures/: recorded by an earlier run of the same lab.
    Shipped,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Live => "live",
            Source::Shipped => "shipped",
        }
    }
}

/// The packets of one experiment.
#[derive(Debug, Clone)]
pub struct Recording {
    pub name: String,
    pub source: Source,
    pub packets: Vec<RawPacket>,
}

/// The directory of shipped captures: `NETLAB_LAB_CAPTURES` if set, else labs/captures/ in the
/// source tree the binary was built from (a fresh clone has them).
pub fn captures_dir() -> PathBuf {
    std::env::var_os("NETLAB_LAB_CAPTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"))
}

/// Reads every packet of a pcap or pcapng file.
pub fn read_capture(path: &Path) -> Result<Vec<RawPacket>, LabError> {
    let shipped = |message: String| LabError::ShippedCapture {
        path: path.to_path_buf(),
        message,
    };
    let mut reader = CaptureReader::open(path).map_err(|e| shipped(e.to_string()))?;
    let mut packets = Vec::new();
    while let Some(p) = reader.next_packet().map_err(|e| shipped(e.to_string()))? {
        packets.push(p);
    }
    Ok(packets)
}

/// Writes packets as a classic pcap file (every tool reads it).
pub fn write_capture(path: &Path, packets: &[RawPacket]) -> Result<(), LabError> {
    let fail = |e: String| LabError::Capture(format!("writing {}: {e}", path.display()));
    let file = std::fs::File::create(path).map_err(|e| fail(e.to_string()))?;
    let mut writer = PcapWriter::new(std::io::BufWriter::new(file));
    for p in packets {
        writer.write_packet(p).map_err(|e| fail(e.to_string()))?;
    }
    writer.finish().map_err(|e| fail(e.to_string()))?;
    Ok(())
}

impl Session {
    /// Runs `traffic` and returns its result with the packets it exchanged on loopback. `name` is
    /// the capture's file name without extension (`lab01-tcp`); `ports` are the experiment's
    /// server ports, bound before calling this, so only its own packets are kept.
    pub async fn capture<T>(
        &mut self,
        name: &str,
        ports: &[u16],
        traffic: impl Future<Output = Result<T, LabError>>,
    ) -> Result<(T, Recording), LabError> {
        let live = if self.options.offline() {
            Err("--offline (or NETLAB_OFFLINE) asked for the shipped captures".to_string())
        } else {
            BackgroundCapture::start(&LiveConfig::on("lo").with_ports(ports))
                .map_err(|e| self.explain_capture_error(&e))
        };
        // The capture is stopped even when the experiment failed, so its thread never outlives
        // the step; then the experiment's error, if any, wins.
        let value = traffic.await;
        let live = match live {
            Ok(capture) => {
                if value.is_ok() {
                    tokio::time::sleep(SETTLE).await;
                }
                // Stopping joins the reader thread (up to one read timeout): off the runtime.
                let stopped = tokio::task::spawn_blocking(move || capture.stop())
                    .await
                    .map_err(|e| LabError::Capture(format!("capture thread: {e}")));
                Ok(stopped)
            }
            Err(reason) => Err(reason),
        };
        let value = value?;
        let recording = match live {
            Ok(stopped) => Recording {
                name: name.to_string(),
                source: Source::Live,
                packets: stopped?
                    .map_err(|e| LabError::Capture(e.to_string()))?
                    .packets,
            },
            Err(reason) => self.shipped(name, reason)?,
        };
        let file = match self.options.pcap.clone() {
            Some(dir) => Some(self.keep(&dir, &recording)?),
            None if recording.source == Source::Shipped => {
                Some(shipped_path(name).display().to_string())
            }
            None => None,
        };
        let reason = (recording.source == Source::Shipped).then(|| self.fallback_reason.clone());
        self.emit_event(Event::Capture {
            name: name.to_string(),
            source: recording.source.name(),
            packets: recording.packets.len(),
            file,
            reason: reason.flatten(),
        });
        Ok((value, recording))
    }

    /// Turns a failed live capture into the reason shown to the student; a missing privilege
    /// gets the exact command that grants it, once per run.
    fn explain_capture_error(&mut self, e: &netlab_inspect::InspectError) -> String {
        if e.is_permission() {
            let binary = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| format!("target/release/lab{:02}", self.lab_number));
            format!(
                "live capture needs root or the CAP_NET_RAW capability. To watch your own packets, \
                 allow it once with:  sudo setcap cap_net_raw+ep {binary}  (or run the lab with sudo)"
            )
        } else {
            format!("live capture on lo failed: {e}")
        }
    }

    /// Loads the shipped capture `name` and tells the student (once) why.
    fn shipped(&mut self, name: &str, reason: String) -> Result<Recording, LabError> {
        if self.fallback_reason.is_none() {
            let text = format!(
                "Note: {reason}.\nCarrying on: the packets below were recorded by an earlier run of this same lab (labs/captures/); your own run's traffic still happens, but is not captured."
            );
            let text = self.style.yellow(&text);
            self.say(&text);
            self.fallback_reason = Some(reason);
        }
        Ok(Recording {
            name: name.to_string(),
            source: Source::Shipped,
            packets: read_capture(&shipped_path(name))?,
        })
    }

    /// `--pcap DIR`: writes the recording to DIR/NAME.pcap and says where.
    fn keep(&mut self, dir: &Path, recording: &Recording) -> Result<String, LabError> {
        std::fs::create_dir_all(dir)
            .map_err(LabError::io(format!("creating {}", dir.display())))?;
        let path = dir.join(format!("{}.pcap", recording.name));
        write_capture(&path, &recording.packets)?;
        let line = format!(
            "  (saved {} packets to {}: open it in Wireshark, or `netlab inspect read {}`)",
            recording.packets.len(),
            path.display(),
            path.display()
        );
        let line = self.style.dim(&line);
        self.say(&line);
        Ok(path.display().to_string())
    }
}

fn shipped_path(name: &str) -> PathBuf {
    captures_dir().join(format!("{name}.pcap"))
}
