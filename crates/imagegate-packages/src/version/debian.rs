//! Debian version comparison (Debian policy §5.6.12), as dpkg implements it.
//!
//! A version is `[epoch:]upstream_version[-debian_revision]`. Epochs compare as numbers; the
//! upstream version and the revision compare by alternating runs: a run of non-digits, compared
//! character by character where `~` sorts before everything (even the end of the string), then
//! letters, then other characters; then a run of digits, compared as a number. A missing
//! revision equals `0`.

use std::cmp::Ordering;

/// A version split into its three parts.
struct DebianVersion<'a> {
    epoch: u64,
    upstream: &'a str,
    revision: &'a str,
}

/// Splits a version, or `None` when it is not a valid Debian version: an epoch that is not a
/// number, an empty upstream version or one not starting with a digit, or characters policy
/// does not allow.
fn parse(version: &str) -> Option<DebianVersion<'_>> {
    let version = version.trim();
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) => (epoch.parse::<u64>().ok()?, rest),
        None => (0, version),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((upstream, revision)) => (upstream, revision),
        None => (rest, ""),
    };
    let upstream_is_valid = upstream.starts_with(|character: char| character.is_ascii_digit())
        && upstream.chars().all(|character| character.is_ascii_alphanumeric() || ".+~-:".contains(character));
    let revision_is_valid = rest.rsplit_once('-').is_none_or(|_| !revision.is_empty())
        && revision.chars().all(|character| character.is_ascii_alphanumeric() || ".+~".contains(character));
    (upstream_is_valid && revision_is_valid).then_some(DebianVersion { epoch, upstream, revision })
}

/// Orders two Debian versions; `None` when either is not valid.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let a = parse(a)?;
    let b = parse(b)?;
    Some(
        a.epoch
            .cmp(&b.epoch)
            .then_with(|| compare_part(a.upstream, b.upstream))
            .then_with(|| compare_part(a.revision, b.revision)),
    )
}

/// The weight of one character in a non-digit run: `~` below the end of the string (0), letters
/// above it, everything else above letters.
fn weight(character: Option<u8>) -> i32 {
    match character {
        None => 0,
        Some(b'~') => -1,
        Some(character) if character.is_ascii_alphabetic() => i32::from(character),
        Some(character) => i32::from(character) + 256,
    }
}

/// dpkg's `verrevcmp`.
fn compare_part(a: &str, b: &str) -> Ordering {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // A run of non-digits.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let left = weight(a.get(i).copied().filter(|byte| !byte.is_ascii_digit()));
            let right = weight(b.get(j).copied().filter(|byte| !byte.is_ascii_digit()));
            if left != right {
                return left.cmp(&right);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        // A run of digits, as a number: skip leading zeros, then the longer run is larger, and
        // runs of equal length compare by their first differing digit.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_difference = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_difference == Ordering::Equal {
                first_difference = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_difference != Ordering::Equal {
            return first_difference;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    /// Pairs checked against `dpkg --compare-versions` (dpkg 1.21): the classic vectors of
    /// policy §5.6.12 and dpkg's own test suite.
    const VECTORS: &[(&str, &str, Ordering)] = &[
        ("1.0~rc1", "1.0", Less),
        ("1.0~rc1", "1.0~rc2", Less),
        ("1.0~~", "1.0~", Less),
        ("1.0~", "1.0", Less),
        ("1.0", "1.0+b1", Less),
        ("1:0.1", "2.0", Greater),
        ("1.0-1", "1.0-1+b1", Less),
        ("1.0-1", "1.0-1.1", Less),
        ("1.0-1", "1.0-2", Less),
        ("1.0-1~bpo1", "1.0-1", Less),
        ("1.0", "1.0-0", Equal),
        ("0:1.0", "1.0", Equal),
        ("1.0a", "1.0", Greater),
        ("1.0a", "1.0+", Less),
        ("1.0.1", "1.0a", Greater),
        ("1.10", "1.9", Greater),
        ("1.001", "1.1", Equal),
        ("2.36-9+deb12u14", "2.36-9+deb12u9", Greater),
        ("3.0.19-1~deb12u2", "3.0.19-1", Less),
        ("1:1.2.13.dfsg-1", "1.2.13.dfsg-1", Greater),
        ("7.88.1-10+deb12u12", "7.88.1-10+deb12u5", Greater),
        ("2.30-1ubuntu1", "2.30-1", Greater),
        ("1.2.3-1-2", "1.2.3-1-1", Greater),
        ("2025b-0+deb12u2", "2025a-0+deb12u1", Greater),
        ("1.0", "1.0", Equal),
    ];

    #[test]
    fn agrees_with_dpkg_on_the_classic_vectors() {
        for (a, b, expected) in VECTORS {
            assert_eq!(compare(a, b), Some(*expected), "{a} vs {b}");
            assert_eq!(compare(b, a), Some(expected.reverse()), "{b} vs {a}");
        }
    }

    #[test]
    fn rejects_invalid_versions() {
        for invalid in ["", "a1.0", "x:1.0", "1.0-", "1.0 beta", "1.0_1", "-1"] {
            assert_eq!(compare(invalid, "1.0"), None, "{invalid:?}");
        }
    }
}
