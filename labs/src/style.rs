//! Terminal styling: ANSI colours when the output is a terminal and `NO_COLOR` is unset
//! (<https://no-color.org>). Everything a lab prints goes through a [`Style`], so a test or a pipe
//! gets plain text and a student at a terminal gets colour. The decision and the escape codes are
//! netlab-inspect's (`render::Style`), so labs and `netlab inspect` colour alike; this adds the
//! few named styles the labs use.

use std::io::IsTerminal;

use netlab_inspect::render::Style as InspectStyle;

/// Whether to emit ANSI escape codes, and how wide tables may be. Copy it freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    enabled: bool,
    /// Columns a table may use: the terminal's width at a terminal, else [`PIPE_WIDTH`].
    width: u16,
}

/// Table width in a pipe or a test: fixed, so the output does not depend on where it ran.
pub const PIPE_WIDTH: u16 = 100;

/// The narrowest table width honoured: below this, tables wrap too much to read anyway.
const MIN_WIDTH: u16 = 60;

impl Style {
    /// Colour only for a terminal, and never when `NO_COLOR` is set to anything non-empty.
    /// Tables as wide as the terminal (at most [`PIPE_WIDTH`]), or [`PIPE_WIDTH`] in a pipe.
    pub fn detect() -> Style {
        let terminal = std::io::stdout().is_terminal();
        Style {
            enabled: InspectStyle::detect(terminal).color,
            width: if terminal {
                terminal_width().unwrap_or(PIPE_WIDTH)
            } else {
                PIPE_WIDTH
            },
        }
    }

    /// No escape codes at all: for tests, pipes and JSON runs.
    pub fn plain() -> Style {
        Style::with_colour(false)
    }

    /// Colour on or off regardless of the terminal (tests, and `--color` style overrides).
    pub fn with_colour(enabled: bool) -> Style {
        Style {
            enabled,
            width: PIPE_WIDTH,
        }
    }

    /// The same style with tables fitted to `columns` (tests use 80, the classic terminal).
    pub fn with_width(self, columns: u16) -> Style {
        Style {
            width: columns.clamp(MIN_WIDTH, PIPE_WIDTH),
            ..self
        }
    }

    pub fn is_enabled(self) -> bool {
        self.enabled
    }

    /// Columns a table may use.
    pub fn width(self) -> u16 {
        self.width
    }

    /// The same decision as netlab-inspect's style, for its renderers.
    pub fn inspect(self) -> InspectStyle {
        InspectStyle {
            color: self.enabled,
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        self.inspect().paint(code, text)
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }

    pub fn cyan(self, text: &str) -> String {
        self.paint("36", text)
    }

    /// A heading: bold and underlined.
    pub fn heading(self, text: &str) -> String {
        self.paint("1;4", text)
    }

    /// Raw escape codes to open and close a style around text built piece by piece (the guide
    /// renderer styles inline code that may span a line break).
    pub fn open(self, code: &str) -> &'static str {
        if !self.enabled {
            return "";
        }
        match code {
            "bold" => "\x1b[1m",
            "code" => "\x1b[36m",
            _ => "",
        }
    }

    pub fn reset(self) -> &'static str {
        if self.enabled { "\x1b[0m" } else { "" }
    }
}

/// The terminal's width in columns, clamped to what tables honour. comfy-table asks the
/// terminal itself (its `tty` feature); asked here once, it also applies under `NO_COLOR`,
/// where the tables are told there is no terminal so they print no colour.
fn terminal_width() -> Option<u16> {
    comfy_table::Table::new()
        .width()
        .filter(|w| *w > 0)
        .map(|w| w.clamp(MIN_WIDTH, PIPE_WIDTH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_style_adds_no_escape_codes() {
        let s = Style::plain();
        assert_eq!(s.bold("x"), "x");
        assert_eq!(s.open("bold"), "");
        assert_eq!(s.reset(), "");
    }

    #[test]
    fn enabled_style_wraps_text_in_escape_codes() {
        let s = Style::with_colour(true);
        assert_eq!(s.red("no"), "\x1b[31mno\x1b[0m");
    }

    #[test]
    fn table_width_is_fixed_off_a_terminal_and_clamped_when_set() {
        assert_eq!(Style::plain().width(), PIPE_WIDTH);
        assert_eq!(Style::plain().with_width(80).width(), 80);
        assert_eq!(Style::plain().with_width(20).width(), MIN_WIDTH);
        assert_eq!(Style::plain().with_width(300).width(), PIPE_WIDTH);
        assert!(Style::with_colour(true).with_width(80).is_enabled());
    }
}
