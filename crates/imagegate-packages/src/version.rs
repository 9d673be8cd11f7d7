//! Version ordering, by each ecosystem's own rules.
//!
//! | ecosystem | rules | implementation |
//! |---|---|---|
//! | deb | Debian policy §5.6.12 (`epoch:upstream-revision`, `~` before anything) | [`debian`] |
//! | apk | apk-tools' rules, common subset (`1.2.3a_rc1-r0`) | [`apk`] |
//! | rpm | rpm's `rpmvercmp` on `[epoch:]version-release` (`~` and `^`) | [`rpm`] |
//! | python | PEP 440 | the `pep440_rs` crate |
//! | npm | semantic versioning 2.0 precedence (build metadata ignored) | the `semver` crate |
//! | gem | RubyGems' `Gem::Version` | [`gem`] |
//!
//! Every comparison is a total order on the versions it accepts; a version its rules reject
//! makes the pair incomparable (`None`), never guessed.

pub mod apk;
pub mod debian;
pub mod gem;
pub mod rpm;

use std::cmp::Ordering;
use std::str::FromStr;

use crate::model::Ecosystem;

/// Orders two versions of one package by `ecosystem`'s rules. `None` when either version is
/// not valid there. `Some(Equal)` may hold for different spellings of one version (`1.0` and
/// `1.0.0` in Python, build metadata in npm).
pub fn compare_versions(ecosystem: Ecosystem, a: &str, b: &str) -> Option<Ordering> {
    match ecosystem {
        Ecosystem::Deb => debian::compare(a, b),
        Ecosystem::Apk => apk::compare(a, b),
        Ecosystem::Rpm => rpm::compare(a, b),
        Ecosystem::Python => {
            let a = pep440_rs::Version::from_str(a).ok()?;
            let b = pep440_rs::Version::from_str(b).ok()?;
            Some(a.cmp(&b))
        }
        Ecosystem::Npm => {
            let a = parse_npm_version(a)?;
            let b = parse_npm_version(b)?;
            Some(a.cmp_precedence(&b))
        }
        Ecosystem::Gem => gem::compare(a, b),
    }
}

/// npm tolerates a leading `v` or `=` in installed versions (`v1.2.3`); semver does not.
fn parse_npm_version(version: &str) -> Option<semver::Version> {
    let version = version.trim();
    let version = version.strip_prefix('=').unwrap_or(version).trim_start_matches('v');
    semver::Version::parse(version).ok()
}

