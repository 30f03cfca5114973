//! The crate's one error type. Failing checks are not errors (they are results in the
//! [`crate::Report`]); these are the cases where no grading can happen at all.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    #[error("unknown exercise `{0}`; `netlab grade list` shows the exercises")]
    UnknownExercise(String),
    #[error(
        "{addr} is not a loopback address; the grader only talks to programs on this machine (use 127.0.0.1 or ::1)"
    )]
    NotLoopback { addr: SocketAddr },
    #[error("the command must contain `{placeholder}`: {why}")]
    MissingPlaceholder {
        placeholder: &'static str,
        why: &'static str,
    },
    #[error(
        "exercise `{exercise}` grades a client, which the grader must start itself: use --cmd \"...\" instead of --addr"
    )]
    AddrForClient { exercise: String },
    #[error("cannot start `{command}`: {source}; check that the command works in a shell")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("cannot start the grader's own {what} server: {message}")]
    Server { what: &'static str, message: String },
    #[error("cannot {what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
}

impl GradeError {
    /// True when what was typed is wrong (exit code 2), false when the world said no (1).
    pub fn is_usage(&self) -> bool {
        !matches!(
            self,
            GradeError::Spawn { .. } | GradeError::Io { .. } | GradeError::Server { .. }
        )
    }
}
