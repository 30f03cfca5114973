//! The shared output frame: every result is either a table (humans) or one JSON object per line
//! (`--json`, machines). Results go to stdout; logs and progress go to stderr.
//!
//! Colour follows <https://no-color.org>: off when NO_COLOR is set to anything non-empty, and
//! off when stdout is not a terminal (a pipe, a file, a test).

use std::io::{IsTerminal, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, CellAlignment, ContentArrangement, Table};
use serde::Serialize;

/// How results are printed; built once in `main` and passed to every command.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    /// `--json`: one JSON object per line instead of tables.
    pub json: bool,
    /// Colour and bold in tables.
    pub color: bool,
}

/// False when the user asked for no colour (NO_COLOR set and not empty).
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Logs to stderr, filtered by RUST_LOG (default: warnings only).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color_allowed() && std::io::stderr().is_terminal())
        .init();
}

impl Output {
    pub fn from_env(json: bool) -> Self {
        Output {
            json,
            color: color_allowed() && std::io::stdout().is_terminal(),
        }
    }

    /// Plain output for tests and snapshots: tables, no colour.
    #[cfg(test)]
    pub fn plain() -> Self {
        Output {
            json: false,
            color: false,
        }
    }

    /// A table with this header, styled the netlab way.
    pub fn table<I: IntoIterator<Item = S>, S: Into<String>>(&self, header: I) -> Table {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        if self.color {
            table.enforce_styling();
            table.set_content_arrangement(ContentArrangement::Dynamic);
        } else {
            table.force_no_tty();
        }
        let bold = self.color;
        table.set_header(header.into_iter().map(|h| {
            let cell = Cell::new(h.into());
            if bold {
                cell.add_attribute(Attribute::Bold)
            } else {
                cell
            }
        }));
        table
    }

    /// A two-column "what | value" table, the shape of a single result.
    pub fn key_values(&self, title: &str, rows: &[(&str, String)]) -> Table {
        let mut table = self.table([title, ""]);
        for (key, value) in rows {
            table.add_row([
                Cell::new(key),
                Cell::new(value).set_alignment(CellAlignment::Right),
            ]);
        }
        table
    }

    /// Prints a line of text to stdout at once (a server's first line must not sit in a buffer).
    pub fn line(&self, text: impl std::fmt::Display) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    /// Prints a table to stdout.
    pub fn print_table(&self, table: &Table) {
        self.line(table);
    }

    /// Prints one JSON object on one line to stdout.
    pub fn json_line(&self, value: &impl Serialize) {
        match serde_json::to_string(value) {
            Ok(text) => self.line(text),
            Err(err) => tracing::error!("cannot encode a result as JSON: {err}"),
        }
    }
}

/// Adds `"event": name` in front of a serializable result, for JSON lines.
pub fn event(name: &str, value: &impl Serialize) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    object.insert("event".into(), name.into());
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(fields)) => object.extend(fields),
        Ok(other) => {
            object.insert("value".into(), other);
        }
        Err(err) => {
            object.insert("error".into(), err.to_string().into());
        }
    }
    serde_json::Value::Object(object)
}

/// Milliseconds with three decimals, the way ping prints them.
pub fn ms(value: f64) -> String {
    format!("{value:.3} ms")
}
