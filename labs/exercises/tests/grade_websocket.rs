//! Exercise 5 (websocket) graded by the real grader: the solution gets full marks, the starter
//! fails, and a handshake without the GUID fails every check with both accept values shown.

mod common;

use common::{Verdict, grade, python, solution, starter};

#[test]
fn the_solution_gets_full_marks() {
    let report = grade("websocket", &format!("{} {{port}}", solution("websocket")));
    assert_eq!(
        report.points_line(),
        "Points 10/10",
        "{}",
        report.table(false)
    );
}

#[test]
fn the_starter_fails_every_check() {
    let v = Verdict::of("websocket", &format!("{} {{port}}", starter("websocket")));
    v.all_fail_with("the upgrade handshake");
}

#[test]
fn an_accept_key_without_the_guid_fails_the_handshake() {
    let v = Verdict::of("websocket", &python("tests/broken/ws_no_guid.py {port}"));
    v.all_fail_with("Sec-WebSocket-Accept is ");
    let reason = v.check("handshake").reason.as_deref().unwrap();
    assert!(
        reason.contains("expected s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{reason}"
    );
}
