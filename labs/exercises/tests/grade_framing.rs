//! Exercise 3 (framing) graded by the real grader: the solution gets full marks, the starter
//! fails, and a server that treats each read as a message fails exactly the chunking checks.

mod common;

use common::{Verdict, grade, python, solution, starter};

#[test]
fn the_solution_gets_full_marks() {
    let report = grade("framing", &format!("{} {{port}}", solution("framing")));
    assert_eq!(
        report.points_line(),
        "Points 10/10",
        "{}",
        report.table(false)
    );
}

#[test]
fn the_starter_fails_every_check() {
    let v = Verdict::of("framing", &format!("{} {{port}}", starter("framing")));
    assert_eq!(v.report.points(), 0, "{}", v.report.table(false));
    // The starter panics in a connection's thread: the server lives on, the client is cut off.
    let one = v.check("one").reason.as_deref().unwrap();
    assert!(one.contains("waiting for a reply line"), "{one}");
}

#[test]
fn one_read_per_message_fails_the_chunking_checks() {
    let v = Verdict::of("framing", &python("tests/broken/naive_framing.py {port}"));
    assert!(v.check("one").passed, "{}", v.report.table(false));
    for failing in ["byte-by-byte", "coalesced", "mid-message", "too-large"] {
        assert!(
            !v.check(failing).passed,
            "{failing}: {}",
            v.report.table(false)
        );
    }
    let bytes = v.check("byte-by-byte");
    assert_eq!(
        bytes.got.as_ref().unwrap().text,
        r#"{\"error\": \"bad message\"}\n"#
    );
}
