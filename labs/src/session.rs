//! A running lab: the [`Session`] a lab's code drives, one step at a time.
//!
//! A lab is a list of steps, written as the calls its `run` function makes in order:
//! [`Session::explain`] (a section of the guide), [`Session::act`] (announce an experiment, then
//! run it, usually inside [`Session::capture`]), [`Session::show`] (a table, a layer tree, a hex
//! dump), [`Session::measure`] and [`Session::check`] (what was measured, and whether it is what
//! the guide says), [`Session::predict`] and [`Session::reveal`] (a prediction asked before an
//! experiment, shown beside the measurement after it; recorded, never graded) and
//! [`Session::ask`] (a question whose answer was just measured or computed). The session decides,
//! from the [`Mode`], whether to pause, prompt, grade, or only record; the lab's code is the same
//! in every mode. The values a question depends on come from [`Session::variant`], so each
//! student gets numbers of their own; the session also shuffles every choice question's options
//! per student.

use std::io::{BufRead, Write};

use crate::answers::AnswerSheet;
use crate::error::LabError;
use crate::guide::{self, Guide};
use crate::options::{LabOptions, Mode};
use crate::question::{Expected, Question, Verdict};
use crate::report::{Event, Report, Summary};
use crate::style::Style;
use crate::variant::Variant;

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
    variant: Variant,
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
        let variant = Variant::new(options.student_id());
        let style = if options.json { Style::plain() } else { style };
        Ok(Session {
            lab_number,
            guide: Guide::parse(guide_text),
            options,
            mode,
            style,
            // Never wider than the tables (a test's or a pipe's fixed width, or the terminal's).
            width: text_width().min(usize::from(style.width())),
            out,
            input,
            input_closed: false,
            answers,
            variant,
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

    /// The student's variant: where a lab takes every value a question depends on.
    pub fn variant(&self) -> &Variant {
        &self.variant
    }

    /// Runs this variant instead of the one from `--student` or the environment (tests, and
    /// tools that grade several students in one process).
    pub fn set_variant(&mut self, variant: Variant) {
        self.variant = variant;
    }

    /// Columns for wrapped text (explanations, questions, hints); tests set it to check that
    /// everything fits a narrow terminal.
    pub fn set_width(&mut self, columns: usize) {
        self.width = columns.max(MIN_TEXT_WIDTH);
    }

    /// Prints `text` wrapped at word boundaries to the text width, continuation lines indented
    /// by `indent`, each line painted with `paint` (colour codes never count as width).
    fn say_wrapped(&mut self, text: &str, indent: &str, paint: fn(Style, &str) -> String) {
        let wrapped = guide::wrap_text(text, self.width, indent);
        let style = self.style;
        let lines: Vec<String> = wrapped.lines().map(|l| paint(style, l)).collect();
        self.say(&lines.join("\n"));
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
        let student = self.variant.student().cloned();
        self.emit(Event::Lab {
            lab: self.lab_number,
            title: title.clone(),
            mode: self.mode.name(),
            student: student.as_ref().map(|s| s.id.clone()),
            student_source: student.as_ref().map(|s| s.source.clone()),
        });
        let intro = guide::render(&self.guide.intro, self.style, self.width);
        let rule = "=".repeat(title.chars().count());
        self.say(&format!("\n{}\n{rule}\n\n{intro}", self.style.bold(&title)));
        let variant = match &student {
            Some(s) => format!(
                "Variant: student {} (from {}). Your numbers are your own: answers written for \
                 another student's variant do not fit yours.",
                s.id, s.source
            ),
            None if self.mode == Mode::Graded => "Variant: the shared practice variant (no \
                 student id). To grade a student, pass --student ID or set NETLAB_STUDENT."
                .to_string(),
            None => "Variant: the shared practice variant. `--student ID` (or NETLAB_STUDENT) \
                 gives you numbers of your own."
                .to_string(),
        };
        self.say_wrapped(&variant, "", Style::dim);
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
        self.say_wrapped(&line, "  ", Style::cyan);
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
            self.say_wrapped(&line, "    ", Style::red);
        } else if self.mode != Mode::Interactive {
            let line = format!("  ok: {name} ({detail})");
            self.say_wrapped(&line, "    ", Style::green);
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
        let q = match &q.expected {
            Expected::Choice { options, .. } => {
                let order = self.variant.permutation(&q.id, options.len());
                q.reordered(&order)
            }
            Expected::Number { .. } => q,
        };
        let head = format!("Question [{}]:", q.id);
        let prompt = format!("\n{head} {}", q.prompt);
        let wrapped = guide::wrap_text(&prompt, self.width, "");
        // Only the "Question [id]:" label is coloured, wherever the wrap left it.
        let painted = wrapped.replacen(&head, &self.style.yellow(&head), 1);
        self.say(&painted);
        if let Expected::Choice { options, .. } = &q.expected {
            let lines: Vec<String> = options
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let line = format!("  {}) {o}", (b'a' + i as u8) as char);
                    guide::wrap_text(&line, self.width, "     ")
                })
                .collect();
            self.say(&lines.join("\n"));
        }
        let (given, correct, tries) = match self.mode {
            Mode::Interactive if !self.input_closed => self.ask_interactive(&q)?,
            Mode::Graded => self.ask_graded(&q),
            _ => {
                let line = format!("  (answer from this run: {})", q.expected_text());
                self.say_wrapped(&line, "   ", Style::dim);
                (None, false, 0)
            }
        };
        self.emit(Event::Answer {
            question: q.id.clone(),
            prompt: q.prompt.clone(),
            expected: q.expected_text(),
            correct: given.is_some().then_some(correct),
            given,
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
                Verdict::Invalid(msg) => self.say_wrapped(&format!("  {msg}"), "  ", Style::dim),
                Verdict::Correct => {
                    let line = format!("  Right: {}.", q.expected_text());
                    self.say_wrapped(&line, "  ", Style::green);
                    self.say_why(q);
                    return Ok((Some(answer), true, tries + 1));
                }
                Verdict::Wrong => {
                    tries += 1;
                    last = Some(answer);
                    let line = format!("  Not quite. Hint: {}", q.hint_for_try(tries));
                    self.say_wrapped(&line, "  ", Style::red);
                }
            }
        }
        let line = format!("  The answer is {}.", q.expected_text());
        self.say_wrapped(&line, "  ", Style::yellow);
        self.say_why(q);
        Ok((last, false, tries))
    }

    fn ask_graded(&mut self, q: &Question) -> (Option<String>, bool, u32) {
        let given = self
            .answers
            .as_ref()
            .and_then(|a| a.get(&q.id))
            .map(str::to_string);
        let verdict = given.as_deref().map(|a| q.check_graded(a));
        let correct = verdict == Some(Verdict::Correct);
        let (line, paint): (String, fn(Style, &str) -> String) = match (&given, verdict) {
            (None, _) | (_, None) => ("  no answer in the answers file".into(), Style::red),
            (Some(g), Some(Verdict::Correct)) => (format!("  {g}: right"), Style::green),
            (Some(g), Some(Verdict::Invalid(msg))) => (
                format!("  {g}: not an answer to this question ({msg})"),
                Style::red,
            ),
            (Some(g), Some(Verdict::Wrong)) => (
                format!(
                    "  {g}: wrong, the answer is {}. Hint: {}",
                    q.expected_text(),
                    q.hint_for_try(1)
                ),
                Style::red,
            ),
        };
        self.say_wrapped(&line, "  ", paint);
        let tries = u32::from(given.is_some());
        (given, correct, tries)
    }

    /// Step: predict, before an experiment runs. Interactive: the student types a prediction
    /// (any text; Enter alone skips). Graded: taken from the answers file under `id`, if there.
    /// CI: none. Nothing is graded; [`Session::reveal`] shows it beside the measurement and
    /// records both in the report.
    pub fn predict(&mut self, id: &str, prompt: &str) -> Result<Prediction, LabError> {
        let head = format!("Predict [{id}]:");
        let text = format!("\n{head} {prompt}");
        let wrapped = guide::wrap_text(&text, self.width, "");
        let painted = wrapped.replacen(&head, &self.style.cyan(&head), 1);
        self.say(&painted);
        let given = match self.mode {
            Mode::Interactive if !self.input_closed => self
                .read_line("prediction> ")?
                .filter(|line| !line.is_empty()),
            Mode::Graded => self
                .answers
                .as_ref()
                .and_then(|a| a.get(id))
                .map(str::to_string),
            _ => None,
        };
        if self.mode != Mode::Interactive {
            let line = match &given {
                Some(g) => format!("  (prediction from the answers file: {g}; not graded)"),
                None => "  (a prediction step: the student guesses first; not graded)".into(),
            };
            self.say_wrapped(&line, "   ", Style::dim);
        }
        Ok(Prediction {
            id: id.to_string(),
            prompt: prompt.to_string(),
            given,
        })
    }

    /// Shows a prediction beside what the experiment measured, and records both.
    pub fn reveal(
        &mut self,
        prediction: Prediction,
        measured: impl Into<serde_json::Value>,
        unit: &str,
    ) {
        let measured = measured.into();
        let shown = match &measured {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        let unit_text = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        let line = match &prediction.given {
            Some(g) => format!(
                "  [{}] you predicted: {g}; measured: {shown}{unit_text}",
                prediction.id
            ),
            None => format!("  [{}] measured: {shown}{unit_text}", prediction.id),
        };
        self.say_wrapped(&line, "  ", Style::cyan);
        self.emit(Event::Prediction {
            id: prediction.id,
            prompt: prediction.prompt,
            given: prediction.given,
            measured,
            unit: (!unit.is_empty()).then(|| unit.to_string()),
        });
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
        let code = exit_code(&summary, self.mode);
        // The formats of `netlab grade`: `Points X/Y` last (on stderr with --json, so that
        // stdout stays JSON) and, with --junit, the XML.
        let suite = format!("lab{:02}", self.lab_number);
        let graded = crate::report::graded(&self.report, &suite, &self.guide.title);
        if self.mode == Mode::Graded {
            if self.options.json {
                eprintln!("{}", graded.points_line());
            } else {
                self.say(&graded.points_line());
            }
        }
        if let Some(path) = &self.options.junit
            && let Err(e) = std::fs::write(path, graded.junit())
        {
            eprintln!(
                "error: cannot write the JUnit report to {}: {e}",
                path.display()
            );
            return exit::FAILED;
        }
        code
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
        if s.predictions > 0 {
            table.add_row(vec![
                "predictions (not graded)".to_string(),
                format!("{} of {} made", s.predicted, s.predictions),
            ]);
        }
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

/// The narrowest text honoured: narrower terminals get lines of this width, which they fold.
const MIN_TEXT_WIDTH: usize = 20;

/// Columns for wrapped text: `COLUMNS` if the shell exports it, else the terminal's width when
/// stdout is one, else 80; capped at 100 because long lines are hard to read.
fn text_width() -> usize {
    use std::io::IsTerminal;
    let terminal = || {
        std::io::stdout()
            .is_terminal()
            .then(|| comfy_table::Table::new().width().map(usize::from))
            .flatten()
    };
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .or_else(terminal)
        .unwrap_or(80)
        .clamp(MIN_TEXT_WIDTH, 100)
}

/// A prediction made before an experiment, to pass to [`Session::reveal`] after it.
#[must_use = "reveal the prediction after the experiment"]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    pub id: String,
    pub prompt: String,
    /// What the student predicted; `None` when nothing was (CI, Enter alone, not in the file).
    pub given: Option<String>,
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
        // Whatever NETLAB_STUDENT or GITHUB_ACTOR the test runs under: the practice variant.
        let mut s = s;
        s.set_variant(Variant::default());
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
        assert_eq!(lines[3]["given"], serde_json::Value::Null);
        assert_eq!(
            lines[3]["correct"],
            serde_json::Value::Null,
            "not answered is null"
        );
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

    fn answers_file(name: &str, text: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("netlab-labs-session-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("answers.txt");
        std::fs::write(&file, text).unwrap();
        file
    }

    fn osi_choice() -> Question {
        Question::choice(
            "osi",
            "IP is OSI layer?",
            &["2 Data link", "3 Network", "4 Transport", "7 Application"],
            1,
        )
    }

    /// The letter of the right option in `student`'s variant.
    fn right_letter(student: &str) -> String {
        let order = Variant::for_student(student).permutation("osi", 4);
        let q = osi_choice().reordered(&order);
        q.expected_text()[..1].to_string()
    }

    #[test]
    fn choice_options_are_shuffled_per_student_and_graded_by_letter() {
        // Two students whose right letters differ: one answers file, two verdicts.
        let students = ["ada", "bob", "cy", "dee", "eve", "fay", "gus"];
        let (a, b) = students
            .iter()
            .flat_map(|a| students.iter().map(move |b| (*a, *b)))
            .find(|(a, b)| right_letter(a) != right_letter(b))
            .expect("some two students get different letters");
        let file = answers_file("shuffle", &format!("osi = {}\n", right_letter(a)));
        let options = LabOptions {
            answers: Some(file.clone()),
            ..LabOptions::default()
        };
        let (mut s, _) = session(options.clone(), "");
        s.set_variant(Variant::for_student(a));
        assert!(s.ask(osi_choice()).unwrap(), "passes for {a}");
        assert_eq!(s.finish(), exit::OK);
        let (mut s, out) = session(options, "");
        s.set_variant(Variant::for_student(b));
        assert!(!s.ask(osi_choice()).unwrap(), "fails for {b}");
        assert!(
            out.text().contains("wrong, the answer is"),
            "{}",
            out.text()
        );
        assert_eq!(s.finish(), exit::WRONG_ANSWERS);
        std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
    }

    #[test]
    fn hints_change_from_try_to_try() {
        let q = tcp_len().hint("20 fixed bytes, plus options");
        let (mut s, out) = session(LabOptions::default(), "1\n2\n3\n");
        assert!(!s.ask(q).unwrap());
        let text = out.text();
        assert!(
            text.contains("Hint: look at the data offset field"),
            "{text}"
        );
        assert_eq!(
            text.matches("Hint: 20 fixed bytes, plus options").count(),
            2
        );
    }

    #[test]
    fn prompts_and_hints_wrap_at_word_boundaries() {
        let q = Question::number(
            "long",
            "A question long enough that it cannot possibly fit on one narrow line of a terminal",
            1.0,
        )
        .hint("a hint that is also long enough to need more than one line when it is shown");
        for width in [24, 41, 80] {
            let (mut s, out) = session(LabOptions::default(), "2\n1\n");
            s.set_width(width);
            s.ask(q.clone()).unwrap();
            let text = out.text();
            for line in text.lines() {
                let line = line.trim_start_matches("answer> ");
                assert!(line.chars().count() <= width, "{width}: {line:?}");
            }
            assert!(text.contains("narrow"), "no word is cut: {text}");
        }
    }

    #[test]
    fn predictions_are_recorded_beside_the_measurement_and_never_graded() {
        let (mut s, out) = session(LabOptions::default(), "50\n");
        s.set_width(80);
        let p = s
            .predict("predict-kept", "How many of 1000 datagrams arrive?")
            .unwrap();
        assert_eq!(p.given.as_deref(), Some("50"));
        s.reveal(p, 9, "datagrams");
        let text = out.text();
        assert!(
            text.contains("[predict-kept] you predicted: 50; measured: 9 datagrams"),
            "{text}"
        );
        let Event::Prediction {
            given, measured, ..
        } = s.report().events.last().unwrap()
        else {
            panic!("last event is not a prediction");
        };
        assert_eq!((given.as_deref(), measured), (Some("50"), &9.into()));
        let summary = s.report().summary();
        assert_eq!(
            (summary.predictions, summary.predicted, summary.questions),
            (1, 1, 0)
        );
        assert_eq!(s.finish(), exit::OK, "a prediction is not a question");

        let file = answers_file("predict", "predict-kept = 1000\n");
        let options = LabOptions {
            answers: Some(file.clone()),
            json: true,
            ..LabOptions::default()
        };
        let (mut s, out) = session(options, "");
        let p = s.predict("predict-kept", "How many?").unwrap();
        s.reveal(p, 9, "");
        let p = s.predict("predict-other", "And this?").unwrap();
        s.reveal(p, 1, "");
        assert_eq!(s.finish(), exit::OK);
        let lines: Vec<serde_json::Value> = out
            .text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["given"], "1000");
        assert_eq!(lines[1]["given"], serde_json::Value::Null);
        std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
    }
}
