//! Tables for what a lab shows. Packet views (packet lists, layer trees, coloured hex) come from
//! netlab-inspect's renderers; this module only sets up tables the same way everywhere.

use std::io::IsTerminal;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use crate::style::Style;

/// A table with this header, coloured only when `style` is (NO_COLOR and pipes get plain text).
pub fn table(header: &[&str], style: Style) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    // At a terminal comfy-table fits the table to its width; a pipe or a test gets a fixed 100
    // columns, so the output does not depend on where it ran.
    if !std::io::stdout().is_terminal() {
        t.set_width(100);
    }
    if !style.is_enabled() {
        t.force_no_tty();
    }
    if header.iter().any(|h| !h.is_empty()) {
        t.set_header(header.to_vec());
    }
    t
}
