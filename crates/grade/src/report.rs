//! The results of one graded run and their four views:
//! - a table for people ([`Report::table`]): one row per check, and for a failure what was sent,
//!   what was expected, what came back (hex and text) and a hint;
//! - JSON lines for programs ([`Report::json_lines`]): one object per check, then a summary;
//! - JUnit XML for CI systems ([`Report::junit`]): one `testcase` per check;
//! - the line `Points X/Y` ([`Report::points_line`]), which GitHub Classroom's autograding
//!   reads.
//!
//! The labs' graded runs (`--answers`) build the same [`Report`], so both print alike.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Color, Table};
use serde::Serialize;

use crate::check::{Check, Failure};

/// Bytes shown in a report: more is cut, with the full length said.
pub const SHOWN: usize = 64;

/// Bytes as a report shows them: length, hex and printable text (escapes for the rest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bytes {
    /// The full length, even when only the first [`SHOWN`] bytes are in `hex` and `text`.
    pub len: usize,
    pub hex: String,
    pub text: String,
}

impl Bytes {
    pub fn of(bytes: &[u8]) -> Bytes {
        let shown = &bytes[..bytes.len().min(SHOWN)];
        let hex: Vec<String> = shown.iter().map(|b| format!("{b:02x}")).collect();
        Bytes {
            len: bytes.len(),
            hex: hex.join(" "),
            // escape_ascii keeps printable ASCII and escapes the rest (\n, \x00, \xe2): the
            // text is always safe to print, in a terminal, in JSON and in XML.
            text: shown.escape_ascii().to_string(),
        }
    }

    fn line(&self, label: &str) -> String {
        let more = if self.len > SHOWN {
            format!(" ... ({} bytes in all)", self.len)
        } else {
            String::new()
        };
        if self.len == 0 {
            format!("{label}: nothing (0 bytes)")
        } else {
            format!("{label}: \"{}\"{more}\n  hex: {}", self.text, self.hex)
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub id: String,
    pub name: String,
    /// Points earned: all of `max_points` or none.
    pub points: u32,
    pub max_points: u32,
    pub passed: bool,
    pub seconds: f64,
    pub reason: Option<String>,
    pub sent: Option<Bytes>,
    pub expected: Option<Bytes>,
    pub got: Option<Bytes>,
    pub hint: Option<String>,
}

impl CheckReport {
    /// A result for any graded item (a check of an exercise, a question of a lab).
    pub fn new(
        id: &str,
        name: &str,
        max_points: u32,
        outcome: Result<(), Failure>,
        seconds: f64,
    ) -> Self {
        let passed = outcome.is_ok();
        let failure = outcome.err().unwrap_or_default();
        CheckReport {
            id: id.to_string(),
            name: name.to_string(),
            points: if passed { max_points } else { 0 },
            max_points,
            passed,
            seconds,
            reason: (!passed).then_some(failure.reason),
            sent: failure.sent.as_deref().map(Bytes::of),
            expected: failure.expected.as_deref().map(Bytes::of),
            got: failure.got.as_deref().map(Bytes::of),
            hint: failure.hint,
        }
    }

    /// The result of `check`; a failure without its own hint gets the check's.
    pub fn of(check: &Check, outcome: Result<(), Failure>, seconds: f64) -> Self {
        let outcome = outcome.map_err(|mut f| {
            if f.hint.is_none() && !check.hint.is_empty() {
                f.hint = Some(check.hint.to_string());
            }
            f
        });
        CheckReport::new(check.id, check.name, check.points, outcome, seconds)
    }

    /// Reason, bytes and hint, one per line, as the table and JUnit show a failure.
    pub fn details(&self) -> String {
        let mut lines = Vec::new();
        if let Some(reason) = &self.reason {
            lines.push(reason.clone());
        }
        for (label, bytes) in [
            ("sent", &self.sent),
            ("expected", &self.expected),
            ("got", &self.got),
        ] {
            if let Some(b) = bytes {
                lines.push(b.line(label));
            }
        }
        if let (false, Some(hint)) = (self.passed, &self.hint) {
            lines.push(format!("hint: {hint}"));
        }
        lines.join("\n")
    }
}

/// All results of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// What was graded: an exercise name (`tcp-echo`) or a lab (`lab01`).
    pub suite: String,
    pub title: String,
    pub checks: Vec<CheckReport>,
    pub seconds: f64,
}

/// The summary line of `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Summary<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    suite: &'a str,
    points: u32,
    max_points: u32,
    passed: usize,
    failed: usize,
    seconds: f64,
    /// Ids of the failed checks, so a CI log says what broke without scrolling.
    failed_checks: Vec<&'a str>,
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    suite: &'a str,
    #[serde(flatten)]
    check: &'a CheckReport,
}

impl Report {
    pub fn points(&self) -> u32 {
        self.checks.iter().map(|c| c.points).sum()
    }

