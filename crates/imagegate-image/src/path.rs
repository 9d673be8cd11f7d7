//! Paths inside an image: the one normal form every other module compares (relative,
//! `/`-separated, no `.` or empty components), and the compact fingerprints a layer keeps of
//! every path it touches.

use std::hash::{DefaultHasher, Hash, Hasher};

/// A path component of `..`: paths that contain one are refused, never interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParentComponent;

/// Brings a tar entry's name into normal form: `./usr//lib/` becomes `usr/lib`. Returns
/// `Ok(None)` for the root itself (`./`, `/`), and an error for any `..` component: nothing is
/// ever written to disk, but a path that climbs could still alias another one.
pub(crate) fn normalise(raw: &[u8]) -> Result<Option<String>, ParentComponent> {
    let text = String::from_utf8_lossy(raw);
    let mut normal = String::with_capacity(text.len());
    for component in text.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err(ParentComponent),
            name => {
                if !normal.is_empty() {
                    normal.push('/');
                }
                normal.push_str(name);
            }
        }
    }
    Ok(if normal.is_empty() { None } else { Some(normal) })
}

/// The folder that holds `path`, or `""` for the root.
pub(crate) fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |index| &path[..index])
}

/// The last component of `path`.
pub(crate) fn file_name(path: &str) -> &str {
    path.rfind('/').map_or(path, |index| &path[index + 1..])
}

/// `folder/name`, or `name` when `folder` is the root.
pub(crate) fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() { name.to_owned() } else { format!("{folder}/{name}") }
}

/// The proper ancestors of `path`, nearest first, without the root: `a/b/c` gives `a/b`, `a`.
pub(crate) fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = path;
    std::iter::from_fn(move || {
        let index = rest.rfind('/')?;
        rest = &rest[..index];
        Some(rest)
    })
}

/// Resolves `target` (a link's target as stored) against the folder `base`, lexically and
/// without leaving the root: `..` at the root stays at the root, as it does for a process
/// chrooted into the image. Absolute targets start from the root.
pub(crate) fn resolve_lexically(base: &str, target: &str) -> String {
    let mut components: Vec<&str> =
        if target.starts_with('/') { Vec::new() } else { base.split('/').filter(|c| !c.is_empty()).collect() };
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                components.pop();
            }
            name => components.push(name),
        }
    }
    components.join("/")
}

/// A 64-bit fingerprint of a normal path. A layer keeps these instead of the paths of the
/// (possibly hundreds of thousands of) entries it only needs to answer "did this layer put
/// something at that path?" for. A false answer needs two of the image's paths to share a
/// fingerprint: about 1 in 10^9 for a million paths.
pub(crate) fn fingerprint(path: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    path.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_strips_dots_slashes_and_trailing_separators() {
        assert_eq!(normalise(b"./usr//lib/").unwrap().as_deref(), Some("usr/lib"));
        assert_eq!(normalise(b"/etc/os-release").unwrap().as_deref(), Some("etc/os-release"));
        assert_eq!(normalise(b"var/./lib/dpkg/status").unwrap().as_deref(), Some("var/lib/dpkg/status"));
        assert_eq!(normalise(b"./").unwrap(), None);
        assert_eq!(normalise(b"/").unwrap(), None);
    }

    #[test]
    fn normalise_refuses_parent_components() {
        assert_eq!(normalise(b"../etc/passwd"), Err(ParentComponent));
        assert_eq!(normalise(b"usr/../../etc"), Err(ParentComponent));
        assert_eq!(normalise(b"usr/lib/.."), Err(ParentComponent));
        // a name that merely starts with two dots is an ordinary name
        assert_eq!(normalise(b"usr/..hidden").unwrap().as_deref(), Some("usr/..hidden"));
    }

    #[test]
    fn parent_file_name_and_join_agree() {
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(parent("a"), "");
        assert_eq!(file_name("a/b/c"), "c");
        assert_eq!(file_name("a"), "a");
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("a/b", "c"), "a/b/c");
    }

    #[test]
    fn ancestors_run_nearest_first_without_the_root() {
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a/b", "a"]);
        assert_eq!(ancestors("a").count(), 0);
    }

    #[test]
    fn resolve_lexically_never_leaves_the_root() {
        assert_eq!(resolve_lexically("etc", "../usr/lib/os-release"), "usr/lib/os-release");
        assert_eq!(resolve_lexically("usr/bin", "/bin/busybox"), "bin/busybox");
        assert_eq!(resolve_lexically("a", "../../../../etc/shadow"), "etc/shadow");
        assert_eq!(resolve_lexically("", "./x/./y"), "x/y");
    }

    #[test]
    fn fingerprints_differ_for_different_paths() {
        assert_eq!(fingerprint("usr/lib"), fingerprint("usr/lib"));
        assert_ne!(fingerprint("usr/lib"), fingerprint("usr/lib64"));
    }
}
