//! The documentation holds together: every SUMMARY.md entry and every `{{#include}}` names a
//! file that exists, every relative Markdown link in README.md, docs/src/*.md and
//! labs/guides/*.md points at an existing file, and every docs/src page is in SUMMARY.md.
//! A broken link is invisible until a student clicks it, so this runs with the other tests.
//! Every problem found is listed (file:line) in one failure message, so one run fixes them all.
//!
//! The scanner is plain string work (no Markdown crate): code spans and fenced blocks are
//! blanked first, because a `[x](y)` shown as code is an example, not a link.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// The workspace root (this crate lives in `<root>/tests`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `.md` files directly inside `dir`, sorted so the report is stable.
fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `text` with fenced code blocks and inline code spans replaced by spaces. Newlines are kept
/// and the length is unchanged, so byte offsets (and line numbers) still match the original.
fn mask_code(text: &str) -> String {
    let mut out = mask_fences(text).into_bytes();
    mask_code_spans(&mut out);
    String::from_utf8(out).expect("only whole characters were replaced by spaces")
}

/// `line` as spaces, one per byte, newline kept.
fn blank(line: &str) -> String {
    line.bytes()
        .map(|b| if b == b'\n' { '\n' } else { ' ' })
        .collect()
}

/// Blank fenced blocks (``` or ~~~, up to 3 spaces of indent), fence lines included.
fn mask_fences(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // The open fence: its character and length (a closing fence must be at least as long).
    let mut open: Option<(char, usize)> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        let fence = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = fence.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
        let is_fence = indent <= 3 && run >= 3;
        match (open, is_fence) {
            (None, true) => open = fence.map(|c| (c, run)),
            (Some((c, n)), true)
                if fence == Some(c) && run >= n && trimmed[run..].trim().is_empty() =>
            {
                open = None;
                out.push_str(&blank(line));
                continue;
            }
            _ => {}
        }
        if open.is_some() {
            out.push_str(&blank(line));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Blank inline code spans: a run of N backticks up to the next run of exactly N.
/// An opening run with no closing run is literal text, as in CommonMark.
fn mask_code_spans(bytes: &mut [u8]) {
    let run_at = |b: &[u8], i: usize| b[i..].iter().take_while(|c| **c == b'`').count();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let n = run_at(bytes, i);
        let mut j = i + n;
        let mut close = None;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let m = run_at(bytes, j);
                if m == n {
                    close = Some(j);
                    break;
                }
                j += m;
            } else {
                j += 1;
            }
        }
        match close {
            Some(j) => {
                for b in &mut bytes[i..j + n] {
                    if *b != b'\n' {
                        *b = b' ';
                    }
                }
                i = j + n;
            }
            None => i += n,
        }
    }
}

/// 1-based line number of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// Every link target with its line: inline links and images `[text](target "title")`
/// (the text may span lines) and reference definitions `[label]: target`.
fn links(text: &str) -> Vec<(usize, String)> {
    let masked = mask_code(text);
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(pos) = masked[from..].find("](") {
        let start = from + pos + 2;
        from = start;
        let rest = &masked[start..];
        let Some(end) = rest.find(')') else { break };
        let inner = rest[..end].trim();
        // `<target with spaces>` or `target "title"`.
        let target = match inner.strip_prefix('<') {
            Some(t) => t.split('>').next().unwrap_or(""),
            None => inner.split_whitespace().next().unwrap_or(""),
        };
        found.push((line_of(&masked, start), target.to_string()));
    }
    let mut offset = 0;
    for line in masked.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') && !t.starts_with("[^") {
            if let Some(close) = t.find("]:") {
                let target = t[close + 2..].split_whitespace().next().unwrap_or("");
                let target = target.trim_start_matches('<').trim_end_matches('>');
                found.push((line_of(&masked, offset), target.to_string()));
            }
        }
        offset += line.len();
    }
    found.sort_by_key(|(line, _)| *line);
    found
}

/// Every `{{#include PATH}}` (and `#rustdoc_include`) with its line; `\{{` is mdBook's escape.
/// Code is not blanked here: mdBook expands includes inside code blocks too.
fn includes(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find("{{") {
        let start = from + pos;
        from = start + 2;
        if text[..start].ends_with('\\') {
            continue;
        }
        let Some(end) = text[from..].find("}}") else {
            break;
        };
        let body = text[from..from + end].trim();
        let mut words = body.split_whitespace();
        let directive = words.next().unwrap_or("");
        if directive == "#include" || directive == "#rustdoc_include" {
            // `PATH:anchor` or `PATH:10:20` select part of the file; the file is PATH.
            let arg = words.next().unwrap_or("");
            let path = arg.split(':').next().unwrap_or("");
            found.push((line_of(text, start), path.to_string()));
        }
    }
    found
}

/// A link to check: not a URL (`scheme:`), not a pure `#anchor`, not empty.
fn is_relative(target: &str) -> bool {
    if target.is_empty() || target.starts_with('#') {
        return false;
    }
    let scheme = target.split(':').next().unwrap_or("");
    let is_url = target.contains(':')
        && !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    !is_url
}

/// The file a relative target names, seen from `dir`; `#anchor` and `?query` are dropped.
fn resolve(dir: &Path, target: &str) -> PathBuf {
    let file = target.split(['#', '?']).next().unwrap_or("");
    let mut path = dir.to_path_buf();
    for part in Path::new(file).components() {
        match part {
            Component::ParentDir => {
                path.pop();
            }
            Component::Normal(p) => path.push(p),
            _ => {}
        }
    }
    path
}

