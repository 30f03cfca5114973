//! Questions a lab asks, and how an answer is checked.
//!
//! The expected answer is computed by the lab from what it just measured (the TCP header length in
//! *this* capture, the loss rate of *this* run), so a question is built after its experiment and a
//! student cannot copy last year's answers blindly.

use serde::Serialize;

/// What counts as right.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expected {
    /// One of `options`; the student answers with a letter (`b`), a number from 1 (`2`) or the
    /// option's text.
    Choice {
        options: Vec<String>,
        correct: usize,
    },
    /// A number; any answer within `tolerance` of `value` is right (0 for exact counts, a little
    /// for percentages and milliseconds).
    Number { value: f64, tolerance: f64 },
}

/// One question: what is asked, what is right, and what to say when it is not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    /// Stable id used by `--answers` files and the JSON report, e.g. `tcp-header-offset`.
    pub id: String,
    pub prompt: String,
    pub expected: Expected,
    /// Unit shown after the prompt and accepted after a number (`20 bytes`).
    pub unit: Option<String>,
    /// Shown after a wrong answer, one per try (the last one repeats): where to look, then a
    /// step further each time, never the answer itself.
    pub hints: Vec<String>,
    /// Shown once the question is settled: why the answer is what it is.
    pub why: String,
}

/// The result of checking one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Correct,
    Wrong,
    /// Not an answer to this question at all (a word where a number was wanted, `e` with four
    /// options); does not count as a try.
    Invalid(String),
}

impl Question {
    /// A multiple-choice question; `correct` indexes `options`.
    pub fn choice(id: &str, prompt: &str, options: &[&str], correct: usize) -> Question {
        assert!(
            correct < options.len(),
            "question {id}: correct option out of range"
        );
        Question {
            id: id.to_string(),
            prompt: prompt.to_string(),
            expected: Expected::Choice {
                options: options.iter().map(|o| o.to_string()).collect(),
                correct,
            },
            unit: None,
            hints: Vec::new(),
            why: String::new(),
        }
    }

    /// A question whose answer is a number, exact unless [`Question::tolerance`] widens it.
    pub fn number(id: &str, prompt: &str, value: f64) -> Question {
        Question {
            id: id.to_string(),
            prompt: prompt.to_string(),
            expected: Expected::Number {
                value,
                tolerance: 0.0,
            },
            unit: None,
            hints: Vec::new(),
            why: String::new(),
        }
    }

    pub fn tolerance(mut self, t: f64) -> Question {
        if let Expected::Number { tolerance, .. } = &mut self.expected {
            *tolerance = t;
        }
        self
    }

    pub fn unit(mut self, unit: &str) -> Question {
        self.unit = Some(unit.to_string());
        self
    }

    /// Adds a hint. Called more than once, the hints are shown in turn: the first after the
    /// first wrong answer, the second after the second, and so on.
    pub fn hint(mut self, hint: &str) -> Question {
        self.hints.push(hint.to_string());
        self
    }

    /// The hint for the `tries`-th wrong answer (from 1); the last hint repeats.
    pub fn hint_for_try(&self, tries: u32) -> &str {
        let i = (tries.max(1) as usize - 1).min(self.hints.len().saturating_sub(1));
        self.hints.get(i).map_or("", String::as_str)
    }

    /// The same question with a choice's options in this order (`order[i]` is the old index of
    /// new option `i`): a student's variant shuffles them, so the right letter differs between
    /// students. Numbers are unchanged.
    pub fn reordered(mut self, order: &[usize]) -> Question {
        let Expected::Choice { options, correct } = &mut self.expected else {
            return self;
        };
        if order.len() == options.len() {
            let old = std::mem::take(options);
            *options = order.iter().map(|&i| old[i].clone()).collect();
            *correct = order
                .iter()
                .position(|&i| i == *correct)
                .unwrap_or(*correct);
        }
        self
    }

    /// Checks an answer from an answers file: like [`Question::check`], but a choice must be
    /// given by its letter (or number), because the option text is the same for every student
    /// while the letters are shuffled per student.
    pub fn check_graded(&self, answer: &str) -> Verdict {
        if let Expected::Choice { options, .. } = &self.expected {
            let a = answer.trim().trim_end_matches(')').trim();
            let positional = (a.len() == 1 && a.as_bytes()[0].is_ascii_alphabetic())
                || a.parse::<usize>().is_ok();
            if !positional {
                return Verdict::Invalid(format!(
                    "answer a choice with its letter, a to {}",
                    (b'a' + options.len() as u8 - 1) as char
                ));
            }
        }
        self.check(answer)
    }

    pub fn why(mut self, why: &str) -> Question {
        self.why = why.to_string();
        self
    }

    /// Checks one answer as typed by a student or read from an answers file.
    pub fn check(&self, answer: &str) -> Verdict {
        let answer = answer.trim();
        if answer.is_empty() {
            return Verdict::Invalid("type an answer, then press Enter".to_string());
        }
        match &self.expected {
            Expected::Choice { options, correct } => match choice_index(answer, options) {
                Some(i) if i == *correct => Verdict::Correct,
                Some(_) => Verdict::Wrong,
                None => Verdict::Invalid(format!(
                    "answer with a letter from a to {}",
                    (b'a' + options.len() as u8 - 1) as char
                )),
            },
            Expected::Number { value, tolerance } => {
                match parse_number(answer, self.unit.as_deref()) {
                    Some(n) if (n - value).abs() <= *tolerance + 1e-9 => Verdict::Correct,
                    Some(_) => Verdict::Wrong,
                    None => Verdict::Invalid("answer with a number, e.g. 42".to_string()),
                }
            }
        }
    }

