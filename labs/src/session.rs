//! A running lab: the [`Session`] a lab's code drives, one step at a time.
//!
//! A lab is a list of steps, written as the calls its `run` function makes in order:
//! [`Session::explain`] (a section of the guide), [`Session::act`] (announce an experiment, then
//! run it, usually inside [`Session::capture`]), [`Session::show`] (a table, a layer tree, a hex
//! dump), [`Session::measure`] and [`Session::check`] (what was measured, and whether it is what
//! the guide says), and [`Session::ask`] (a question whose answer was just measured). The session
//! decides, from the [`Mode`], whether to pause, prompt, grade, or only record; the lab's code is
//! the same in every mode.

use std::io::{BufRead, Write};

use crate::answers::AnswerSheet;
use crate::error::LabError;
use crate::guide::{self, Guide};
use crate::options::{LabOptions, Mode};
use crate::question::{Expected, Question, Verdict};
use crate::report::{Event, Report, Summary};
use crate::style::Style;

/// Wrong answers before the session shows the answer and moves on: enough to think twice, few
/// enough that nobody is stuck.
pub const MAX_TRIES: u32 = 3;

/// Exit codes of a lab run (the `netlab` convention, plus one for a graded run).
pub mod exit {
    pub const OK: u8 = 0;
    /// A runtime error, or a measured expectation that failed.
    pub const FAILED: u8 = 1;
    /// Bad flags or a bad answers file.
    pub const USAGE: u8 = 2;
    /// A graded run (`--answers`) with a wrong or missing answer.
    pub const WRONG_ANSWERS: u8 = 3;
}

/// What the lab's code talks to. Created by [`crate::run_with_io`]; tests give it buffers.
pub struct Session {
    pub(crate) lab_number: u32,
    guide: Guide,
    pub(crate) options: LabOptions,
    mode: Mode,
    pub(crate) style: Style,
    width: usize,
    out: Box<dyn Write>,
    input: Box<dyn BufRead>,
    /// Set at end of input in interactive mode: the rest of the run goes on without prompts.
    input_closed: bool,
    answers: Option<AnswerSheet>,
    report: Report,
    /// Why live capture was not used, once it was not; the notice is printed only the first time.
    pub(crate) fallback_reason: Option<String>,
}

