//! A lab's guide: `labs/guides/NN-name.md`, the single source of the lab's text.
//!
//! The mdBook includes the file whole; the lab binary embeds it (`include_str!`), splits it into
//! sections at its `## ` headings, and renders the section a step asks for in the terminal. So a
//! sentence fixed in the guide is fixed in the book and in the lab at once.

use crate::error::LabError;
use crate::style::Style;

/// A guide split at its headings.
#[derive(Debug, Clone)]
pub struct Guide {
    /// The `# ` heading.
    pub title: String,
    /// Text between the title and the first `## ` heading.
    pub intro: String,
    pub sections: Vec<Section>,
}

/// One `## ` section: its heading (without the hashes) and its Markdown body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: String,
    pub body: String,
}

impl Guide {
    /// Splits Markdown at `# ` and `## ` headings, ignoring lines inside code fences (a `## ` in a
    /// shell snippet is not a heading).
    pub fn parse(text: &str) -> Guide {
        let mut guide = Guide {
            title: String::new(),
            intro: String::new(),
            sections: Vec::new(),
        };
        let mut in_fence = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                in_fence = !in_fence;
            }
            if !in_fence && guide.title.is_empty() && line.starts_with("# ") {
                guide.title = line[2..].trim().to_string();
                continue;
            }
            if !in_fence && line.starts_with("## ") {
                guide.sections.push(Section {
                    heading: line[3..].trim().to_string(),
                    body: String::new(),
                });
                continue;
            }
            let body = match guide.sections.last_mut() {
                Some(section) => &mut section.body,
                None => &mut guide.intro,
            };
            body.push_str(line);
            body.push('\n');
        }
        guide
    }

    /// The section with this heading, or an error naming the headings that do exist (a lab that
    /// refers to a renamed section fails its `--ci` run instead of showing nothing).
    pub fn section(&self, heading: &str) -> Result<&Section, LabError> {
        self.sections
            .iter()
            .find(|s| s.heading == heading)
            .ok_or_else(|| LabError::MissingSection {
                heading: heading.to_string(),
                known: self.sections.iter().map(|s| s.heading.clone()).collect(),
            })
    }
}

/// Renders Markdown for a terminal `width` columns wide: paragraphs and list items re-wrapped,
/// `**bold**` and `` `code` `` styled, links reduced to their text, code blocks and tables kept
/// as written (they are laid out by hand), `### ` headings in bold.
pub fn render(markdown: &str, style: Style, width: usize) -> String {
    let mut out = String::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut table: Vec<&str> = Vec::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        if !in_fence && line.trim_start().starts_with('|') {
            flush_paragraph(&mut out, &mut paragraph, style, width);
            table.push(line);
            continue;
        }
        flush_table(&mut out, &mut table, style);
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            flush_paragraph(&mut out, &mut paragraph, style, width);
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            out.push_str("    ");
            out.push_str(&style.dim(line));
            out.push('\n');
        } else if trimmed.is_empty() {
            flush_paragraph(&mut out, &mut paragraph, style, width);
            out.push('\n');
        } else if let Some(h) = trimmed.strip_prefix("### ") {
            flush_paragraph(&mut out, &mut paragraph, style, width);
            out.push_str(&style.bold(h));
            out.push('\n');
        } else if is_list_item(trimmed) {
            flush_paragraph(&mut out, &mut paragraph, style, width);
            paragraph.push(line);
        } else {
            paragraph.push(line);
        }
    }
    flush_paragraph(&mut out, &mut paragraph, style, width);
    flush_table(&mut out, &mut table, style);
    // Collapse runs of blank lines that flushing and Markdown spacing leave behind.
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    out.trim_matches('\n').to_string() + "\n"
}