/// `path` relative to the workspace root, for messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Links whose file does not exist, seen from `dir` (the directory `text` is read from).
fn broken_links(file: &Path, dir: &Path, text: &str, checked: &mut usize) -> Vec<String> {
    let mut problems = Vec::new();
    for (line, target) in links(text) {
        if !is_relative(&target) {
            continue;
        }
        *checked += 1;
        let path = resolve(dir, &target);
        if !path.exists() {
            problems.push(format!(
                "{}:{line}: link `{target}` -> {} does not exist",
                shown(file),
                shown(&path)
            ));
        }
    }
    problems
}

/// Every problem in the documentation, one line each.
fn check_docs(checked: &mut usize) -> Vec<String> {
    let root = root();
    let src = root.join("docs/src");
    let summary_path = src.join("SUMMARY.md");
    let summary = read(&summary_path);
    let mut problems = Vec::new();

    // SUMMARY.md: entries exist (an empty target is an mdBook draft chapter, allowed).
    let mut listed = BTreeSet::new();
    for (line, target) in links(&summary) {
        if !is_relative(&target) {
            continue;
        }
        let path = resolve(&src, &target);
        listed.insert(path.clone());
        if !path.is_file() {
            problems.push(format!(
                "docs/src/SUMMARY.md:{line}: entry `{target}` -> {} does not exist",
                shown(&path)
            ));
        }
    }
    let pages = markdown_files(&src);
    for page in pages.iter().filter(|p| **p != summary_path) {
        if !listed.contains(page) {
            problems.push(format!(
                "{}: not listed in docs/src/SUMMARY.md (mdBook would not render it)",
                shown(page)
            ));
        }
    }

    // Includes exist; links inside an included file must also work from the page that
    // includes it, because mdBook resolves them relative to that page.
    for page in &pages {
        let text = read(page);
        for (line, target) in includes(&text) {
            *checked += 1;
            let path = resolve(&src, &target);
            if !path.is_file() {
                problems.push(format!(
                    "{}:{line}: include `{target}` -> {} does not exist",
                    shown(page),
                    shown(&path)
                ));
                continue;
            }
            for p in broken_links(&path, &src, &read(&path), checked) {
                problems.push(format!("{p} (as included by {}:{line})", shown(page)));
            }
        }
    }

    // Relative links, each seen from its own file.
    let mut files = vec![root.join("README.md")];
    files.extend(pages);
    files.extend(markdown_files(&root.join("labs/guides")));
    for file in &files {
        let dir = file.parent().expect("a file has a directory");
        problems.extend(broken_links(file, dir, &read(file), checked));
    }
    problems
}

#[test]
fn documentation_links_resolve() {
    let mut checked = 0;
    let problems = check_docs(&mut checked);
    assert!(
        problems.is_empty(),
        "{} broken documentation link(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    // Guards against a scanner that finds nothing and so passes on anything: the docs have
    // over 100 relative links and includes (114 when this was written), so 50 is a safe floor.
    assert!(checked >= 50, "only {checked} links and includes checked");
    eprintln!("docs_links: {checked} relative links and includes checked, all resolve");
}

#[test]
fn scanner_finds_links_with_lines_and_skips_code() {
    let text = "# T\nSee [the code](../src/a.rs#L3) and ![img](pic.png \"title\").\n\
                `[not](a-link.md)` and [wrapped\ntext](b.md).\n\
                ```\n[also not](c.md)\n```\n\
                [ref]: d.md\n[web](https://example.com) [here](#anchor)\n";
    let found = links(text);
    let targets: Vec<(usize, &str)> = found.iter().map(|(l, t)| (*l, t.as_str())).collect();
    assert_eq!(
        targets,
        vec![
            (2, "../src/a.rs#L3"),
            (2, "pic.png"),
            (4, "b.md"),
            (8, "d.md"),
            (9, "https://example.com"),
            (9, "#anchor"),
        ]
    );
    let relative: Vec<&str> = targets
        .iter()
        .map(|(_, t)| *t)
        .filter(|t| is_relative(t))
        .collect();
    assert_eq!(relative, vec!["../src/a.rs#L3", "pic.png", "b.md", "d.md"]);
}

#[test]
fn scanner_finds_includes_and_honours_the_escape() {
    let text = "x\n{{#include ../../labs/guides/01-layers.md}}\n\\{{#include shown.md}}\n\
                {{ #include part.rs:10:20 }}\n{{#title Not an include}}\n";
    assert_eq!(
        includes(text),
        vec![
            (2, "../../labs/guides/01-layers.md".to_string()),
            (4, "part.rs".to_string())
        ]
    );
}

#[test]
fn a_missing_file_is_reported_with_file_and_line() {
    let dir = root().join("docs/src");
    let text = "ok [a](glossary.md#socket)\n\n[gone](no-such-page.md) [b](../performance.md)\n";
    let mut checked = 0;
    let problems = broken_links(&dir.join("page.md"), &dir, text, &mut checked);
    assert_eq!(checked, 3);
    assert_eq!(
        problems,
        vec![
            "docs/src/page.md:3: link `no-such-page.md` -> docs/src/no-such-page.md does not exist"
        ]
    );
}
