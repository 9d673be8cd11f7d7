//! RubyGems version comparison (`Gem::Version#<=>`).
//!
//! A version is numbers and letters separated by dots (`3.0.8`, `7.1.0.rc2`); a `-` stands for
//! `.pre.` (`1.0-beta` is `1.0.pre.beta`). The version splits into segments: each run of digits
//! is a number, each run of letters a string. Trailing zeros are dropped from the release part
//! and from the prerelease part, which starts at the first string (`1.0.a.0` is `1.a`).
//! Segments compare pairwise, a missing one counting as 0: numbers as numbers, strings as
//! strings, and a string before any number, so a prerelease sorts before its release
//! (`1.0.a` < `1.0`).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Number(u64),
    Text(String),
}

impl Segment {
    fn compare(&self, other: &Segment) -> Ordering {
        match (self, other) {
            (Segment::Number(left), Segment::Number(right)) => left.cmp(right),
            (Segment::Text(left), Segment::Text(right)) => left.cmp(right),
            (Segment::Text(_), Segment::Number(_)) => Ordering::Less,
            (Segment::Number(_), Segment::Text(_)) => Ordering::Greater,
        }
    }
}

/// Whether RubyGems accepts the version: a number first, then dot-separated alphanumeric parts,
/// then an optional `-` part.
fn is_valid(version: &str) -> bool {
    let (release, prerelease) = match version.split_once('-') {
        Some((release, prerelease)) => (release, Some(prerelease)),
        None => (version, None),
    };
    let mut parts = release.split('.');
    let first_is_number =
        parts.next().is_some_and(|first| !first.is_empty() && first.bytes().all(|byte| byte.is_ascii_digit()));
    let rest_are_alphanumeric =
        parts.all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_alphanumeric()));
    let prerelease_is_valid = prerelease.is_none_or(|prerelease| {
        prerelease
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-'))
    });
    first_is_number && rest_are_alphanumeric && prerelease_is_valid
}

/// The canonical segments `Gem::Version` compares.
fn canonical_segments(version: &str) -> Vec<Segment> {
    let version = version.replace('-', ".pre.");
    let mut segments = Vec::new();
    let bytes = version.as_bytes();
    let mut position = 0;
    while position < bytes.len() {
        let start = position;
        if bytes[position].is_ascii_digit() {
            while position < bytes.len() && bytes[position].is_ascii_digit() {
                position += 1;
            }
            let digits = &version[start..position];
            // RubyGems has big integers; a number too large for u64 is at least u64::MAX.
            segments.push(Segment::Number(digits.parse().unwrap_or(u64::MAX)));
        } else if bytes[position].is_ascii_alphabetic() {
            while position < bytes.len() && bytes[position].is_ascii_alphabetic() {
                position += 1;
            }
            segments.push(Segment::Text(version[start..position].to_owned()));
        } else {
            position += 1;
        }
    }
    let split = segments.iter().position(|segment| matches!(segment, Segment::Text(_))).unwrap_or(segments.len());
    let mut prerelease = segments.split_off(split);
    let mut release = segments;
    for part in [&mut release, &mut prerelease] {
        while part.last() == Some(&Segment::Number(0)) {
            part.pop();
        }
    }
    release.extend(prerelease);
    release
}

/// Orders two gem versions; `None` when either is not a valid `Gem::Version`.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (a.trim(), b.trim());
    if !is_valid(a) || !is_valid(b) {
        return None;
    }
    let left = canonical_segments(a);
    let right = canonical_segments(b);
    let zero = Segment::Number(0);
    for index in 0..left.len().max(right.len()) {
        let ordering = left.get(index).unwrap_or(&zero).compare(right.get(index).unwrap_or(&zero));
        if ordering != Ordering::Equal {
            return Some(ordering);
        }
    }
    Some(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    /// Pairs from RubyGems' own tests of `Gem::Version#<=>` and real gem releases, each as
    /// RubyGems 3.3 orders it.
    const VECTORS: &[(&str, &str, Ordering)] = &[
        ("1.0", "1.0.0", Equal),
        ("1.0", "1.0.a", Greater),
        ("1.8.2", "0.0.0", Greater),
        ("1.8.2", "1.8.2.a", Greater),
        ("1.8.2.b", "1.8.2.a", Greater),
        ("1.8.2.a", "1.8.2", Less),
        ("1.8.2.a10", "1.8.2.a9", Greater),
        ("0.beta.1", "0.0.beta.1", Equal),
        ("0.0.beta", "0.0.beta.1", Less),
        ("0.0.beta", "0.beta.1", Less),
        ("5.a", "5.0.0.rc2", Less),
        ("5.x", "5.0.0.rc2", Greater),
        ("1.0-beta", "1.0.pre.beta", Equal),
        ("1.0-beta", "1.0", Less),
        ("3.0.8", "2.2.8", Greater),
        ("7.1.0.rc2", "7.1.0", Less),
        ("7.1.0.rc2", "7.1.0.rc10", Less),
        ("1.15.4", "1.15.10", Less),
    ];

    #[test]
    fn agrees_with_rubygems() {
        for (a, b, expected) in VECTORS {
            assert_eq!(compare(a, b), Some(*expected), "{a} vs {b}");
            assert_eq!(compare(b, a), Some(expected.reverse()), "{b} vs {a}");
        }
    }

    #[test]
    fn rejects_invalid_versions() {
        for invalid in ["", "junk", "1.0\n2.0", "1..2", ".1", "1.2 3", "-1"] {
            assert_eq!(compare(invalid, "1.0"), None, "{invalid:?}");
        }
    }
}
