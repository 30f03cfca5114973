//! Terminal styling: ANSI colours when the output is a terminal and `NO_COLOR` is unset
//! (<https://no-color.org>). Everything a lab prints goes through a [`Style`], so a test or a pipe
//! gets plain text and a student at a terminal gets colour. The decision and the escape codes are
//! netlab-inspect's (`render::Style`), so labs and `netlab inspect` colour alike; this adds the
//! few named styles the labs use.

use std::io::IsTerminal;

use netlab_inspect::render::Style as InspectStyle;

/// Whether to emit ANSI escape codes. Copy it freely: it is one flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    enabled: bool,
}

impl Style {
    /// Colour only for a terminal, and never when `NO_COLOR` is set to anything non-empty.
    pub fn detect() -> Style {
        Style {
            enabled: InspectStyle::detect(std::io::stdout().is_terminal()).color,
        }
    }

    /// No escape codes at all: for tests, pipes and JSON runs.
    pub fn plain() -> Style {
        Style { enabled: false }
    }

    /// Colour on or off regardless of the terminal (tests, and `--color` style overrides).
    pub fn with_colour(enabled: bool) -> Style {
        Style { enabled }
    }

    pub fn is_enabled(self) -> bool {
        self.enabled
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
        let s = Style { enabled: true };
        assert_eq!(s.red("no"), "\x1b[31mno\x1b[0m");
    }
}