/// A Markdown table (`| a | b |` rows, a `|---|` rule after the header) drawn as a terminal table.
fn flush_table(out: &mut String, rows: &mut Vec<&str>, style: Style) {
    if rows.is_empty() {
        return;
    }
    let cells = |row: &str| -> Vec<String> {
        let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
        inner
            .split('|')
            .map(|c| inline(&strip_links(c.trim()), style, &mut InlineState::default()))
            .collect()
    };
    let is_rule = |row: &&str| row.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '));
    let header = cells(rows[0]);
    let mut t = crate::render::table(
        &header.iter().map(String::as_str).collect::<Vec<_>>(),
        style,
    );
    for row in rows.iter().skip(1).filter(|r| !is_rule(r)) {
        t.add_row(cells(row));
    }
    rows.clear();
    out.push_str(&t.to_string());
    out.push('\n');
}

fn is_list_item(line: &str) -> bool {
    line.starts_with("- ")
        || line.starts_with("* ")
        || line
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// Wraps the collected lines of one paragraph (or one list item, or one `> ` quote).
fn flush_paragraph(out: &mut String, lines: &mut Vec<&str>, style: Style, width: usize) {
    if lines.is_empty() {
        return;
    }
    let joined = lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
    lines.clear();
    let (first_prefix, rest_prefix, text) = if let Some(t) = joined.strip_prefix("> ") {
        (
            "  | ".to_string(),
            "  | ".to_string(),
            t.replace(" > ", " "),
        )
    } else if let Some(t) = joined.strip_prefix("- ").or(joined.strip_prefix("* ")) {
        ("  - ".to_string(), "    ".to_string(), t.to_string())
    } else if is_list_item(&joined) {
        let (n, t) = joined.split_once(". ").unwrap_or(("", &joined));
        let first = format!("  {n}. ");
        let rest = " ".repeat(first.len());
        (first, rest, t.to_string())
    } else {
        (String::new(), String::new(), joined)
    };
    let text = strip_links(&text);
    let mut state = InlineState::default();
    for (i, line) in wrap(&text, width.saturating_sub(first_prefix.len()).max(20))
        .iter()
        .enumerate()
    {
        out.push_str(if i == 0 { &first_prefix } else { &rest_prefix });
        out.push_str(&inline(line, style, &mut state));
        out.push('\n');
    }
}

/// `[text](target)` becomes `text`: a terminal cannot follow the link, and the book keeps it.
fn strip_links(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find("](") else { break };
        let Some(end) = after[close + 2..].find(')') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&after[..close]);
        rest = &after[close + 2 + end + 1..];
    }
    out.push_str(rest);
    out
}

/// Wraps plain text (a question, a hint, a verdict) at word boundaries to `width` columns;
/// continuation lines start with `indent`. Existing line breaks are kept. A word longer than the
/// line (a long address) is left whole on a line of its own rather than cut.
pub fn wrap_text(text: &str, width: usize, indent: &str) -> String {
    let indent_width = indent.chars().count();
    let mut out: Vec<String> = Vec::new();
    for paragraph in text.split('\n') {
        // A paragraph's own leading spaces (a verdict's indentation) stay on its first line.
        let lead = paragraph.len() - paragraph.trim_start_matches(' ').len();
        let mut line = paragraph[..lead].to_string();
        let mut line_width = lead;
        let mut has_word = false;
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let w = word.chars().count();
            if has_word && line_width + 1 + w > width {
                out.push(std::mem::replace(&mut line, indent.to_string()));
                line_width = indent_width;
                has_word = false;
            }
            if has_word {
                line.push(' ');
                line_width += 1;
            }
            line.push_str(word);
            line_width += w;
            has_word = true;
        }
        out.push(line);
    }
    out.join("\n")
}

