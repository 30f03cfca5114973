//! The flags every lab takes, shared by the lab binaries (`lab01 --ci`) and the main CLI
//! (`netlab lab run 1 --ci`), and the [`Mode`] they select.

use std::path::PathBuf;

/// Flags common to every lab. With none of them a lab is interactive.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct LabOptions {
    /// Run unattended: no prompts, every experiment run and every measured expectation checked;
    /// exit code 1 if any fails.
    #[arg(long)]
    pub ci: bool,
    /// Print a report instead of the guided text: one JSON object per line (measurements,
    /// checks, answers, then a summary). Without --answers it runs unattended like --ci.
    #[arg(long)]
    pub json: bool,
    /// A graded run: answers given ahead in FILE, one `question-id = answer` per line; exit code 3
    /// if any is wrong or missing.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Also write the run's checks and answers as JUnit XML to FILE (CI test reports), the
    /// format `netlab grade` writes; each answer is a test case worth one point.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Keep the lab's captures as pcap files in DIR, to open in Wireshark or `netlab inspect`.
    #[arg(long, value_name = "DIR")]
    pub pcap: Option<PathBuf>,
    /// Also write the lab's charts as SVG files in DIR (lab 07), large enough for a projector.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
    /// Do not capture live: show the captures this lab recorded earlier (labs/captures/).
    /// Also set by NETLAB_OFFLINE=1.
    #[arg(long)]
    pub offline: bool,
    /// The student whose variant to run: seeds, sizes and option orders derived from this id, so
    /// each student's answers differ. Without it: NETLAB_STUDENT, then GITHUB_ACTOR, then
    /// GITLAB_USER_LOGIN; with none, the shared practice variant.
    #[arg(long, value_name = "ID")]
    pub student: Option<String>,
}

/// How a run meets its questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A student at a keyboard: pauses after each explanation, asks, gives hints.
    Interactive,
    /// Unattended: questions are listed with their measured answers, nobody is asked.
    Ci,
    /// Unattended, answers from a file, graded.
    Graded,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Interactive => "interactive",
            Mode::Ci => "ci",
            Mode::Graded => "graded",
        }
    }
}

impl LabOptions {
    pub fn mode(&self) -> Mode {
        if self.answers.is_some() {
            Mode::Graded
        } else if self.ci || self.json {
            Mode::Ci
        } else {
            Mode::Interactive
        }
    }

    /// The student id from `--student` or the environment ([`crate::variant::ENV_VARS`]).
    pub fn student_id(&self) -> Option<crate::variant::StudentId> {
        crate::variant::StudentId::from_env(self.student.as_deref())
    }

    /// `--offline`, or NETLAB_OFFLINE set to anything but empty, `0` or `false`.
    pub fn offline(&self) -> bool {
        self.offline
            || std::env::var("NETLAB_OFFLINE")
                .is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_follows_the_flags() {
        let mut o = LabOptions::default();
        assert_eq!(o.mode(), Mode::Interactive);
        o.json = true;
        assert_eq!(o.mode(), Mode::Ci);
        o.answers = Some("a.txt".into());
        assert_eq!(o.mode(), Mode::Graded);
        let ci = LabOptions {
            ci: true,
            ..LabOptions::default()
        };
        assert_eq!(ci.mode(), Mode::Ci);
    }
}
