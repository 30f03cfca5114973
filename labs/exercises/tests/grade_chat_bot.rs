//! Exercise 6 (chat-bot) graded by the real grader against its own event server: the solution
//! gets full marks, the starter fails, and bots with one mistake each fail the right checks.

mod common;

use common::{Verdict, grade, python, solution, starter};

#[test]
fn the_solution_gets_full_marks() {
    let report = grade("chat-bot", &format!("{} {{server}}", solution("chat-bot")));
    assert_eq!(
        report.points_line(),
        "Points 10/10",
        "{}",
        report.table(false)
    );
}

#[test]
fn the_starter_fails_every_check() {
    let v = Verdict::of("chat-bot", &format!("{} {{server}}", starter("chat-bot")));
    assert_eq!(v.report.points(), 0, "{}", v.report.table(false));
    let joins = v.check("joins").reason.as_deref().unwrap();
    assert!(joins.contains("not yet implemented"), "{joins}");
}

#[test]
fn a_bot_that_does_not_resume_misses_the_messages_sent_while_away() {
    let v = Verdict::of(
        "chat-bot",
        &python("tests/broken/bad_bot.py noresume {server}"),
    );
    for passing in ["joins", "pong", "quiet", "confirms"] {
        assert!(
            v.check(passing).passed,
            "{passing}: {}",
            v.report.table(false)
        );
    }
    let resume = v.check("resume").reason.as_deref().unwrap();
    assert!(resume.contains("without asking to resume"), "{resume}");
    assert!(!v.check("once").passed);
}

#[test]
fn a_bot_that_forgets_what_it_handled_answers_twice() {
    let v = Verdict::of(
        "chat-bot",
        &python("tests/broken/bad_bot.py forgetful {server}"),
    );
    assert!(!v.check("confirms").passed, "{}", v.report.table(false));
    assert!(v.check("resume").passed, "{}", v.report.table(false));
    let once = v.check("once").reason.as_deref().unwrap();
    assert!(once.contains("it answered"), "{once}");
    assert!(!once.contains("answered 2 "), "{once}");
}

#[test]
fn a_bot_that_answers_everything_is_not_quiet() {
    let v = Verdict::of(
        "chat-bot",
        &python("tests/broken/bad_bot.py chatty {server}"),
    );
    assert!(v.check("pong").passed, "{}", v.report.table(false));
    assert!(!v.check("quiet").passed, "{}", v.report.table(false));
}
