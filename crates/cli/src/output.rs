//! The shared output frame: every result is either a table (humans) or one JSON object per line
//! (`--json`, machines). Results go to stdout; logs and progress go to stderr.
//!
//! Colour follows <https://no-color.org>: off when NO_COLOR is set to anything non-empty, and
//! off when stdout is not a terminal (a pipe, a file, a test).

use std::io::{IsTerminal, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, CellAlignment, ContentArrangement, Table};
use serde::Serialize;

/// The `--json` flag; flatten it into any command that prints results.
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub struct OutputArgs {
    /// Print results as JSON, one object per line, instead of tables.
    #[arg(long)]
    pub json: bool,
}

impl OutputArgs {
    /// The output settings for this command.
    pub fn output(&self) -> Output {
        Output::from_env(self.json)
    }
}

/// Runs an async command on a fresh multi-threaded tokio runtime.
pub fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    block_on_value(f)
}

/// Like [`block_on`], for a command that returns a value to render.
pub fn block_on_value<T, F: std::future::Future<Output = anyhow::Result<T>>>(
    f: F,
) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| anyhow::Error::new(e).context("cannot start the tokio runtime"))?;
    runtime.block_on(f)
}

/// How results are printed; built from [`OutputArgs`] and passed down a command.
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
    // try_init: a second call (from a test, say) is harmless.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color_allowed() && std::io::stderr().is_terminal())
        .try_init();
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

/// A result with `"event": name` in front, for JSON lines: `{"event":"summary",...}`.
#[derive(Serialize)]
pub struct Event<'a, T: Serialize> {
    pub event: &'a str,
    #[serde(flatten)]
    pub body: &'a T,
}

/// Wraps `body` as the JSON event `name`.
pub fn event<'a, T: Serialize>(name: &'a str, body: &'a T) -> Event<'a, T> {
    Event { event: name, body }
}

/// Right-aligns the columns in `columns` (numbers line up by their last digit).
pub fn align_right(table: &mut Table, columns: std::ops::Range<usize>) {
    for i in columns {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Milliseconds with three decimals, the way ping prints them.
pub fn ms(value: f64) -> String {
    format!("{value:.3} ms")
}
