//! Errors to exit codes, shared by every command family.
//!
//! 0: ok. 1: runtime error (the world said no: address in use, connection refused, timeout).
//! 2: usage error (what was typed is wrong: an invalid address, a payload too large). clap's
//! own parse errors already exit with 2.

use std::error::Error;
use std::fmt;
use std::io::IsTerminal;
use std::process::ExitCode;

/// Exit code for a runtime error.
pub const RUNTIME: u8 = 1;
/// Exit code for a usage error.
pub const USAGE: u8 = 2;

/// Marks an error as the user's input being wrong: exit code 2.
#[derive(Debug)]
pub struct UsageError(Box<dyn Error + Send + Sync>);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Error for UsageError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

/// Wraps `err` so that it exits with 2.
pub fn usage(err: impl Into<Box<dyn Error + Send + Sync>>) -> anyhow::Error {
    anyhow::Error::new(UsageError(err.into()))
}

/// The exit code for `err`: 2 if any error in its chain is a [`UsageError`], else 1.
pub fn code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|cause| cause.is::<UsageError>()) {
        USAGE
    } else {
        RUNTIME
    }
}

/// The exit code of a command's result; prints the error, if any, first.
pub fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&err),
    }
}

/// Prints `err` to stderr (`error: ...`, then causes not already in the message) and returns
/// its exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    let color = crate::output::color_allowed() && std::io::stderr().is_terminal();
    let label = if color {
        "\x1b[1;31merror:\x1b[0m"
    } else {
        "error:"
    };
    eprintln!("{label} {}", message(err));
    ExitCode::from(code(err))
}

/// The error and its causes, skipping a cause whose text the message already contains (our
/// library errors put their cause in their message).
pub fn message(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str("\n  caused by: ");
            text.push_str(&cause);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_with_2_even_under_context() {
        let err = usage("bad port").context("while parsing");
        assert_eq!(code(&err), USAGE);
        assert_eq!(code(&anyhow::anyhow!("refused")), RUNTIME);
    }

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let io = std::io::Error::other("disk on fire");
        let err = anyhow::Error::new(io).context("cannot save: disk on fire");
        assert_eq!(message(&err), "cannot save: disk on fire");
        let err = anyhow::anyhow!("root").context("top");
        assert_eq!(message(&err), "top\n  caused by: root");
    }
}