/// The first number of a version after any epoch (`2` in `1:2.36-9`, `3` in `1!3.0`): what a
/// major release changes. `None` when the version does not start with a number.
pub(crate) fn major_number(version: &str) -> Option<u64> {
    let mut rest = version.trim().trim_start_matches(['v', '=']);
    if let Some(position) = rest.find([':', '!'])
        && rest[..position].bytes().all(|byte| byte.is_ascii_digit())
    {
        rest = &rest[position + 1..];
    }
    let digits: &str = &rest[..rest.find(|character: char| !character.is_ascii_digit()).unwrap_or(rest.len())];
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn orders_python_versions_by_pep_440() {
        let ascending = [
            "1.0.dev0",
            "1.0a1",
            "1.0a2.dev1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local.1",
            "1.0.post1",
            "1.1",
            "2.0",
            "1!0.1",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(compare_versions(Ecosystem::Python, pair[0], pair[1]), Some(Less), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(compare_versions(Ecosystem::Python, "1.0", "1.0.0"), Some(Equal));
        assert_eq!(compare_versions(Ecosystem::Python, "2.1", "2.0.1"), Some(Greater));
        assert_eq!(compare_versions(Ecosystem::Python, "1.0", "not a version"), None);
    }

    #[test]
    fn orders_npm_versions_by_semver_precedence() {
        let ascending = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.10.0",
            "2.0.0",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(compare_versions(Ecosystem::Npm, pair[0], pair[1]), Some(Less), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(compare_versions(Ecosystem::Npm, "1.0.0+build.1", "1.0.0"), Some(Equal));
        assert_eq!(compare_versions(Ecosystem::Npm, "v2.0.0", "1.9.9"), Some(Greater));
        assert_eq!(compare_versions(Ecosystem::Npm, "1.0", "1.0.0"), None);
    }

    #[test]
    fn finds_the_major_number_after_an_epoch() {
        assert_eq!(major_number("1:2.36-9"), Some(2));
        assert_eq!(major_number("1!3.0"), Some(3));
        assert_eq!(major_number("v10.4.5"), Some(10));
        assert_eq!(major_number("2025b-0+deb12u2"), Some(2025));
        assert_eq!(major_number("git"), None);
    }

    /// Version-like strings of each ecosystem's grammar, invalid ones included: a comparison
    /// must be a total order wherever it is defined.
    fn versions(ecosystem: Ecosystem) -> &'static str {
        match ecosystem {
            Ecosystem::Deb => r"([0-2]:)?[0-9][0-9a-c.+~]{0,6}(-[0-9a-c.+~]{1,4})?",
            Ecosystem::Apk => {
                r"[0-9]{1,2}(\.0?[0-9]{1,2}){0,3}[a-c]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]{0,2}){0,2}(-r[0-9]{1,2})?"
            }
            Ecosystem::Rpm => r"([0-2]:)?[0-9a-c][0-9a-c.~^_+]{0,6}(-[0-9a-c.~^]{1,4})?",
            Ecosystem::Python => {
                r"([0-2]!)?[0-9]{1,2}(\.[0-9]{1,2}){0,2}((a|b|rc)[0-9])?(\.post[0-9])?(\.dev[0-9])?(\+[a-z0-9]{1,3}(\.[0-9]{1,2})?)?"
            }
            Ecosystem::Npm => {
                r"v?[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}(-[0-9a-z]{1,3}(\.[0-9a-z]{1,3}){0,2})?(\+[0-9a-z]{1,3})?"
            }
            Ecosystem::Gem => r"[0-9]{1,2}(\.[0-9a-c]{1,2}){0,3}(-[0-9a-c]{1,2})?",
        }
    }

    fn check_total_order(ecosystem: Ecosystem, a: &str, b: &str, c: &str) -> Result<(), TestCaseError> {
        let compare = |left: &str, right: &str| compare_versions(ecosystem, left, right);
        for version in [a, b, c] {
            if let Some(ordering) = compare(version, version) {
                prop_assert_eq!(ordering, Equal, "{} is not equal to itself", version);
            }
        }
        for (left, right) in [(a, b), (b, c), (a, c)] {
            prop_assert_eq!(
                compare(left, right),
                compare(right, left).map(Ordering::reverse),
                "{} and {} are not antisymmetric",
                left,
                right
            );
        }
        // Every arrangement of the three, so that each chain is checked.
        for (x, y, z) in [(a, b, c), (a, c, b), (b, a, c), (b, c, a), (c, a, b), (c, b, a)] {
            if let (Some(first), Some(second), Some(overall)) = (compare(x, y), compare(y, z), compare(x, z)) {
                if first != Greater && second != Greater {
                    prop_assert_ne!(overall, Greater, "{} <= {} <= {} but {} > {}", x, y, z, x, z);
                }
                if first == Equal && second == Equal {
                    prop_assert_eq!(overall, Equal, "{} == {} == {} but {} != {}", x, y, z, x, z);
                }
            }
        }
        Ok(())
    }

    macro_rules! total_order_property {
        ($test:ident, $ecosystem:expr) => {
            proptest! {
                #![proptest_config(ProptestConfig::with_cases(3000))]
                #[test]
                fn $test(
                    a in versions($ecosystem),
                    b in versions($ecosystem),
                    c in versions($ecosystem),
                ) {
                    check_total_order($ecosystem, &a, &b, &c)?;
                }
            }
        };
    }

    total_order_property!(debian_versions_are_totally_ordered, Ecosystem::Deb);
    total_order_property!(apk_versions_are_totally_ordered, Ecosystem::Apk);
    total_order_property!(rpm_versions_are_totally_ordered, Ecosystem::Rpm);
    total_order_property!(python_versions_are_totally_ordered, Ecosystem::Python);
    total_order_property!(npm_versions_are_totally_ordered, Ecosystem::Npm);
    total_order_property!(gem_versions_are_totally_ordered, Ecosystem::Gem);
}
