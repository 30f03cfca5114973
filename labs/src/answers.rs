//! Answers given ahead of a graded run (`--answers FILE`): one `question-id = answer` per line,
//! `#` starts a comment. The question ids are printed by every run (and are in the JSON report),
//! so an instructor can write the file from a `--ci --json` run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::LabError;

/// The answers from one file, by question id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerSheet {
    answers: HashMap<String, String>,
}

impl AnswerSheet {
    pub fn load(path: &Path) -> Result<AnswerSheet, LabError> {
        let text = std::fs::read_to_string(path).map_err(|source| LabError::AnswersFile {
            path: path.to_path_buf(),
            source,
        })?;
        AnswerSheet::parse(&text, path)
    }

    /// Parses the text of an answers file; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<AnswerSheet, LabError> {
        let mut answers = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split_once('#').map_or(raw, |(before, _)| before).trim();
            if line.is_empty() {
                continue;
            }
            let syntax = |message: &str| LabError::AnswersSyntax {
                path: PathBuf::from(path),
                line: i + 1,
                message: message.to_string(),
            };
            let (id, answer) = line
                .split_once('=')
                .or_else(|| line.split_once(':'))
                .ok_or_else(|| syntax("no `=` between question id and answer"))?;
            let (id, answer) = (id.trim(), answer.trim());
            if id.is_empty() || answer.is_empty() {
                return Err(syntax("empty question id or answer"));
            }
            if answers.insert(id.to_string(), answer.to_string()).is_some() {
                return Err(syntax(&format!("question `{id}` is answered twice")));
            }
        }
        Ok(AnswerSheet { answers })
    }

    pub fn get(&self, id: &str) -> Option<&str> {
        self.answers.get(id).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ids_answers_and_comments() {
        let sheet = AnswerSheet::parse(
            "# lab 1\ntcp-offset = 34\nudp-len: 8   # bytes\n\nosi = b\n",
            Path::new("a.txt"),
        )
        .unwrap();
        assert_eq!(sheet.get("tcp-offset"), Some("34"));
        assert_eq!(sheet.get("udp-len"), Some("8"));
        assert_eq!(sheet.get("osi"), Some("b"));
        assert_eq!(sheet.get("missing"), None);
    }

    #[test]
    fn reports_the_line_of_a_bad_entry() {
        let err = AnswerSheet::parse("a = 1\njust words\n", Path::new("x.txt")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x.txt, line 2"), "{msg}");
        assert!(err.is_usage());
        let dup = AnswerSheet::parse("a = 1\na = 2\n", Path::new("x.txt")).unwrap_err();
        assert!(dup.to_string().contains("answered twice"));
    }
}