    pub fn max_points(&self) -> u32 {
        self.checks.iter().map(|c| c.max_points).sum()
    }

    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| !c.passed).count()
    }

    /// True when every check passed, or when `min_points` is given and reached.
    pub fn success(&self, min_points: Option<u32>) -> bool {
        match min_points {
            Some(min) => self.points() >= min,
            None => self.failed() == 0,
        }
    }

    /// `Points X/Y`, the line GitHub Classroom's autograding reads.
    pub fn points_line(&self) -> String {
        format!("Points {}/{}", self.points(), self.max_points())
    }

    /// One row per check: check, points, result, and for a failure its details.
    pub fn table(&self, color: bool) -> Table {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        if color {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        table.set_header(["check", "points", "result", "details"]);
        for c in &self.checks {
            let result = if c.passed { "pass" } else { "FAIL" };
            let mut result = Cell::new(result);
            if color {
                result = result.fg(if c.passed { Color::Green } else { Color::Red });
            }
            table.add_row([
                Cell::new(&c.name),
                Cell::new(format!("{}/{}", c.points, c.max_points))
                    .set_alignment(CellAlignment::Right),
                result,
                Cell::new(c.details()),
            ]);
        }
        table
    }

    /// One JSON object per check (`"type":"check"`), then the summary (`"type":"summary"`).
    pub fn json_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .checks
            .iter()
            .map(|check| {
                to_json(&Line {
                    kind: "check",
                    suite: &self.suite,
                    check,
                })
            })
            .collect();
        lines.push(to_json(&Summary {
            kind: "summary",
            suite: &self.suite,
            points: self.points(),
            max_points: self.max_points(),
            passed: self.checks.len() - self.failed(),
            failed: self.failed(),
            seconds: self.seconds,
            failed_checks: self
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| c.id.as_str())
                .collect(),
        }));
        lines
    }

    /// JUnit XML: one `testsuite` for the run, one `testcase` per check, a `failure` element
    /// with the details for each failed check, and the points as properties.
    pub fn junit(&self) -> String {
        let failures = self.failed();
        let mut x = String::new();
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str(&format!(
            "<testsuites name=\"netlab grade\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">\n",
            self.checks.len(),
            self.seconds
        ));
        x.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{:.3}\" timestamp=\"{}\" hostname=\"localhost\">\n",
            escape(&self.suite),
            self.checks.len(),
            self.seconds,
            timestamp()
        ));
        x.push_str("    <properties>\n");
        for (name, value) in [
            ("title", self.title.clone()),
            ("points", self.points().to_string()),
            ("max_points", self.max_points().to_string()),
        ] {
            x.push_str(&format!(
                "      <property name=\"{name}\" value=\"{}\"/>\n",
                escape(&value)
            ));
        }
        x.push_str("    </properties>\n");
        for c in &self.checks {
            x.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"netlab.{}\" time=\"{:.3}\"",
                escape(&format!(
                    "{} ({}/{} points)",
                    c.name, c.points, c.max_points
                )),
                escape(&self.suite),
                c.seconds
            ));
            if c.passed {
                x.push_str("/>\n");
            } else {
                x.push_str(&format!(
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    escape(c.reason.as_deref().unwrap_or("failed")),
                    escape(&c.id),
                    escape(&c.details())
                ));
            }
        }
        x.push_str(&format!(
            "    <system-out>{}</system-out>\n    <system-err></system-err>\n",
            escape(&self.points_line())
        ));
        x.push_str("  </testsuite>\n</testsuites>\n");
        x
    }
}

fn to_json(value: &impl Serialize) -> String {
    // Plain structs of strings and numbers always serialise; a JSON error object keeps the
    // output valid if a future field makes it possible to fail.
    serde_json::to_string(value)
        .unwrap_or_else(|e| format!("{{\"type\":\"error\",\"message\":\"{e}\"}}"))
}

/// Text made safe for XML 1.0: the five entities, and characters XML forbids (most control
/// characters) replaced, since a failure can quote anything a program sent.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Now in UTC as JUnit's `timestamp` wants it (`2026-12-04T14:09:28`), without a date crate.
fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const ECHO: Check = Check {
        id: "echo",
        name: "echoes a line",
        points: 2,
        limit: Duration::from_secs(1),
        hint: "write back what you read",
    };

    fn sample() -> Report {
        let fail = Failure::new("the echo differs")
            .sent(b"hi\n")
            .expected(b"hi\n")
            .got([0u8, b'<', 0xff]);
        Report {
            suite: "tcp-echo".into(),
            title: "TCP echo server".into(),
            checks: vec![
                CheckReport::of(&ECHO, Ok(()), 0.25),
                CheckReport::of(&ECHO, Err(fail), 1.0),
            ],
            seconds: 1.25,
        }
    }

    #[test]
    fn points_add_up_and_min_points_decides() {
        let r = sample();
        assert_eq!(r.points_line(), "Points 2/4");
        assert!(!r.success(None));
        assert!(r.success(Some(2)));
        assert!(!r.success(Some(3)));
    }

    #[test]
    fn table_shows_bytes_as_hex_and_text() {
        insta::assert_snapshot!(sample().table(false).to_string());
    }

    #[test]
    fn json_has_one_line_per_check_and_a_summary() {
        let lines = sample().json_lines();
        assert_eq!(lines.len(), 3);
        let fail: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(fail["type"], "check");
        assert_eq!(fail["got"]["hex"], "00 3c ff");
        assert_eq!(fail["got"]["text"], "\\x00<\\xff");
        assert_eq!(fail["hint"], "write back what you read");
        let summary: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
        assert_eq!(summary["points"], 2);
        assert_eq!(summary["max_points"], 4);
        assert_eq!(summary["failed_checks"], serde_json::json!(["echo"]));
    }

    #[test]
    fn xml_escapes_entities_and_forbidden_characters() {
        assert_eq!(
            escape("a<b & \"c\"\u{1}"),
            "a&lt;b &amp; &quot;c&quot;\u{fffd}"
        );
        assert!(timestamp().len() == 19 && timestamp().starts_with("20"));
    }
}
