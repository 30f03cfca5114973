//! `netlab inspect follow FILE --stream N`: the reassembled conversation of one TCP stream, as
//! Wireshark's "Follow TCP Stream": what each side's program actually read, in the order it was
//! sent, retransmissions counted once, with the gaps the capture missed said out loud.

use std::io::{self, Write};

use serde_json::json;

use super::Style;
use crate::flows::FollowedStream;

/// Client text colour (red) and server text colour (blue), as Wireshark colours them.
const CLIENT: &str = "31";
const SERVER: &str = "34";

/// Write the conversation as text: a header, then each chunk under a marker line.
pub fn write(w: &mut impl Write, f: &FollowedStream, style: Style) -> io::Result<()> {
    let client = addr(f.client);
    let server = addr(f.server);
    writeln!(
        w,
        "{}",
        style.bold(&format!(
            "Follow TCP stream {}: {client} (client) ⇄ {server} (server)",
            f.stream
        ))
    )?;
    writeln!(
        w,
        "client → server: {} bytes; server → client: {} bytes",
        f.client_data.len(),
        f.server_data.len()
    )?;
    for &(from_client, ref range) in &f.chunks {
        let (data, color, label) = if from_client {
            (&f.client_data, CLIENT, "client → server")
        } else {
            (&f.server_data, SERVER, "server → client")
        };
        let Some(bytes) = data.get(range.clone()) else {
            continue;
        };
        writeln!(
            w,
            "{}",
            style.dim(&format!("──── {label}, {} bytes", bytes.len()))
        )?;
        let text = printable(bytes);
        for line in text.lines() {
            writeln!(w, "{}", style.paint(color, line))?;
        }
    }
    for (side, missing) in [("client", &f.client_missing), ("server", &f.server_missing)] {
        for r in missing {
            writeln!(
                w,
                "(the {side}'s bytes {}-{} were never captured; shown as zeros in --json)",
                r.start,
                r.end.saturating_sub(1)
            )?;
        }
    }
    Ok(())
}

/// One JSON object for the stream, then one per chunk.
pub fn write_json(w: &mut impl Write, f: &FollowedStream) -> io::Result<()> {
    let missing = |v: &[std::ops::Range<u32>]| -> Vec<[u32; 2]> {
        v.iter().map(|r| [r.start, r.end]).collect()
    };
    let head = json!({
        "kind": "stream",
        "stream": f.stream,
        "client": f.client.map(|a| a.to_string()),
        "server": f.server.map(|a| a.to_string()),
        "client_bytes": f.client_data.len(),
        "server_bytes": f.server_data.len(),
        "client_missing": missing(&f.client_missing),
        "server_missing": missing(&f.server_missing),
    });
    writeln!(w, "{head}")?;
    for (from_client, range) in &f.chunks {
        let data = if *from_client {
            &f.client_data
        } else {
            &f.server_data
        };
        let Some(bytes) = data.get(range.clone()) else {
            continue;
        };
        let chunk = json!({
            "kind": "chunk",
            "from": if *from_client { "client" } else { "server" },
            "offset": range.start,
            "len": bytes.len(),
            "text": String::from_utf8_lossy(bytes),
        });
        writeln!(w, "{chunk}")?;
    }
    Ok(())
}

fn addr(a: Option<std::net::SocketAddr>) -> String {
    a.map(|a| a.to_string()).unwrap_or_else(|| "?".into())
}

/// Text as a terminal can show it: valid UTF-8 kept, CR LF as a line break, other control bytes
/// as '.', so binary data cannot move the cursor or ring the bell.
fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .replace("\r\n", "\n")
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '.'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_cannot_reach_the_terminal() {
        assert_eq!(printable(b"GET /\r\nok\x1b[2J\x07"), "GET /\nok.[2J.");
    }

    #[test]
    fn chunks_alternate_and_gaps_are_reported() {
        let f = FollowedStream {
            stream: 2,
            client: Some("127.0.0.1:5000".parse().unwrap()),
            server: Some("127.0.0.1:80".parse().unwrap()),
            client_data: b"ping\n".to_vec(),
            server_data: b"pong\n".to_vec(),
            client_missing: vec![],
            server_missing: vec![std::ops::Range { start: 6, end: 10 }],
            chunks: vec![(true, 0..5), (false, 0..5)],
        };
        let mut out = Vec::new();
        write(&mut out, &f, Style::PLAIN).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "Follow TCP stream 2: 127.0.0.1:5000 (client) ⇄ 127.0.0.1:80 (server)\n\
             client → server: 5 bytes; server → client: 5 bytes\n\
             ──── client → server, 5 bytes\nping\n\
             ──── server → client, 5 bytes\npong\n\
             (the server's bytes 6-9 were never captured; shown as zeros in --json)\n"
        );
        let mut out = Vec::new();
        write_json(&mut out, &f).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["server_missing"][0][0], 6);
        assert_eq!(lines[2]["from"], "server");
        assert_eq!(lines[2]["text"], "pong\n");
    }
}
