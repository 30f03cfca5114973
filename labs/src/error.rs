//! The one error type of netlab-labs. Messages say what happened and what to do next.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("the guide has no section \"{heading}\" (it has: {}); fix the heading or the lab's step", known.join(", "))]
    MissingSection { heading: String, known: Vec<String> },

    #[error("cannot read the answers file {path}: {source}")]
    AnswersFile {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "answers file {path}, line {line}: {message} (write one `question-id = answer` per line)"
    )]
    AnswersSyntax {
        path: PathBuf,
        line: usize,
        message: String,
    },

    #[error("there is no lab {0}; `netlab lab list` shows the labs")]
    NoSuchLab(u32),

    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },

    #[error("capture: {0}")]
    Capture(String),

    #[error(
        "the shipped capture {path} is missing or unreadable: {message}; a fresh clone has it in labs/captures/, or run the lab as root to capture live"
    )]
    ShippedCapture { path: PathBuf, message: String },

    #[error("experiment failed: {0}")]
    Experiment(String),
}

impl LabError {
    /// Wraps an I/O error with what the lab was doing.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
        let what = what.into();
        move |source| LabError::Io { what, source }
    }

    /// Whether this is the caller's mistake (exit code 2) rather than a runtime failure (1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            LabError::AnswersFile { .. } | LabError::AnswersSyntax { .. } | LabError::NoSuchLab(_)
        )
    }
}
