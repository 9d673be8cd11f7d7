//! RPM version comparison: `[epoch:]version-release`, each of version and release compared by
//! rpm's `rpmvercmp` (rpm 4.15 and later, with `~` and `^`).
//!
//! `rpmvercmp` splits a string into runs of digits and runs of letters, skipping every other
//! character as a separator. Runs compare pairwise: numbers as numbers, letters as strings, and a
//! number is newer than letters. `~` sorts before everything, the end included (`1.0~rc1` <
//! `1.0`); `^` sorts after the end but before anything else (`1.0` < `1.0^git1` < `1.0.1`). A
//! missing epoch is 0 and a missing release is empty, older than any release, as `rpm.vercmp`
//! has it (installed packages always have both).

use std::cmp::Ordering;

struct Evr<'a> {
    epoch: u64,
    version: &'a str,
    release: Option<&'a str>,
}

fn parse(text: &str) -> Option<Evr<'_>> {
    let text = text.trim();
    let (epoch, rest) = match text.split_once(':') {
        Some((epoch, rest)) => (epoch.parse::<u64>().ok()?, rest),
        None => (0, text),
    };
    let (version, release) = match rest.rsplit_once('-') {
        Some((version, release)) => (version, Some(release)),
        None => (rest, None),
    };
    let is_valid =
        |part: &str| !part.is_empty() && part.chars().all(|character| character.is_ascii_graphic() && character != ':');
    (is_valid(version) && release.is_none_or(is_valid)).then_some(Evr { epoch, version, release })
}

/// Orders two `[epoch:]version[-release]` strings; `None` when either is malformed (an epoch
/// that is not a number, an empty version or release, whitespace).
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let a = parse(a)?;
    let b = parse(b)?;
    Some(
        a.epoch
            .cmp(&b.epoch)
            .then_with(|| rpmvercmp(a.version, b.version))
            .then_with(|| rpmvercmp(a.release.unwrap_or_default(), b.release.unwrap_or_default())),
    )
}

fn is_separator(byte: u8) -> bool {
    !byte.is_ascii_alphanumeric() && byte != b'~' && byte != b'^'
}

/// rpm's `rpmvercmp` (lib/rpmvercmp.c).
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0, 0);
    loop {
        while i < a.len() && is_separator(a[i]) {
            i += 1;
        }
        while j < b.len() && is_separator(b[j]) {
            j += 1;
        }
        let left = a.get(i).copied();
        let right = b.get(j).copied();
        // A tilde sorts before everything, the end of the string included.
        if left == Some(b'~') || right == Some(b'~') {
            if left != Some(b'~') {
                return Ordering::Greater;
            }
            if right != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // A caret sorts after the end of the string but before anything else.
        if left == Some(b'^') || right == Some(b'^') {
            if left.is_none() {
                return Ordering::Less;
            }
            if right.is_none() {
                return Ordering::Greater;
            }
            if left != Some(b'^') {
                return Ordering::Greater;
            }
            if right != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(first), Some(_)) = (left, right) else {
            break;
        };
        let is_numeric = first.is_ascii_digit();
        let in_run = |byte: &u8| {
            if is_numeric { byte.is_ascii_digit() } else { byte.is_ascii_alphabetic() }
        };
        let run_end =
            |bytes: &[u8], start: usize| start + bytes[start..].iter().take_while(|byte| in_run(byte)).count();
        let (a_end, b_end) = (run_end(a, i), run_end(b, j));
        if b_end == j {
            // The runs are of different kinds: a number is newer than letters.
            return if is_numeric { Ordering::Greater } else { Ordering::Less };
        }
        let (mut left_run, mut right_run) = (&a[i..a_end], &b[j..b_end]);
        let ordering = if is_numeric {
            while left_run.first() == Some(&b'0') {
                left_run = &left_run[1..];
            }
            while right_run.first() == Some(&b'0') {
                right_run = &right_run[1..];
            }
            left_run.len().cmp(&right_run.len()).then_with(|| left_run.cmp(right_run))
        } else {
            left_run.cmp(right_run)
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
        i = a_end;
        j = b_end;
    }
    match (i < a.len(), j < b.len()) {
        (false, false) => Ordering::Equal,
        (true, _) => Ordering::Greater,
        (false, true) => Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    /// From rpm's own test suite (tests/rpmvercmp.at); rpm 4.18 orders each pair so.
    const RPMVERCMP_VECTORS: &[(&str, &str, Ordering)] = &[
        ("1.0", "1.0", Equal),
        ("1.0", "2.0", Less),
        ("2.0.1", "2.0.1", Equal),
        ("2.0", "2.0.1", Less),
        ("2.0.1a", "2.0.1a", Equal),
        ("2.0.1a", "2.0.1", Greater),
        ("5.5p1", "5.5p1", Equal),
        ("5.5p1", "5.5p2", Less),
        ("5.5p10", "5.5p1", Greater),
        ("10xyz", "10.1xyz", Less),
        ("xyz10", "xyz10", Equal),
        ("xyz10", "xyz10.1", Less),
        ("xyz.4", "8", Less),
        ("xyz.4", "2", Less),
        ("5.5p2", "5.6p1", Less),
        ("5.6p1", "6.5p1", Less),
        ("6.0.rc1", "6.0", Greater),
        ("10b2", "10a1", Greater),
        ("1.0aa", "1.0a", Greater),
        ("10.0001", "10.1", Equal),
        ("10.0001", "10.0039", Less),
        ("4.999.9", "5.0", Less),
        ("20101121", "20101122", Less),
        ("2_0", "2_0", Equal),
        ("2.0", "2_0", Equal),
        ("a", "a", Equal),
        ("a+", "a_", Equal),
        ("+", "_", Equal),
        ("1.0~rc1", "1.0~rc1", Equal),
        ("1.0~rc1", "1.0", Less),
        ("1.0~rc1", "1.0~rc2", Less),
        ("1.0~rc1~git123", "1.0~rc1", Less),
        ("1.0^", "1.0^", Equal),
        ("1.0^", "1.0", Greater),
        ("1.0^git1", "1.0", Greater),
        ("1.0^git1", "1.0^git2", Less),
        ("1.0^git1", "1.01", Less),
        ("1.0^20160101", "1.0.1", Less),
        ("1.0^20160101^git1", "1.0^20160101", Greater),
        ("1.0~rc1^git1", "1.0~rc1", Greater),
        ("1.0^git1~pre", "1.0^git1", Less),
    ];

    #[test]
    fn agrees_with_rpms_test_suite() {
        for (a, b, expected) in RPMVERCMP_VECTORS {
            assert_eq!(rpmvercmp(a, b), *expected, "{a} vs {b}");
        }
    }

    #[test]
    fn compares_epoch_then_version_then_release() {
        assert_eq!(compare("1:1.0-1", "2.0-1"), Some(Greater));
        assert_eq!(compare("0:1.0-1", "1.0-1"), Some(Equal));
        assert_eq!(compare("3.2.2-3.fc40", "3.2.2-10.fc40"), Some(Less));
        assert_eq!(compare("2:0.9~rc1-1.el9", "2:0.9-1.el9"), Some(Less));
        assert_eq!(compare("1.0", "1.0-5"), Some(Less));
        assert_eq!(compare("x:1.0-1", "1.0-1"), None);
        assert_eq!(compare("1.0-", "1.0-1"), None);
    }
}
