//! The record of one lab run: every measurement, every check of a measured expectation, every
//! answer. `--json` prints each [`Event`] as one JSON object per line as it happens, then a
//! [`Summary`]; the human view prints the same summary as a table.

use serde::Serialize;

/// One line of the JSON report. `type` names the variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// First line: which lab, in which mode, for which student's variant (`student` null: the
    /// shared practice variant; `student_source` says where the id came from).
    Lab {
        lab: u32,
        title: String,
        mode: &'static str,
        student: Option<String>,
        student_source: Option<String>,
    },
    /// Where a step's packets came from: `live` (captured now) or `shipped` (labs/captures/).
    Capture {
        name: String,
        source: &'static str,
        packets: usize,
        /// The pcap file written with `--pcap DIR`, or the shipped file read.
        file: Option<String>,
        /// Why the live capture was not used, when it was not.
        reason: Option<String>,
    },
    /// A number or value the experiment measured, e.g. `tcp.header_len = 32 bytes`.
    Measurement {
        name: String,
        value: serde_json::Value,
        unit: Option<String>,
    },
    /// A measured expectation: `ok` false fails a `--ci` run.
    Check {
        name: String,
        ok: bool,
        detail: String,
    },
    /// A question and what was answered. `given` and `correct` are `None` (JSON `null`) when no
    /// answer came (a `--ci` run, a question missing from the answers file, end of input): not
    /// answered is not the same as answered wrong.
    Answer {
        question: String,
        prompt: String,
        expected: String,
        given: Option<String>,
        correct: Option<bool>,
        tries: u32,
    },
    /// A "predict, then run" step: what the student predicted before the experiment (`given`,
    /// null if nothing was predicted) beside what was then measured. Recorded, never graded.
    Prediction {
        id: String,
        prompt: String,
        given: Option<String>,
        measured: serde_json::Value,
        unit: Option<String>,
    },
    Summary(Summary),
}

/// Totals for the last line of the report and the exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub checks_passed: usize,
    pub checks_failed: usize,
    pub questions: usize,
    pub answered: usize,
    pub correct: usize,
    /// "Predict, then run" steps, and how many of them had a prediction.
    pub predictions: usize,
    pub predicted: usize,
    /// Names of the failed checks, so a CI log says what broke without scrolling.
    pub failed: Vec<String>,
}

/// All events of one run, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub events: Vec<Event>,
}

impl Report {
    pub fn push(&mut self, event: Event) {
        self.events.push(event);
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for e in &self.events {
            match e {
                Event::Check { ok: true, .. } => s.checks_passed += 1,
                Event::Check {
                    ok: false, name, ..
                } => {
                    s.checks_failed += 1;
                    s.failed.push(name.clone());
                }
                Event::Answer { given, correct, .. } => {
                    s.questions += 1;
                    s.answered += usize::from(given.is_some());
                    s.correct += usize::from(*correct == Some(true));
                }
                Event::Prediction { given, .. } => {
                    s.predictions += 1;
                    s.predicted += usize::from(given.is_some());
                }
                _ => {}
            }
        }
        s
    }

    /// The value of a measurement by name (the last one if measured twice).
    pub fn measurement(&self, name: &str) -> Option<&serde_json::Value> {
        self.events.iter().rev().find_map(|e| match e {
            Event::Measurement { name: n, value, .. } if n == name => Some(value),
            _ => None,
        })
    }
}

impl Event {
    /// The event as one line of JSON (no trailing newline).
    pub fn to_json_line(&self) -> String {
        // Serialising these plain types cannot fail; fall back to a valid JSON error object
        // rather than panic if a future field makes it possible.
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"type\":\"error\",\"message\":\"{e}\"}}"))
    }
}