impl Session {
    /// A session for lab `lab_number` with this guide text. Loads the answers file, if any.
    pub fn new(
        lab_number: u32,
        guide_text: &str,
        options: LabOptions,
        style: Style,
        out: Box<dyn Write>,
        input: Box<dyn BufRead>,
    ) -> Result<Session, LabError> {
        let answers = match &options.answers {
            Some(path) => Some(AnswerSheet::load(path)?),
            None => None,
        };
        let mode = options.mode();
        let style = if options.json { Style::plain() } else { style };
        Ok(Session {
            lab_number,
            guide: Guide::parse(guide_text),
            options,
            mode,
            style,
            width: terminal_width(),
            out,
            input,
            input_closed: false,
            answers,
            report: Report::default(),
            fallback_reason: None,
        })
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn style(&self) -> Style {
        self.style
    }

    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Whether human text is printed (everything but `--json`).
    fn human(&self) -> bool {
        !self.options.json
    }

    /// Prints human text; JSON runs print nothing but their report. Output errors (a closed
    /// pipe) are ignored: the run's result is its exit code and report, not its chatter.
    pub fn say(&mut self, text: &str) {
        if self.human() {
            let _ = writeln!(self.out, "{text}");
            let _ = self.out.flush();
        }
    }

    pub(crate) fn emit_event(&mut self, event: Event) {
        self.emit(event);
    }

    fn emit(&mut self, event: Event) {
        if self.options.json {
            let _ = writeln!(self.out, "{}", event.to_json_line());
            let _ = self.out.flush();
        }
        self.report.push(event);
    }

    /// Starts the run: the guide's title and introduction, and the first report line.
    pub fn begin(&mut self) {
        let title = self.guide.title.clone();
        self.emit(Event::Lab {
            lab: self.lab_number,
            title: title.clone(),
            mode: self.mode.name(),
        });
        let intro = guide::render(&self.guide.intro, self.style, self.width);
        let rule = "=".repeat(title.chars().count());
        self.say(&format!("\n{}\n{rule}\n\n{intro}", self.style.bold(&title)));
        if self.mode == Mode::Interactive {
            self.say(&self.style.dim(
                "(Answer questions by typing and pressing Enter. Ctrl-C leaves at any time.)",
            ));
        }
    }

    /// Step: explain. Renders the guide section with this `## ` heading, then (interactive)
    /// waits for Enter so the student reads before the experiment scrolls it away.
    pub fn explain(&mut self, heading: &str) -> Result<(), LabError> {
        let body = self.guide.section(heading)?.body.clone();
        let text = guide::render(&body, self.style, self.width);
        self.say(&format!("\n{}\n\n{text}", self.style.heading(heading)));
        self.pause();
        Ok(())
    }

    /// Step: act. Announces the experiment about to run (the lab then runs it).
    pub fn act(&mut self, what: &str) {
        let line = format!("> {what}");
        self.say(&self.style.cyan(&line));
    }

    /// Step: show. A titled block: a table, a layer tree, a hex dump.
    pub fn show(&mut self, title: &str, body: &str) {
        self.say(&format!(
            "\n{}\n{}",
            self.style.bold(title),
            body.trim_end_matches('\n')
        ));
    }

    /// Records a measured value for the report (and the graders).
    pub fn measure(&mut self, name: &str, value: impl Into<serde_json::Value>, unit: &str) {
        self.emit(Event::Measurement {
            name: name.to_string(),
            value: value.into(),
            unit: (!unit.is_empty()).then(|| unit.to_string()),
        });
    }

    /// Records a measured expectation. A failure is always printed; a `--ci` run lists passes
    /// too, and fails (exit code 1) if any check failed.
    pub fn check(&mut self, name: &str, ok: bool, detail: impl Into<String>) -> bool {
        let detail = detail.into();
        if !ok {
            let line = format!("  check failed: {name} ({detail})");
            self.say(&self.style.red(&line));
        } else if self.mode != Mode::Interactive {
            let line = format!("  ok: {name} ({detail})");
            self.say(&self.style.green(&line));
        }
        self.emit(Event::Check {
            name: name.to_string(),
            ok,
            detail,
        });
        ok
    }

    /// [`Session::check`] for equality, with both values in the detail.
    pub fn check_eq<T: PartialEq + std::fmt::Debug>(
        &mut self,
        name: &str,
        measured: T,
        expected: T,
    ) -> bool {
        let ok = measured == expected;
        let detail = if ok {
            format!("{measured:?}")
        } else {
            format!("measured {measured:?}, expected {expected:?}")
        };
        self.check(name, ok, detail)
    }

    /// Step: ask. Interactive: prompt until right, with the hint after each wrong answer and the
    /// answer after [`MAX_TRIES`]. Graded: check the answer from the file. CI: list the question
    /// and its measured answer. Returns whether the answer counted as correct.
    pub fn ask(&mut self, q: Question) -> Result<bool, LabError> {
        self.say(&format!(
            "\n{} {}",
            self.style.yellow(&format!("Question [{}]:", q.id)),
            q.prompt
        ));
        if let Expected::Choice { options, .. } = &q.expected {
            let lines: Vec<String> = options
                .iter()
                .enumerate()
                .map(|(i, o)| format!("  {}) {o}", (b'a' + i as u8) as char))
                .collect();
            self.say(&lines.join("\n"));
        }
        let (given, correct, tries) = match self.mode {
            Mode::Interactive if !self.input_closed => self.ask_interactive(&q)?,
            Mode::Graded => self.ask_graded(&q),
            _ => {
                let line = format!("  (answer from this run: {})", q.expected_text());
                self.say(&self.style.dim(&line));
                (None, false, 0)
            }
        };
        self.emit(Event::Answer {
            question: q.id.clone(),
            prompt: q.prompt.clone(),
            expected: q.expected_text(),
            given,
            correct,
            tries,
        });
        Ok(correct)
    }

    fn ask_interactive(&mut self, q: &Question) -> Result<(Option<String>, bool, u32), LabError> {
        let mut tries = 0;
        let mut last = None;
        while tries < MAX_TRIES {
            let Some(answer) = self.read_line("answer> ")? else {
                self.say("(end of input: carrying on without prompts)");
                return Ok((last, false, tries));
            };
            match q.check(&answer) {
                Verdict::Invalid(msg) => self.say(&self.style.dim(&format!("  {msg}"))),
                Verdict::Correct => {
                    let line = format!("  Right: {}.", q.expected_text());
                    self.say(&self.style.green(&line));
                    self.say_why(q);
                    return Ok((Some(answer), true, tries + 1));
                }
                Verdict::Wrong => {
                    tries += 1;
                    last = Some(answer);
                    let line = format!("  Not quite. Hint: {}", q.hint);
                    self.say(&self.style.red(&line));
                }
            }
        }
        let line = format!("  The answer is {}.", q.expected_text());
        self.say(&self.style.yellow(&line));
        self.say_why(q);
        Ok((last, false, tries))
    }

    fn ask_graded(&mut self, q: &Question) -> (Option<String>, bool, u32) {
        let given = self
            .answers
            .as_ref()
            .and_then(|a| a.get(&q.id))
            .map(str::to_string);
        let correct = given.as_deref().map(|a| q.check(a)) == Some(Verdict::Correct);
        let verdict = match (&given, correct) {
            (None, _) => self.style.red("  no answer in the answers file"),
            (Some(g), true) => self.style.green(&format!("  {g}: right")),
            (Some(g), false) => self.style.red(&format!(
                "  {g}: wrong, the answer is {}. Hint: {}",
                q.expected_text(),
                q.hint
            )),
        };
        self.say(&verdict);
        let tries = u32::from(given.is_some());
        (given, correct, tries)
    }

    fn say_why(&mut self, q: &Question) {
        if !q.why.is_empty() {
            // Indented under the verdict it explains.
            let text = guide::render(&q.why, self.style, self.width.saturating_sub(2));
            let indented: Vec<String> = text.lines().map(|l| format!("  {l}")).collect();
            self.say(&indented.join("\n"));
        }
    }

    /// Interactive only: wait for Enter.
    pub fn pause(&mut self) {
        if self.mode == Mode::Interactive && !self.input_closed {
            let _ = self.read_line(&self.style.dim("[Enter] to continue "));
        }
    }

    /// One line from the student; `None` at end of input (which also ends prompting).
    fn read_line(&mut self, prompt: &str) -> Result<Option<String>, LabError> {
        if self.input_closed {
            return Ok(None);
        }
        let _ = write!(self.out, "{prompt}");
        let _ = self.out.flush();
        let mut line = String::new();
        let n = self
            .input
            .read_line(&mut line)
            .map_err(LabError::io("reading your answer from the terminal"))?;
        if n == 0 {
            self.input_closed = true;
            let _ = writeln!(self.out);
            return Ok(None);
        }
        Ok(Some(line.trim().to_string()))
    }

    /// Ends the run: prints the summary (a table, or the last JSON line) and returns the exit
    /// code.
    pub fn finish(mut self) -> u8 {
        let summary = self.report.summary();
        self.say(&summary_text(&summary, self.mode, self.style));
        self.emit(Event::Summary(summary.clone()));
        exit_code(&summary, self.mode)
    }
}

/// The exit code for a run with this summary in this mode.
pub fn exit_code(summary: &Summary, mode: Mode) -> u8 {
    if summary.checks_failed > 0 {
        exit::FAILED
    } else if mode == Mode::Graded && summary.correct < summary.questions {
        exit::WRONG_ANSWERS
    } else {
        exit::OK
    }
}

fn summary_text(s: &Summary, mode: Mode, style: Style) -> String {
    let mut table = crate::render::table(&["", "result"], style);
    table.add_row(vec![
        "measured expectations".to_string(),
        format!("{} passed, {} failed", s.checks_passed, s.checks_failed),
    ]);
    if mode != Mode::Ci {
        table.add_row(vec![
            "questions".to_string(),
            format!("{} of {} right", s.correct, s.questions),
        ]);
    }
    let verdict = if s.checks_failed > 0 {
        style.red(&format!(
            "Some measurements did not match the guide: {}. Run again; if it persists, report it with the output of `--json`.",
            s.failed.join(", ")
        ))
    } else {
        style.green("Lab complete.")
    };
    format!("\n{}\n{table}\n{verdict}", style.bold("Summary"))
}

/// Columns for wrapped text: `COLUMNS` if the shell exports it, else 80, capped at 100 because
/// long lines are hard to read.
fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(80)
        .clamp(40, 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::io::Cursor;
    use std::rc::Rc;

    /// A `Write` whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Captured(Rc<RefCell<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.borrow().clone()).unwrap()
        }
    }

    const GUIDE: &str = "# Lab 0: test\n\nIntro.\n\n## Headers\n\nA **header** comes first.\n";

    fn session(options: LabOptions, input: &str) -> (Session, Captured) {
        let out = Captured::default();
        let s = Session::new(
            0,
            GUIDE,
            options,
            Style::plain(),
            Box::new(out.clone()),
            Box::new(Cursor::new(input.to_string())),
        )
        .unwrap();
        (s, out)
    }

    fn tcp_len() -> Question {
        Question::number("tcp-len", "How long is the TCP header?", 32.0)
            .unit("bytes")
            .hint("look at the data offset field")
            .why("20 bytes plus 12 of options.")
    }

    #[test]
    fn interactive_wrong_answer_shows_the_hint_then_accepts_the_right_one() {
        let (mut s, out) = session(LabOptions::default(), "\n20\nlots\n32\n");
        s.explain("Headers").unwrap();
        assert!(s.ask(tcp_len()).unwrap());
        let text = out.text();
        assert!(text.contains("A header comes first."), "{text}");
        assert!(
            text.contains("Not quite. Hint: look at the data offset field"),
            "{text}"
        );
        assert!(text.contains("answer with a number"), "{text}");
        assert!(text.contains("Right: 32 bytes."), "{text}");
        assert!(text.contains("20 bytes plus 12 of options."), "{text}");
        let Event::Answer { given, tries, .. } = s.report().events.last().unwrap() else {
            panic!("last event is not an answer");
        };
        assert_eq!((given.as_deref(), *tries), (Some("32"), 2));
        assert_eq!(s.finish(), exit::OK);
    }

    #[test]
    fn interactive_reveals_the_answer_after_max_tries() {
        let (mut s, out) = session(LabOptions::default(), "1\n2\n3\n");
        assert!(!s.ask(tcp_len()).unwrap());
        let text = out.text();
        assert_eq!(text.matches("Hint:").count(), 3, "{text}");
        assert!(text.contains("The answer is 32 bytes."), "{text}");
    }

    #[test]
    fn end_of_input_stops_prompting_without_failing() {
        let (mut s, _out) = session(LabOptions::default(), "");
        s.explain("Headers").unwrap();
        assert!(!s.ask(tcp_len()).unwrap());
        assert!(!s.ask(tcp_len()).unwrap());
        assert_eq!(s.finish(), exit::OK);
    }

    #[test]
    fn ci_mode_never_reads_input_and_fails_on_a_failed_check() {
        let options = LabOptions {
            ci: true,
            ..LabOptions::default()
        };
        let (mut s, out) = session(options, "this must not be read\n");
        s.explain("Headers").unwrap();
        s.ask(tcp_len()).unwrap();
        assert!(s.check_eq("udp header", 8, 8));
        assert!(!s.check_eq("tcp header", 20, 32));
        let text = out.text();
        assert!(text.contains("(answer from this run: 32 bytes)"), "{text}");
        assert!(text.contains("check failed: tcp header (measured 20, expected 32)"));
        assert!(!text.contains("[Enter]"));
        assert_eq!(s.finish(), exit::FAILED);
    }

    #[test]
    fn graded_run_checks_the_file_and_exits_3_on_a_wrong_answer() {
        let dir = std::env::temp_dir().join(format!("netlab-labs-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("answers.txt");
        std::fs::write(&file, "tcp-len = 32\nosi = a\n").unwrap();
        let options = LabOptions {
            answers: Some(file),
            ..LabOptions::default()
        };
        let (mut s, out) = session(options.clone(), "");
        assert!(s.ask(tcp_len()).unwrap());
        let osi = Question::choice("osi", "IP is OSI layer?", &["2", "3"], 1).hint("routing");
        assert!(!s.ask(osi).unwrap());
        let missing = Question::number("missing", "?", 1.0);
        assert!(!s.ask(missing).unwrap());
        let text = out.text();
        assert!(text.contains("32: right"), "{text}");
        assert!(
            text.contains("a: wrong, the answer is b) 3. Hint: routing"),
            "{text}"
        );
        assert!(text.contains("no answer in the answers file"), "{text}");
        assert_eq!(s.finish(), exit::WRONG_ANSWERS);

        let (mut s, _) = session(options, "");
        assert!(s.ask(tcp_len()).unwrap());
        assert_eq!(s.finish(), exit::OK);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn json_mode_prints_only_json_lines() {
        let options = LabOptions {
            json: true,
            ..LabOptions::default()
        };
        let (mut s, out) = session(options, "");
        s.begin();
        s.explain("Headers").unwrap();
        s.measure("tcp.header_len", 32, "bytes");
        s.check_eq("tcp header", 32, 32);
        s.ask(tcp_len()).unwrap();
        assert_eq!(s.finish(), exit::OK);
        let text = out.text();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect();
        let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["lab", "measurement", "check", "answer", "summary"]);
        assert_eq!(lines[0]["mode"], "ci");
        assert_eq!(lines[3]["expected"], "32 bytes");
        assert_eq!(lines[4]["checks_passed"], 1);
    }

    #[test]
    fn explain_of_a_missing_section_is_an_error() {
        let (mut s, _) = session(LabOptions::default(), "");
        assert!(matches!(
            s.explain("Nope"),
            Err(LabError::MissingSection { .. })
        ));
    }
}
