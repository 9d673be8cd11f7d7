//! Alpine (apk) version comparison, for the versions Alpine's packages use:
//! `<digits>{.<digits>}[<letter>]{_<suffix>[<digits>]}[-r<digits>]`, for example `1.2.3`,
//! `1.2.3a`, `1.2.4_git20230717-r4`, `3.0_rc1-r0`.
//!
//! The rules are apk-tools' (Gentoo's): the version is read as a sequence of tokens, compared
//! pairwise.
//! - The first number and the revision compare as numbers.
//! - A number after a `.` that starts with zeros compares as a fraction would: `1.01` < `1.1`,
//!   and `1.001` < `1.01`.
//! - A letter after a number compares alphabetically.
//! - Suffixes rank `_alpha` < `_beta` < `_pre` < `_rc` < (none) < `_cvs` < `_svn` < `_git` <
//!   `_hg` < `_p`, each followed by an optional number.
//! - When one version has more tokens, it is newer (`1.2.1` > `1.2`), unless what it has more
//!   of is a pre-release suffix (`1.2_rc1` < `1.2`); between different kinds of extra token,
//!   a further version component beats a letter, which beats a suffix, which beats a revision:
//!   `1.2-r1` < `1.2a` < `1.2.1`.
//!
//! Versions outside this grammar (a commit hash after `~`, upper-case letters, an unknown
//! suffix) are not compared.

use std::cmp::Ordering;

/// What a token is; the order matters: when two versions agree up to tokens of different kinds,
/// the version whose next token is of the lower kind is newer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// A number after a `.`, which may start with zeros.
    Component,
    /// The first number, or the digits after a zero-led component or a letter.
    Number,
    Letter,
    Suffix,
    SuffixNumber,
    Revision,
    End,
}

const PRE_RELEASE_SUFFIXES: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_RELEASE_SUFFIXES: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token {
    kind: Kind,
    value: i64,
}

/// Reads a version into tokens ending with an [`Kind::End`] token, or `None` when it is outside
/// the grammar.
fn tokenize(version: &str) -> Option<Vec<Token>> {
    let bytes = version.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut tokens = Vec::new();
    let mut kind = Kind::Number;
    let mut position = 0;
    loop {
        let rest = &bytes[position..];
        let digits = |rest: &[u8]| rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
        let number = |digits: &[u8]| {
            digits.iter().fold(0i64, |value, digit| value.saturating_mul(10).saturating_add(i64::from(digit - b'0')))
        };
        // A zero-led component is read as its count of zeros (negated, so that more zeros is
        // smaller), and the digits after them as a number token of their own.
        let mut next_is_number = false;
        let (value, length) = match kind {
            Kind::Component if rest.first() == Some(&b'0') => {
                let zeros = rest.iter().take_while(|byte| **byte == b'0').count();
                next_is_number = true;
                (-(zeros as i64), zeros)
            }
            Kind::Component | Kind::Number | Kind::SuffixNumber | Kind::Revision => {
                let length = digits(rest);
                (number(&rest[..length]), length)
            }
            Kind::Letter => (i64::from(rest[0]), 1),
            Kind::Suffix => suffix(rest)?,
            Kind::End => break,
        };
        tokens.push(Token { kind, value });
        position += length;
        if position == bytes.len() {
            kind = Kind::End;
            continue;
        }
        if next_is_number {
            kind = Kind::Number;
            continue;
        }
        let next = bytes[position];
        let (next_kind, separator_length) = match (kind, next) {
            (Kind::Number | Kind::Component, b'a'..=b'z') => (Kind::Letter, 0),
            (Kind::Letter, b'0'..=b'9') => (Kind::Number, 0),
            (Kind::Suffix, b'0'..=b'9') => (Kind::SuffixNumber, 0),
            (_, b'.') => (Kind::Component, 1),
            (_, b'_') => (Kind::Suffix, 1),
            (_, b'-') if bytes.get(position + 1) == Some(&b'r') => (Kind::Revision, 2),
            _ => return None,
        };
        // Tokens come in grammar order; going back is allowed only for a further component after
        // a number, a further suffix after a suffix's number, and a number after a letter.
        let allowed_back = matches!(
            (kind, next_kind),
            (Kind::Number, Kind::Component) | (Kind::SuffixNumber, Kind::Suffix) | (Kind::Letter, Kind::Number)
        );
        if next_kind < kind && !allowed_back {
            return None;
        }
        // A revision needs its number; other kinds may read no digits (`1.2_rc` is `_rc0`).
        if next_kind == Kind::Revision && !bytes.get(position + separator_length).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        kind = next_kind;
        position += separator_length;
    }
    tokens.push(Token { kind: Kind::End, value: 0 });
    Some(tokens)
}

