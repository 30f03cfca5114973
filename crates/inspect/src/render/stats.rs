//! `--stats`: what a capture is made of. The protocol hierarchy (as Wireshark's Statistics >
//! Protocol Hierarchy) and the bytes each layer costs: how much of what crossed the wire was
//! headers (overhead) and how much was the application's data.

use std::io::{self, Write};

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use serde::Serialize;

use crate::flows::Conversations;
use crate::model::{OsiLayer, Packet, Protocol, TcpIpLayer};

/// Totals accumulated packet by packet; memory grows with the number of distinct layer chains,
/// not with the capture.
#[derive(Debug, Default)]
pub struct Stats {
    packets: u64,
    wire_bytes: u64,
    captured_bytes: u64,
    root: Node,
    /// Bytes of each OSI layer (index 1-7) over all packets.
    per_osi: [u64; 8],
    /// Captured bytes no layer decoded: transport payload of an unknown (or continued)
    /// application, and trailers such as Ethernet padding.
    unclaimed: u64,
}

#[derive(Debug, Default)]
struct Node {
    /// `None` for the root, above the first layer.
    protocol: Option<Protocol>,
    osi: Option<OsiLayer>,
    packets: u64,
    /// Bytes from this layer's start to the end of the frame: the layer and all it carries.
    bytes: u64,
    /// Bytes of this layer alone.
    own: u64,
    children: Vec<Node>,
}

/// One row of the hierarchy, for JSON.
#[derive(Debug, Serialize)]
pub struct HierarchyRow {
    pub path: String,
    pub depth: usize,
    pub protocol: &'static str,
    pub osi: Option<u8>,
    pub packets: u64,
    pub bytes: u64,
    pub own_bytes: u64,
}

/// One row of bytes per OSI layer, for JSON.
#[derive(Debug, Serialize)]
pub struct LayerRow {
    pub osi: u8,
    pub osi_name: &'static str,
    pub bytes: u64,
    pub percent: f64,
}