/// The run as `netlab grade` reports it (one point per question, measured expectations at zero
/// points), so that a graded lab run and a graded exercise print the same `Points X/Y` line and
/// the same JUnit XML.
pub fn graded(report: &Report, suite: &str, title: &str) -> netlab_grade::Report {
    use netlab_grade::{CheckReport, Failure};
    let checks = report
        .events
        .iter()
        .filter_map(|event| match event {
            Event::Check { name, ok, detail } => {
                let outcome = if *ok {
                    Ok(())
                } else {
                    Err(Failure::new(detail.clone()))
                };
                Some(CheckReport::new(name, name, 0, outcome, 0.0))
            }
            Event::Answer {
                question,
                prompt,
                expected,
                given,
                correct,
                ..
            } => {
                let outcome = match (correct, given) {
                    (Some(true), _) => Ok(()),
                    (_, Some(given)) => Err(Failure::new(format!(
                        "answered {given:?}, expected {expected:?}"
                    ))),
                    (_, None) => Err(Failure::new(format!(
                        "no answer (add `{question} = ...` to the answers file)"
                    ))),
                };
                Some(CheckReport::new(question, prompt, 1, outcome, 0.0))
            }
            _ => None,
        })
        .collect();
    netlab_grade::Report {
        suite: suite.to_string(),
        title: title.to_string(),
        checks,
        seconds: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut r = Report::default();
        r.push(Event::Lab {
            lab: 1,
            title: "Layers".into(),
            mode: "ci",
            student: None,
            student_source: None,
        });
        r.push(Event::Measurement {
            name: "tcp.header_len".into(),
            value: 32.into(),
            unit: Some("bytes".into()),
        });
        r.push(Event::Check {
            name: "handshake has 3 packets".into(),
            ok: true,
            detail: "3".into(),
        });
        r.push(Event::Check {
            name: "udp header is 8 bytes".into(),
            ok: false,
            detail: "measured 9".into(),
        });
        r.push(Event::Answer {
            question: "q1".into(),
            prompt: "?".into(),
            expected: "32 bytes".into(),
            given: Some("32".into()),
            correct: Some(true),
            tries: 1,
        });
        r.push(Event::Answer {
            question: "q2".into(),
            prompt: "?".into(),
            expected: "8".into(),
            given: None,
            correct: None,
            tries: 0,
        });
        r.push(Event::Prediction {
            id: "predict-drops".into(),
            prompt: "How many?".into(),
            given: Some("0".into()),
            measured: 991.into(),
            unit: None,
        });
        r
    }

    #[test]
    fn summary_counts_checks_and_answers() {
        let s = sample().summary();
        assert_eq!(
            s,
            Summary {
                checks_passed: 1,
                checks_failed: 1,
                questions: 2,
                answered: 1,
                correct: 1,
                predictions: 1,
                predicted: 1,
                failed: vec!["udp header is 8 bytes".into()],
            }
        );
    }

    #[test]
    fn events_serialise_as_tagged_json_lines() {
        let r = sample();
        let lines: Vec<String> = r.events.iter().map(Event::to_json_line).collect();
        assert_eq!(
            lines[0],
            r#"{"type":"lab","lab":1,"title":"Layers","mode":"ci","student":null,"student_source":null}"#
        );
        assert_eq!(
            lines[1],
            r#"{"type":"measurement","name":"tcp.header_len","value":32,"unit":"bytes"}"#
        );
        assert_eq!(
            lines[5],
            r#"{"type":"answer","question":"q2","prompt":"?","expected":"8","given":null,"correct":null,"tries":0}"#
        );
        assert_eq!(
            lines[6],
            r#"{"type":"prediction","id":"predict-drops","prompt":"How many?","given":"0","measured":991,"unit":null}"#
        );
        let summary = Event::Summary(r.summary()).to_json_line();
        assert!(
            summary.starts_with(r#"{"type":"summary","checks_passed":1,"#),
            "{summary}"
        );
    }

    #[test]
    fn measurement_lookup_finds_the_latest_value() {
        let mut r = sample();
        r.push(Event::Measurement {
            name: "tcp.header_len".into(),
            value: 20.into(),
            unit: None,
        });
        assert_eq!(r.measurement("tcp.header_len"), Some(&20.into()));
        assert_eq!(r.measurement("nope"), None);
    }
}