/// The rank of the suffix at the start of `rest` (pre-release suffixes negative) and its length.
fn suffix(rest: &[u8]) -> Option<(i64, usize)> {
    let pre = PRE_RELEASE_SUFFIXES.iter().position(|suffix| rest.starts_with(suffix.as_bytes()));
    if let Some(index) = pre {
        let rank = index as i64 - PRE_RELEASE_SUFFIXES.len() as i64;
        return Some((rank, PRE_RELEASE_SUFFIXES[index].len()));
    }
    POST_RELEASE_SUFFIXES
        .iter()
        .position(|suffix| rest.starts_with(suffix.as_bytes()))
        .map(|index| (index as i64, POST_RELEASE_SUFFIXES[index].len()))
}

/// Orders two apk versions; `None` when either is outside the grammar.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let a = tokenize(a.trim())?;
    let b = tokenize(b.trim())?;
    for (left, right) in a.iter().zip(&b) {
        if left.kind != right.kind {
            // One version goes on where the other has another kind of token (or has ended).
            if left.kind == Kind::Suffix && left.value < 0 {
                return Some(Ordering::Less);
            }
            if right.kind == Kind::Suffix && right.value < 0 {
                return Some(Ordering::Greater);
            }
            return Some(right.kind.cmp(&left.kind));
        }
        match left.value.cmp(&right.value) {
            Ordering::Equal if left.kind == Kind::End => return Some(Ordering::Equal),
            Ordering::Equal => {}
            unequal => return Some(unequal),
        }
    }
    // Both token lists end with an End token, so the loop returns before running out.
    Some(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    /// Pairs ordered by apk-tools' rules; the longer versions are real Alpine package versions.
    const VECTORS: &[(&str, &str, Ordering)] = &[
        ("1.2.3-r0", "1.2.3-r1", Less),
        ("1.2.3-r1", "1.2.3-r0", Greater),
        ("1.2.3", "1.2.3-r0", Less),
        ("1.2.3-r10", "1.2.3-r9", Greater),
        ("1.2.3", "1.2.4", Less),
        ("1.10", "1.9", Greater),
        ("1.2", "1.2.1", Less),
        ("1.2_rc1", "1.2", Less),
        ("1.2_rc1", "1.2_rc2", Less),
        ("1.2_beta3", "1.2_rc1", Less),
        ("1.2_alpha", "1.2_beta", Less),
        ("1.2_pre1", "1.2_rc1", Less),
        ("1.2_p1", "1.2", Greater),
        ("1.2_git20230101", "1.2", Greater),
        ("1.2_git20230101", "1.2_p1", Less),
        ("1.2a", "1.2", Greater),
        ("1.2a", "1.2b", Less),
        ("1.2a", "1.2.1", Less),
        ("1.2-r1", "1.2a", Less),
        ("1.01", "1.1", Less),
        ("1.001", "1.01", Less),
        ("1.0", "1.00", Greater),
        ("1.2.4_git20230717-r4", "1.2.4_git20230717-r3", Greater),
        ("1.2.4_git20230717-r4", "1.2.5-r0", Less),
        ("20240226-r0", "20230506-r0", Greater),
        ("3.0.12-r4", "3.1.4-r5", Less),
        ("1.36.1-r15", "1.36.1-r15", Equal),
    ];

    #[test]
    fn orders_the_versions_alpine_uses() {
        for (a, b, expected) in VECTORS {
            assert_eq!(compare(a, b), Some(*expected), "{a} vs {b}");
            assert_eq!(compare(b, a), Some(expected.reverse()), "{b} vs {a}");
        }
    }

    #[test]
    fn rejects_versions_outside_the_grammar() {
        for invalid in ["", "r1", "1.2-1", "1.2-r", "1.2_foo", "1.2A", "1.2ab", "1.2-r1.3", "1.2~abc"] {
            assert_eq!(compare(invalid, "1.0"), None, "{invalid:?}");
        }
    }
}