/// Greedy word wrap on visible width; the `**` and `` ` `` markers do not count.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_width = 0;
    for word in text.split_whitespace() {
        let w = visible_width(word);
        if line_width > 0 && line_width + 1 + w > width {
            lines.push(std::mem::take(&mut line));
            line_width = 0;
        }
        if line_width > 0 {
            line.push(' ');
            line_width += 1;
        }
        line.push_str(word);
        line_width += w;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn visible_width(word: &str) -> usize {
    word.replace("**", "").replace('`', "").chars().count()
}

/// Whether bold or code is open; carried across the lines of one wrapped paragraph.
#[derive(Default)]
struct InlineState {
    bold: bool,
    code: bool,
}

/// Replaces `**` and `` ` `` markers with escape codes (or nothing, for plain output).
fn inline(line: &str, style: Style, state: &mut InlineState) -> String {
    let mut out = String::new();
    if state.bold {
        out.push_str(style.open("bold"));
    }
    if state.code {
        out.push_str(style.open("code"));
    }
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '`' {
            state.code = !state.code;
        } else if c == '*' && !state.code && chars.peek() == Some(&'*') {
            chars.next();
            state.bold = !state.bold;
        } else {
            out.push(c);
            continue;
        }
        out.push_str(style.reset());
        if state.bold {
            out.push_str(style.open("bold"));
        }
        if state.code {
            out.push_str(style.open("code"));
        }
    }
    if state.bold || state.code {
        out.push_str(style.reset());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE: &str = "# Lab 9: things\n\nIntro line.\n\n## First\n\nOne **two** `three`.\n\n```sh\n## not a heading\n```\n\n## Second\n\n- a list item that is long enough to wrap around the narrow width we give it\n- short\n";

    #[test]
    fn parse_splits_at_level_two_headings_outside_code_fences() {
        let g = Guide::parse(GUIDE);
        assert_eq!(g.title, "Lab 9: things");
        assert_eq!(g.intro.trim(), "Intro line.");
        let headings: Vec<_> = g.sections.iter().map(|s| s.heading.as_str()).collect();
        assert_eq!(headings, ["First", "Second"]);
        assert!(g.sections[0].body.contains("## not a heading"));
    }

    #[test]
    fn missing_section_names_the_known_ones() {
        let g = Guide::parse(GUIDE);
        let err = g.section("Third").unwrap_err().to_string();
        assert!(
            err.contains("Third") && err.contains("First, Second"),
            "{err}"
        );
    }

    #[test]
    fn render_plain_strips_markers_and_wraps_list_items() {
        let g = Guide::parse(GUIDE);
        let first = render(&g.sections[0].body, Style::plain(), 40);
        assert_eq!(first, "One two three.\n\n    ## not a heading\n");
        let second = render(&g.sections[1].body, Style::plain(), 40);
        assert_eq!(
            second,
            "  - a list item that is long enough to\n    wrap around the narrow width we give\n    it\n  - short\n"
        );
    }

    #[test]
    fn render_styles_code_spanning_a_line_break() {
        let style = Style::with_colour(true);
        let out = render(
            "see `a b c d e f g h i j k l m n o p q r s t u v w x y z`",
            style,
            20,
        );
        // Every line that continues the code span reopens the code colour.
        for line in out.lines().skip(1) {
            assert!(line.starts_with("\x1b[36m"), "{line:?}");
        }
    }

    #[test]
    fn links_keep_their_text_only() {
        assert_eq!(
            strip_links("see [the book](../x.md) now"),
            "see the book now"
        );
        assert_eq!(strip_links("a [b] c"), "a [b] c");
    }

    #[test]
    fn wrap_text_breaks_at_spaces_and_indents_continuations() {
        let text = "  Not quite. Hint: count the rows from the first FIN to the last one";
        let wrapped = wrap_text(text, 24, "    ");
        assert_eq!(
            wrapped,
            "  Not quite. Hint: count\n    the rows from the\n    first FIN to the\n    last one"
        );
        for width in [20, 33, 57, 80] {
            for line in wrap_text(text, width, "  ").lines() {
                assert!(line.chars().count() <= width, "{width}: {line:?}");
            }
        }
        assert_eq!(
            wrap_text("a 127.0.0.1:40000 b", 5, ""),
            "a\n127.0.0.1:40000\nb"
        );
    }
}