impl Stats {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, p: &Packet) {
        let cap = p.raw.bytes.len();
        self.packets += 1;
        self.wire_bytes += u64::from(p.raw.orig_len);
        self.captured_bytes += cap as u64;
        let mut node = &mut self.root;
        let mut claimed = 0usize;
        // Transport payload that no application layer decoded: data, not TCP or UDP header.
        let payload = p.dissection.payload.clone().unwrap_or(0..0);
        for l in &p.dissection.layers {
            let idx = match node
                .children
                .iter()
                .position(|c| c.protocol == Some(l.protocol))
            {
                Some(i) => i,
                None => {
                    node.children.push(Node {
                        protocol: Some(l.protocol),
                        osi: Some(l.osi),
                        ..Node::default()
                    });
                    node.children.len() - 1
                }
            };
            node = &mut node.children[idx];
            let start = l.byte_range.start.min(cap);
            let mut end = l.byte_range.end.min(cap);
            let inside = payload.start >= start && payload.start < end;
            if l.osi <= OsiLayer::Transport && !payload.is_empty() && inside {
                end = payload.start;
            }
            let own = end.saturating_sub(start);
            node.packets += 1;
            node.bytes += (cap - start) as u64;
            node.own += own as u64;
            self.per_osi[usize::from(l.osi.number())] += own as u64;
            claimed += own;
        }
        self.unclaimed += cap.saturating_sub(claimed) as u64;
    }

    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// The hierarchy, depth first, as rows.
    pub fn hierarchy(&self) -> Vec<HierarchyRow> {
        let mut rows = Vec::new();
        for c in &self.root.children {
            walk(c, 0, String::new(), &mut rows);
        }
        rows
    }

    /// Bytes per OSI layer that has any, outermost first.
    pub fn layers(&self) -> Vec<LayerRow> {
        let total = self.captured_bytes.max(1) as f64;
        (1..=7u8)
            .filter(|&n| self.per_osi[usize::from(n)] > 0)
            .map(|n| LayerRow {
                osi: n,
                osi_name: osi_name(n),
                bytes: self.per_osi[usize::from(n)],
                percent: 100.0 * self.per_osi[usize::from(n)] as f64 / total,
            })
            .collect()
    }

    /// Write the tables.
    pub fn write(&self, w: &mut impl Write) -> io::Result<()> {
        writeln!(
            w,
            "{} packets, {} bytes on the wire, {} captured\n",
            self.packets, self.wire_bytes, self.captured_bytes
        )?;
        writeln!(w, "Protocol hierarchy")?;
        let mut t = table(&[
            "Protocol",
            "Layer",
            "Packets",
            "% packets",
            "Bytes",
            "Own bytes",
        ]);
        for r in self.hierarchy() {
            t.add_row(vec![
                format!("{}{}", "  ".repeat(r.depth), r.protocol),
                r.osi.map(|n| format!("L{n}")).unwrap_or_default(),
                r.packets.to_string(),
                percent(r.packets, self.packets),
                r.bytes.to_string(),
                r.own_bytes.to_string(),
            ]);
        }
        right_align(&mut t, &[2, 3, 4, 5]);
        writeln!(w, "{t}\n")?;

        writeln!(w, "Bytes per layer (what each layer costs)")?;
        let mut t = table(&[
            "OSI layer",
            "TCP/IP layer",
            "Bytes",
            "% of captured",
            "Per packet",
        ]);
        for r in self.layers() {
            t.add_row(vec![
                format!("L{} {}", r.osi, r.osi_name),
                tcpip_for(r.osi).to_string(),
                r.bytes.to_string(),
                format!("{:.1}%", r.percent),
                format!("{:.1}", r.bytes as f64 / self.packets.max(1) as f64),
            ]);
        }
        if self.unclaimed > 0 {
            t.add_row(vec![
                "data, not decoded".to_string(),
                String::new(),
                self.unclaimed.to_string(),
                percent(self.unclaimed, self.captured_bytes),
                format!("{:.1}", self.unclaimed as f64 / self.packets.max(1) as f64),
            ]);
        }
        right_align(&mut t, &[2, 3, 4]);
        writeln!(w, "{t}")?;
        let headers: u64 = self.per_osi[1..=4].iter().sum();
        writeln!(
            w,
            "Headers below the application (L2-L4): {} of {} captured bytes ({}); the rest is what \
             the applications sent (or Ethernet padding).",
            headers,
            self.captured_bytes,
            percent(headers, self.captured_bytes)
        )
    }

    /// One JSON object per line: a summary, then hierarchy rows, then layer rows.
    pub fn write_json(&self, w: &mut impl Write) -> io::Result<()> {
        let summary = serde_json::json!({
            "kind": "summary",
            "packets": self.packets,
            "wire_bytes": self.wire_bytes,
            "captured_bytes": self.captured_bytes,
            "unclaimed_bytes": self.unclaimed,
        });
        writeln!(w, "{summary}")?;
        for r in self.hierarchy() {
            let mut v = serde_json::to_value(&r)?;
            v["kind"] = "protocol".into();
            writeln!(w, "{v}")?;
        }
        for r in self.layers() {
            let mut v = serde_json::to_value(&r)?;
            v["kind"] = "layer".into();
            writeln!(w, "{v}")?;
        }
        Ok(())
    }
}

