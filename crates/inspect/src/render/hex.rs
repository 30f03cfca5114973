//! `--hex`: the frame's bytes, 16 to a row, each coloured by the layer it belongs to, with a
//! legend, an offset ruler, and optionally one field's bytes highlighted (`--highlight
//! tcp.dstport`). Without colour, a marker row under each hex row names the layer of every byte
//! by letter (and `^^` marks the highlighted field), so the view still teaches in a plain log.

use std::io::{self, Write};

use super::{Style, layer_color};
use crate::model::{Packet, Protocol};

const PER_ROW: usize = 16;

/// Write the hex dump of one packet, followed by a blank line.
pub fn write(
    w: &mut impl Write,
    p: &Packet,
    style: Style,
    highlight: Option<&str>,
) -> io::Result<()> {
    let bytes = &p.raw.bytes;
    let owner = owners(p);
    let marked = highlighted(p, highlight);
    ruler(w, style)?;
    for (row, chunk) in bytes.chunks(PER_ROW).enumerate() {
        let base = row * PER_ROW;
        let mut hex = String::new();
        let mut marks = String::new();
        let mut ascii = String::new();
        for (i, b) in chunk.iter().enumerate() {
            let at = base + i;
            if i == 8 {
                hex.push(' ');
                marks.push(' ');
            }
            let color = cell_color(p, owner[at], marked[at]);
            hex.push_str(&style.paint(&color, &format!("{b:02x}")));
            hex.push(' ');
            let c = if b.is_ascii_graphic() || *b == b' ' {
                *b as char
            } else {
                '.'
            };
            ascii.push_str(&style.paint(&color, &c.to_string()));
            marks.push_str(&match (marked[at], owner[at]) {
                (true, _) => "^^".to_string(),
                (false, Some(l)) => format!("{} ", letter(l)),
                (false, None) => ". ".to_string(),
            });
            marks.push(' ');
        }
        // Pad a short last row so the ASCII column lines up.
        let missing = PER_ROW - chunk.len();
        let pad = missing * 3 + usize::from(chunk.len() <= 8);
        writeln!(
            w,
            "{}  {hex}{} {ascii}",
            style.dim(&format!("{base:04x}")),
            " ".repeat(pad)
        )?;
        if !style.color {
            writeln!(w, "      {}", marks.trim_end())?;
        }
    }
    if bytes.len() < p.raw.orig_len as usize {
        writeln!(
            w,
            "      ({} more bytes were on the wire but not captured)",
            p.raw.orig_len as usize - bytes.len()
        )?;
    }
    legend(w, p, style, highlight)?;
    writeln!(w)
}

fn ruler(w: &mut impl Write, style: Style) -> io::Result<()> {
    let mut r = String::from("      ");
    for i in 0..PER_ROW {
        if i == 8 {
            r.push(' ');
        }
        r.push_str(&format!("{i:02x} "));
    }
    r.push_str(" ascii");
    writeln!(w, "{}", style.dim(&r))
}

/// For each captured byte, the index of the innermost layer whose range covers it.
fn owners(p: &Packet) -> Vec<Option<usize>> {
    let mut owner = vec![None; p.raw.bytes.len()];
    for (i, l) in p.dissection.layers.iter().enumerate() {
        let end = l.byte_range.end.min(owner.len());
        for o in owner.iter_mut().take(end).skip(l.byte_range.start) {
            *o = Some(i);
        }
    }
    owner
}

/// For each captured byte, whether it belongs to a field named `highlight`.
fn highlighted(p: &Packet, highlight: Option<&str>) -> Vec<bool> {
    let mut marked = vec![false; p.raw.bytes.len()];
    let Some(name) = highlight else { return marked };
    for f in p
        .dissection
        .layers
        .iter()
        .flat_map(|l| &l.fields)
        .filter(|f| f.name == name)
    {
        let end = (f.offset + f.len.max(1)).min(marked.len());
        for m in marked.iter_mut().take(end).skip(f.offset) {
            *m = true;
        }
    }
    marked
}

fn cell_color(p: &Packet, owner: Option<usize>, marked: bool) -> String {
    let base = owner
        .map(|i| {
            let l = &p.dissection.layers[i];
            layer_color(l.osi, l.protocol == Protocol::Malformed)
        })
        .unwrap_or("");
    match (marked, base) {
        (true, "") => "7".to_string(),
        (true, c) => format!("7;{c}"),
        (false, c) => c.to_string(),
    }
}

/// Layer letters: a for the first (outermost) layer, b for the next, ...
fn letter(i: usize) -> char {
    (b'a' + (i % 26) as u8) as char
}

fn legend(w: &mut impl Write, p: &Packet, style: Style, highlight: Option<&str>) -> io::Result<()> {
    for (i, l) in p.dissection.layers.iter().enumerate() {
        let r = &l.byte_range;
        let span = if r.is_empty() {
            "no bytes".to_string()
        } else {
            format!("bytes {}-{} ({})", r.start, r.end - 1, r.len())
        };
        let key = style.paint(
            layer_color(l.osi, l.protocol == Protocol::Malformed),
            &format!("{0}{0}", letter(i)),
        );
        writeln!(
            w,
            "      {key}  L{} {:<12} {span}",
            l.osi.number(),
            l.protocol
        )?;
    }
    if let Some(name) = highlight {
        let fields: Vec<_> = p
            .dissection
            .layers
            .iter()
            .flat_map(|l| &l.fields)
            .filter(|f| f.name == name)
            .collect();
        if fields.is_empty() {
            writeln!(w, "      (no field named {name} in this packet)")?;
        }
        for f in fields {
            if f.len == 0 {
                writeln!(
                    w,
                    "      {name} = {} is computed, not read from the bytes",
                    f.value
                )?;
                continue;
            }
            writeln!(
                w,
                "      {}  {name} = {} at offset {}, {} byte{}",
                style.paint("7", "^^"),
                f.value,
                f.offset,
                f.len,
                if f.len == 1 { "" } else { "s" }
            )?;
        }
    }
    Ok(())
}
