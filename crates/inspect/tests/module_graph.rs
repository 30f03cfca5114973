//! The crate's imports flow one way (the map at the top of `src/lib.rs`): every module may use
//! the modules below it and never one above it. This test reads the sources and fails on any
//! `crate::` path, in code rather than comments, that points upward or sideways.

use std::path::Path;

/// Each top-level module's height in the map; a module may only use modules of lower height.
/// `error` sits under everything; the sources at the edge (`capfile`, `live`) use only the
/// model and the error type.
const HEIGHT: [(&str, u8); 9] = [
    ("error", 0),
    ("model", 1),
    ("craft", 3),
    ("capfile", 2),
    ("live", 2),
    ("dissect", 2),
    ("flows", 3),
    ("filter", 4),
    ("render", 5),
];

fn height(module: &str) -> u8 {
    HEIGHT
        .iter()
        .find(|(m, _)| *m == module)
        .map(|(_, h)| *h)
        .unwrap_or_else(|| panic!("module {module} is not in the map; add it to HEIGHT"))
}

/// The top-level module a source file belongs to: `src/dissect/tcp.rs` is `dissect`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_a_module_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    let mut edges = 0;
    for file in &files {
        let module = module_of(&src, file);
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for (at, _) in code.match_indices("crate::") {
                // The character before must not be part of a longer name (`netlab_crate::`).
                if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let used: String = code[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if used.is_empty() || used == module {
                    continue;
                }
                edges += 1;
                if height(&used) >= height(&module) {
                    wrong.push(format!(
                        "{}:{}: {module} uses {used}",
                        file.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        edges > 20,
        "only {edges} imports found: is the scan broken?"
    );
    assert!(
        wrong.is_empty(),
        "imports running upward:\n{}",
        wrong.join("\n")
    );
}
