//! Alpine's package database: `lib/apk/db/installed`.
//!
//! One block of `X:value` lines per installed package, blocks separated by a blank line; the
//! letter says what the line holds (`P` name, `V` version, `A` architecture, `F`/`R` the files,
//! …). Only `P` and `V` are read.

use crate::model::{Ecosystem, Package};

/// What the database held.
#[derive(Debug, Default)]
pub(crate) struct ApkRead {
    pub packages: Vec<Package>,
    /// Blocks without a `P:` or `V:` line.
    pub incomplete_blocks: usize,
}

pub(crate) fn read_installed(text: &str) -> ApkRead {
    let mut read = ApkRead::default();
    let mut name: Option<&str> = None;
    let mut version: Option<&str> = None;
    let mut block_has_lines = false;
    // A final empty line closes the last block even when the file lacks its trailing newline.
    for line in text.lines().chain(std::iter::once("")) {
        let line = line.trim_end();
        if line.is_empty() {
            if block_has_lines {
                match (name.take(), version.take()) {
                    (Some(name), Some(version)) => read.packages.push(Package {
                        ecosystem: Ecosystem::Apk,
                        name: name.to_owned(),
                        version: version.to_owned(),
                        location: String::new(),
                        modules: Vec::new(),
                    }),
                    _ => read.incomplete_blocks += 1,
                }
            }
            name = None;
            version = None;
            block_has_lines = false;
            continue;
        }
        block_has_lines = true;
        if let Some(value) = line.strip_prefix("P:") {
            name = Some(value).filter(|value| !value.is_empty());
        } else if let Some(value) = line.strip_prefix("V:") {
            version = Some(value).filter(|value| !value.is_empty());
        }
    }
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two packages written in the database's documented format, with the fields an Alpine 3.19
    /// image records (the checksums are placeholders).
    const ALPINE_INSTALLED: &str = "\
C:Q1Kkr8ZCXq9nXi8mdhGGBUxEHLn5Q=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1701862014
c:ca7f2ab5e88794e4e654b40776f8a92256f50639
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1bJS3g1T4jtH8sOUFQkMf8JEoOy8=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1JcOh1u0SKHbDQySZnDaF8r9GxlA=
P:ca-certificates-bundle
V:20240226-r0
A:x86_64
S:126063
I:228864
T:Pre generated bundle of Mozilla certificates
U:https://www.mozilla.org/en-US/about/governance/policies/security-group/certs/
L:MPL-2.0 AND MIT
o:ca-certificates
m:Natanael Copa <ncopa@alpinelinux.org>
t:1709097786
c:25b9e9b4a1fd8b9b6a4fc8a3e9a17e3d3a7d5e13
F:etc
F:etc/ssl
F:etc/ssl/certs
R:ca-certificates.crt
a:0:0:644
Z:Q1pt3kxfnBVrHuvlWEM6ooPaPm1IM=
";

    #[test]
    fn reads_an_alpine_database() {
        let read = read_installed(ALPINE_INSTALLED);
        assert_eq!(read.incomplete_blocks, 0);
        let listed: Vec<_> =
            read.packages.iter().map(|package| (package.name.as_str(), package.version.as_str())).collect();
        assert_eq!(listed, [("musl", "1.2.4_git20230717-r4"), ("ca-certificates-bundle", "20240226-r0")]);
    }

    #[test]
    fn reads_the_last_block_without_a_trailing_newline() {
        let read = read_installed("P:busybox\nV:1.36.1-r15");
        assert_eq!(read.packages.len(), 1);
        assert_eq!(read.packages[0].version, "1.36.1-r15");
    }

    #[test]
    fn counts_blocks_without_a_name_or_version() {
        let read = read_installed("P:busybox\n\n\nV:1.0-r0\nA:x86_64\n");
        assert!(read.packages.is_empty());
        assert_eq!(read.incomplete_blocks, 2);
    }
}
