//! Exercise 4 (http) graded by the real grader: the solution gets full marks, the starter
//! fails, and a server that closes after every response fails exactly keep-alive and HEAD.

mod common;

use common::{Verdict, grade, python, solution, starter};

#[test]
fn the_solution_gets_full_marks() {
    let report = grade("http", &format!("{} {{port}}", solution("http")));
    assert_eq!(
        report.points_line(),
        "Points 10/10",
        "{}",
        report.table(false)
    );
}

#[test]
fn the_starter_fails_every_check() {
    let v = Verdict::of("http", &format!("{} {{port}}", starter("http")));
    v.all_fail_with("waiting for the response headers");
}

#[test]
fn a_server_that_closes_after_each_response_fails_keep_alive() {
    let v = Verdict::of("http", &python("tests/broken/http10.py {port}"));
    for passing in ["get", "not-found"] {
        assert!(
            v.check(passing).passed,
            "{passing}: {}",
            v.report.table(false)
        );
    }
    for failing in ["head", "keep-alive", "post", "method"] {
        assert!(
            !v.check(failing).passed,
            "{failing}: {}",
            v.report.table(false)
        );
    }
    let keep = v.check("keep-alive").reason.as_deref().unwrap();
    assert!(
        keep.starts_with("request 2 of 3 on one connection"),
        "{keep}"
    );
}