    /// The right answer as a student would write it: `b) TCP` or `20 bytes`.
    pub fn expected_text(&self) -> String {
        match &self.expected {
            Expected::Choice { options, correct } => {
                format!("{}) {}", (b'a' + *correct as u8) as char, options[*correct])
            }
            Expected::Number { value, .. } => {
                let n = format_number(*value);
                match &self.unit {
                    Some(u) => format!("{n} {u}"),
                    None => n,
                }
            }
        }
    }
}

/// Accepts `b`, `B`, `b)`, `2`, or the option text (case-insensitive).
fn choice_index(answer: &str, options: &[String]) -> Option<usize> {
    let a = answer.trim_end_matches(')').trim().to_lowercase();
    if a.len() == 1 {
        let c = a.as_bytes()[0];
        if c.is_ascii_lowercase() && ((c - b'a') as usize) < options.len() {
            return Some((c - b'a') as usize);
        }
    }
    if let Ok(n) = a.parse::<usize>() {
        return (1..=options.len()).contains(&n).then(|| n - 1);
    }
    options.iter().position(|o| o.to_lowercase() == a)
}

/// Parses `20`, `20.5`, `20 bytes`, `7%`: the unit (or a `%`) may follow the number.
fn parse_number(answer: &str, unit: Option<&str>) -> Option<f64> {
    let mut a = answer.trim();
    if let Some(u) = unit {
        a = a.strip_suffix(u).unwrap_or(a).trim();
    }
    a = a.strip_suffix('%').unwrap_or(a).trim();
    a.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Whole numbers without a fraction, others with at most two decimals.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        let s = format!("{n:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers() -> Question {
        Question::choice(
            "osi-ip",
            "Which OSI layer is IPv4?",
            &["Data link", "Network", "Transport"],
            1,
        )
    }

    #[test]
    fn choice_accepts_letter_number_and_text() {
        let q = layers();
        for ok in ["b", "B", "b)", "2", " network "] {
            assert_eq!(q.check(ok), Verdict::Correct, "{ok}");
        }
        for wrong in ["a", "3", "Transport"] {
            assert_eq!(q.check(wrong), Verdict::Wrong, "{wrong}");
        }
    }

    #[test]
    fn choice_rejects_letters_out_of_range_without_counting_a_try() {
        let q = layers();
        assert!(matches!(q.check("d"), Verdict::Invalid(m) if m.contains("a to c")));
        assert!(matches!(q.check("9"), Verdict::Invalid(_)));
        assert!(matches!(q.check(""), Verdict::Invalid(_)));
    }

    #[test]
    fn number_is_exact_by_default_and_accepts_a_unit() {
        let q = Question::number("tcp-len", "TCP header length?", 32.0).unit("bytes");
        assert_eq!(q.check("32"), Verdict::Correct);
        assert_eq!(q.check("32 bytes"), Verdict::Correct);
        assert_eq!(q.check("32.0"), Verdict::Correct);
        assert_eq!(q.check("20"), Verdict::Wrong);
        assert!(matches!(q.check("thirty-two"), Verdict::Invalid(_)));
        assert_eq!(q.expected_text(), "32 bytes");
    }

    #[test]
    fn number_within_tolerance_and_percent_sign() {
        let q = Question::number("overhead", "Overhead?", 98.5).tolerance(1.0);
        assert_eq!(q.check("98"), Verdict::Correct);
        assert_eq!(q.check("99.5%"), Verdict::Correct);
        assert_eq!(q.check("97"), Verdict::Wrong);
        assert_eq!(
            q.check("NaN"),
            Verdict::Invalid("answer with a number, e.g. 42".into())
        );
        assert_eq!(q.expected_text(), "98.5");
    }

    #[test]
    fn hints_change_from_try_to_try_and_the_last_repeats() {
        let q = layers()
            .hint("where do routers look?")
            .hint("OSI 3 is called...");
        assert_eq!(q.hint_for_try(1), "where do routers look?");
        assert_eq!(q.hint_for_try(2), "OSI 3 is called...");
        assert_eq!(q.hint_for_try(5), "OSI 3 is called...");
        assert_eq!(layers().hint_for_try(1), "");
    }

    #[test]
    fn reordered_options_move_the_right_letter() {
        let q = layers().reordered(&[2, 0, 1]);
        assert_eq!(q.expected_text(), "c) Network");
        assert_eq!(q.check("c"), Verdict::Correct);
        assert_eq!(q.check("b"), Verdict::Wrong);
    }

    #[test]
    fn graded_choices_need_a_letter() {
        let q = layers();
        assert_eq!(q.check_graded("b"), Verdict::Correct);
        assert_eq!(q.check_graded("2"), Verdict::Correct);
        assert!(matches!(q.check_graded("Network"), Verdict::Invalid(m) if m.contains("letter")));
        let n = Question::number("n", "?", 3.0);
        assert_eq!(n.check_graded("3"), Verdict::Correct);
    }

    #[test]
    fn expected_text_of_a_choice_names_letter_and_option() {
        assert_eq!(layers().expected_text(), "b) Network");
    }

    #[test]
    fn format_number_drops_needless_decimals() {
        assert_eq!(format_number(20.0), "20");
        assert_eq!(format_number(1.25), "1.25");
        assert_eq!(format_number(1.5), "1.5");
        assert_eq!(format_number(2.0 / 3.0), "0.67");
    }
}
