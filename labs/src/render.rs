//! Tables for what a lab shows. Packet views (packet lists, layer trees, coloured hex) come from
//! netlab-inspect's renderers; this module only sets up tables the same way everywhere.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ColumnConstraint, ContentArrangement, Table};

use crate::style::Style;

/// A table with this header, coloured only when `style` is (NO_COLOR and pipes get plain text).
pub fn table(header: &[&str], style: Style) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    // Always an explicit width (the terminal's, or a fixed one in pipes and tests): comfy-table's
    // own detection is off once colour is off (`force_no_tty`), so NO_COLOR at an 80-column
    // terminal would otherwise get tables as wide as their content.
    t.set_width(style.width());
    if !style.is_enabled() {
        t.force_no_tty();
    }
    if header.iter().any(|h| !h.is_empty()) {
        t.set_header(header.to_vec());
    }
    t
}

/// Keeps these columns as wide as their widest cell, so that when the table must fit the
/// terminal comfy-table wraps the text columns instead: an address or a number cut in two
/// (`127.0.0.1:4` over `4343`) reads as two values.
pub fn keep_whole(t: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(column) = t.column_mut(i) {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
}