/// The conversations table: one row per TCP stream or UDP flow, A being the side that spoke
/// first, for the first [`LISTED_CONVERSATIONS`](crate::flows::LISTED_CONVERSATIONS); the rest
/// share one "other" row. A capture of many short flows (a scan, a flood from random ports)
/// would otherwise make a table of hundreds of thousands of rows, and the flow tracker keeps no
/// more than that (see [`crate::flows`]).
pub fn write_conversations(w: &mut impl Write, convs: &Conversations) -> io::Result<()> {
    writeln!(w, "\nConversations")?;
    let mut t = table(&[
        "Stream",
        "A",
        "B",
        "Packets A→B",
        "Bytes A→B",
        "Packets B→A",
        "Bytes B→A",
        "Duration s",
        "Carries",
        "State",
    ]);
    for c in &convs.listed {
        t.add_row(vec![
            format!("{} {}", c.protocol, c.stream),
            c.a.to_string(),
            c.b.to_string(),
            c.a_to_b.packets.to_string(),
            c.a_to_b.bytes.to_string(),
            c.b_to_a.packets.to_string(),
            c.b_to_a.bytes.to_string(),
            format!("{:.6}", c.duration),
            c.application.map_or("", Protocol::name).to_string(),
            c.state.to_string(),
        ]);
    }
    if let Some(other) = &convs.other {
        t.add_row(vec![
            "other".to_string(),
            format!("{} more conversations", other.conversations),
            String::new(),
            other.a_to_b.packets.to_string(),
            other.a_to_b.bytes.to_string(),
            other.b_to_a.packets.to_string(),
            other.b_to_a.bytes.to_string(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    right_align(&mut t, &[3, 4, 5, 6, 7]);
    writeln!(w, "{t}")
}

/// The conversations as JSON lines, `{"kind":"conversation",...}` for each listed one, then
/// `{"kind":"other_conversations","conversations":N,...}` for the rest, if any: the same
/// rows as the table.
pub fn write_conversations_json(w: &mut impl Write, convs: &Conversations) -> io::Result<()> {
    for c in &convs.listed {
        let mut v = serde_json::to_value(c)?;
        v["kind"] = "conversation".into();
        writeln!(w, "{v}")?;
    }
    if let Some(other) = &convs.other {
        let mut v = serde_json::to_value(other)?;
        v["kind"] = "other_conversations".into();
        writeln!(w, "{v}")?;
    }
    Ok(())
}

fn walk(n: &Node, depth: usize, prefix: String, rows: &mut Vec<HierarchyRow>) {
    let protocol = n.protocol.map_or("", Protocol::name);
    let path = if prefix.is_empty() {
        protocol.to_string()
    } else {
        format!("{prefix} > {protocol}")
    };
    rows.push(HierarchyRow {
        path: path.clone(),
        depth,
        protocol,
        osi: n.osi.map(|o| o.number()),
        packets: n.packets,
        bytes: n.bytes,
        own_bytes: n.own,
    });
    for c in &n.children {
        walk(c, depth + 1, path.clone(), rows);
    }
}

/// A table with fixed layout: same output on any terminal width (and in snapshots).
pub(crate) fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.to_vec());
    t
}

pub(crate) fn right_align(t: &mut Table, columns: &[usize]) {
    for &c in columns {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn percent(part: u64, whole: u64) -> String {
    format!("{:.1}%", 100.0 * part as f64 / whole.max(1) as f64)
}

fn osi_name(n: u8) -> &'static str {
    match n {
        1 => OsiLayer::Physical.name(),
        2 => OsiLayer::DataLink.name(),
        3 => OsiLayer::Network.name(),
        4 => OsiLayer::Transport.name(),
        5 => OsiLayer::Session.name(),
        6 => OsiLayer::Presentation.name(),
        _ => OsiLayer::Application.name(),
    }
}

/// The TCP/IP layer that an OSI layer falls in.
fn tcpip_for(osi: u8) -> &'static str {
    match osi {
        1 | 2 => TcpIpLayer::Link.name(),
        3 => TcpIpLayer::Internet.name(),
        4 => TcpIpLayer::Transport.name(),
        _ => TcpIpLayer::Application.name(),
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;
    use crate::flows::{Conversation, OtherConversations, Traffic};
    use crate::model::Timestamp;

    /// Conversations beyond the listed ones make one "other" row that adds them up, in the
    /// table and in JSON (issue 18 item 14: a row each for 500,000 flows took 1.78 GB). The
    /// tracker's side of this (which ones are listed) is tested in tests/flows.rs.
    #[test]
    fn the_conversations_beyond_the_listed_ones_make_one_row() {
        let conv = |i: u32| Conversation {
            protocol: Protocol::Udp,
            stream: i,
            a: std::net::SocketAddr::from(([127, 0, 0, 1], 40_000 + i as u16)),
            b: std::net::SocketAddr::from(([127, 0, 0, 1], 53)),
            a_to_b: Traffic {
                packets: 1,
                bytes: 70,
                payload_bytes: 28,
            },
            b_to_a: Traffic::default(),
            start: Timestamp::default(),
            duration: 0.0,
            application: Some(Protocol::Dns),
            state: "",
        };
        let convs = Conversations {
            listed: (0..3).map(conv).collect(),
            other: Some(OtherConversations {
                conversations: 500,
                a_to_b: Traffic {
                    packets: 500,
                    bytes: 35_000,
                    payload_bytes: 14_000,
                },
                b_to_a: Traffic::default(),
            }),
        };
        let mut out = Vec::new();
        write_conversations(&mut out, &convs).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().filter(|l| l.contains("UDP ")).count(), 3);
        let other = text
            .lines()
            .find(|l| l.contains("other"))
            .expect("an other row");
        assert!(other.contains("500 more conversations"), "{other}");
        assert!(other.contains("35000"), "{other}");

        let mut out = Vec::new();
        write_conversations_json(&mut out, &convs).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert_eq!(
            text.lines().last().unwrap(),
            r#"{"a_to_b":{"bytes":35000,"packets":500,"payload_bytes":14000},"b_to_a":{"bytes":0,"packets":0,"payload_bytes":0},"conversations":500,"kind":"other_conversations"}"#
        );
    }
}
