//! A check and the way it fails. A check passes or returns a [`Failure`] that says what the
//! grader sent, what it expected and what came back, so a student can reproduce it with `nc`.

use std::time::Duration;

/// One graded property of an exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Short id, stable across versions (JUnit test names, `--json`).
    pub id: &'static str,
    /// What is checked, in words a student understands.
    pub name: &'static str,
    /// Points for passing it; an exercise's points are the sum over its checks.
    pub points: u32,
    /// Longest time the check may take; past it the check fails as "no answer in time".
    pub limit: Duration,
    /// What to look at when it fails.
    pub hint: &'static str,
}

/// Why a check failed. Bytes are kept raw; the report renders them as hex and text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    pub sent: Option<Vec<u8>>,
    pub expected: Option<Vec<u8>>,
    pub got: Option<Vec<u8>>,
    /// A hint specific to this failure; the check's own hint is used when empty.
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(reason: impl Into<String>) -> Self {
        Failure {
            reason: reason.into(),
            ..Failure::default()
        }
    }

    pub fn sent(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.sent = Some(bytes.as_ref().to_vec());
        self
    }

    pub fn expected(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.expected = Some(bytes.as_ref().to_vec());
        self
    }

    pub fn got(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.got = Some(bytes.as_ref().to_vec());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// The result of running one check.
pub type Outcome = Result<(), Failure>;

/// Fails with `reason` unless `ok`; for checks made of several conditions.
pub fn ensure(ok: bool, reason: impl FnOnce() -> Failure) -> Outcome {
    if ok { Ok(()) } else { Err(reason()) }
}

/// Where two byte strings first differ, for messages about long payloads.
pub fn first_difference(expected: &[u8], got: &[u8]) -> Option<usize> {
    let common = expected.len().min(got.len());
    (0..common)
        .find(|&i| expected[i] != got[i])
        .or((expected.len() != got.len()).then_some(common))
}

/// Compares `got` with `expected` and, when they differ, fails with the 32 bytes around the
/// first difference of each (a megabyte in a report helps nobody).
pub fn same_bytes(what: &str, sent: &[u8], expected: &[u8], got: &[u8]) -> Outcome {
    let Some(at) = first_difference(expected, got) else {
        return Ok(());
    };
    let window = |b: &[u8]| b[at.saturating_sub(8).min(b.len())..(at + 24).min(b.len())].to_vec();
    let reason = if got.len() < expected.len() && at == got.len() {
        format!(
            "{what}: {} of {} bytes came back, then nothing more",
            got.len(),
            expected.len()
        )
    } else {
        format!(
            "{what}: byte {at} differs ({} bytes expected, {} came back); shown from byte {}",
            expected.len(),
            got.len(),
            at.saturating_sub(8)
        )
    };
    Err(Failure::new(reason)
        .sent(if sent.len() > 64 {
            window(sent)
        } else {
            sent.to_vec()
        })
        .expected(window(expected))
        .got(window(got)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_found_at_the_first_byte_that_differs() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(b"abc", b"abx"), Some(2));
        assert_eq!(first_difference(b"abc", b"ab"), Some(2));
        assert_eq!(first_difference(b"ab", b"abc"), Some(2));
    }

    #[test]
    fn long_payloads_are_reported_around_the_difference() {
        let expected: Vec<u8> = (0..=255).collect();
        let mut got = expected.clone();
        got[100] = 0;
        let f = same_bytes("echo", &expected, &expected, &got).unwrap_err();
        assert!(f.reason.contains("byte 100 differs"), "{}", f.reason);
        assert_eq!(f.expected.unwrap(), (92..124).collect::<Vec<u8>>());
        let short = same_bytes("echo", b"abc", b"abc", b"a").unwrap_err();
        assert!(
            short.reason.contains("1 of 3 bytes came back"),
            "{}",
            short.reason
        );
    }
}
