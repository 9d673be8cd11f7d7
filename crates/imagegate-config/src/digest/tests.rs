//! The inputs digest: what changes it, what does not, the `.dockerignore` cases, and the
//! documented scheme recomputed by hand.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use super::*;
use crate::{ImageConfig, SuiteConfig};

fn image(context: &Path) -> ImageConfig {
    ImageConfig {
        name: "test".to_owned(),
        dockerfile: context.join("Dockerfile"),
        context: context.to_path_buf(),
        inputs: None,
        build_args: BTreeMap::new(),
        target: None,
        platform: None,
        stable_tag: "acme/test:stable".to_owned(),
        suite: SuiteConfig {
            command: "true".to_owned(),
            results: "/results".to_owned(),
            workdir: "/src".to_owned(),
            env: BTreeMap::new(),
            timeout: Duration::from_secs(60),
            rerun: None,
            attempts: 1,
            network: "none".to_owned(),
            shard: None,
            list: None,
            limits: Default::default(),
            results_limits: Default::default(),
            incumbent: Default::default(),
            reuse: true,
        },
        culprits: Default::default(),
        lines: Default::default(),
    }
}

fn write(root: &Path, relative: &str, contents: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    fs::write(path, contents).expect("write");
}

/// A context with a Dockerfile, a script, a nested file and an empty folder.
fn sample_tree() -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "Dockerfile", "FROM debian:12\nCOPY . /src\n");
    write(root, "run-tests.sh", "#!/bin/sh\nexit 0\n");
    write(root, "requirements/base.txt", "pytest==8\n");
    fs::create_dir_all(root.join("empty")).expect("mkdir");
    set_mode(&root.join("run-tests.sh"), 0o755);
    dir
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) {}

/// Fixes every mode in the tree, so that the test does not depend on the umask.
fn normalise_modes(root: &Path) {
    for entry in walkdir::WalkDir::new(root).min_depth(1) {
        let entry = entry.expect("walk");
        if entry.file_type().is_dir() {
            set_mode(entry.path(), 0o755);
        } else if entry.file_type().is_file() {
            let executable = entry.path().extension().is_some_and(|extension| extension == "sh");
            set_mode(entry.path(), if executable { 0o755 } else { 0o644 });
        }
    }
}

fn digest_of(image: &ImageConfig) -> String {
    inputs_digest(image).unwrap_or_else(|error| panic!("{error}")).digest
}

fn digest_of_tree(root: &Path) -> String {
    digest_of(&image(root))
}

#[test]
fn digest_is_sha256_hex_and_counts_files() {
    let tree = sample_tree();
    let digest = inputs_digest(&image(tree.path())).expect("digest");
    let hex = digest.digest.strip_prefix("sha256:").expect("sha256: prefix");
    assert_eq!(hex.len(), 64);
    assert!(hex.chars().all(|character| matches!(character, '0'..='9' | 'a'..='f')));
    assert_eq!(digest.files, 3);
    let expected_bytes = ["Dockerfile", "run-tests.sh", "requirements/base.txt"]
        .iter()
        .map(|name| fs::metadata(tree.path().join(name)).expect("stat").len())
        .sum::<u64>();
    assert_eq!(digest.bytes, expected_bytes);
}

#[test]
fn same_tree_in_two_places_has_the_same_digest() {
    let first = sample_tree();
    let second = sample_tree();
    normalise_modes(first.path());
    normalise_modes(second.path());
    assert_eq!(digest_of_tree(first.path()), digest_of_tree(second.path()));
}

#[test]
fn digest_changes_with_what_defines_the_image() {
    let tree = sample_tree();
    let root = tree.path();
    let base = image(root);
    let original = digest_of(&base);
    let mut seen = vec![original.clone()];
    let mut assert_new = |digest: String, what: &str| {
        assert!(!seen.contains(&digest), "{what} did not change the digest");
        seen.push(digest);
    };

    let mut with_arg = base.clone();
    with_arg.build_args.insert("PYTHON_VERSION".to_owned(), "3.12".to_owned());
    assert_new(digest_of(&with_arg), "adding a build arg");
    with_arg.build_args.insert("PYTHON_VERSION".to_owned(), "3.13".to_owned());
    assert_new(digest_of(&with_arg), "changing a build arg");
    let mut renamed_arg = base.clone();
    renamed_arg.build_args.insert("PYTHON".to_owned(), "3.12".to_owned());
    assert_new(digest_of(&renamed_arg), "renaming a build arg");

    let mut with_target = base.clone();
    with_target.target = Some("test".to_owned());
    assert_new(digest_of(&with_target), "setting a target");
    let mut empty_target = base.clone();
    empty_target.target = Some(String::new());
    assert_new(digest_of(&empty_target), "an empty target, distinct from none");
    let mut with_platform = base.clone();
    with_platform.platform = Some("linux/amd64".to_owned());
    assert_new(digest_of(&with_platform), "setting a platform");
    let mut platform_as_target = base.clone();
    platform_as_target.target = Some("linux/amd64".to_owned());
    assert_new(digest_of(&platform_as_target), "the same text as target instead of platform");

    write(root, "requirements/base.txt", "pytest==9\n");
    assert_new(digest_of(&base), "changing a file's content");
    fs::rename(root.join("requirements/base.txt"), root.join("requirements/dev.txt")).expect("rename");
    assert_new(digest_of(&base), "renaming a file");
    set_mode(&root.join("requirements/dev.txt"), 0o600);
    #[cfg(unix)]
    assert_new(digest_of(&base), "changing a file's mode");
    fs::create_dir(root.join("empty/inner")).expect("mkdir");
    assert_new(digest_of(&base), "adding an empty folder");
    write(root, "Dockerfile", "FROM debian:13\nCOPY . /src\n");
    assert_new(digest_of(&base), "changing the Dockerfile");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("run-tests.sh", root.join("link")).expect("symlink");
        assert_new(digest_of(&base), "adding a symbolic link");
        fs::remove_file(root.join("link")).expect("remove");
        std::os::unix::fs::symlink("requirements", root.join("link")).expect("symlink");
        assert_new(digest_of(&base), "changing a link's target");
    }
}

#[test]
fn file_content_moving_between_files_changes_the_digest() {
    // Framing: "ab" + "c" must not hash like "a" + "bc".
    let first = tempfile::tempdir().expect("tempdir");
    let second = tempfile::tempdir().expect("tempdir");
    for (dir, (one, two)) in [(&first, ("ab", "c")), (&second, ("a", "bc"))] {
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        write(dir.path(), "1", one);
        write(dir.path(), "2", two);
        normalise_modes(dir.path());
    }
    assert_ne!(digest_of_tree(first.path()), digest_of_tree(second.path()));
}

#[test]
fn the_dockerfile_name_and_place_do_not_matter() {
    let first = sample_tree();
    let second = sample_tree();
    normalise_modes(first.path());
    normalise_modes(second.path());
    let mut moved = image(second.path());
    let outside = tempfile::tempdir().expect("tempdir");
    let dockerfile = outside.path().join("Dockerfile.ci");
    fs::rename(second.path().join("Dockerfile"), &dockerfile).expect("move");
    moved.dockerfile = dockerfile;
    let mut original = image(first.path());
    // Same context content on both sides: the Dockerfile is only hashed as the Dockerfile.
    fs::remove_file(first.path().join("Dockerfile")).expect("remove");
    let kept = outside.path().join("Dockerfile.other");
    fs::copy(&moved.dockerfile, &kept).expect("copy");
    original.dockerfile = kept;
    assert_eq!(digest_of(&original), digest_of(&moved));
}

#[test]
fn modification_times_do_not_matter() {
    let tree = sample_tree();
    let before = digest_of_tree(tree.path());
    let file = fs::File::options().write(true).open(tree.path().join("requirements/base.txt")).expect("open");
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)).expect("touch");
    drop(file);
    assert_eq!(digest_of_tree(tree.path()), before);
}

#[test]
fn ignored_files_do_not_matter() {
    let tree = sample_tree();
    let root = tree.path();
    write(root, ".dockerignore", "*.log\nbuild\n!build/keep.txt\n");
    write(root, "debug.log", "one");
    write(root, "build/output.bin", "one");
    write(root, "build/keep.txt", "kept");
    let before = digest_of_tree(root);

    write(root, "debug.log", "two");
    write(root, "other.log", "new");
    write(root, "build/output.bin", "two");
    write(root, "build/deeper/more.bin", "new");
    assert_eq!(digest_of_tree(root), before);

    write(root, "build/keep.txt", "changed");
    assert_ne!(digest_of_tree(root), before, "a re-included file counts");
}

#[test]
fn context_entries_follow_the_ignore_rules() {
    let tree = sample_tree();
    let root = tree.path();
    write(root, ".dockerignore", "# comment\n.git\nnode_modules\n**/*.pyc\ndocs/*\n!docs/README.md\n/build\n");
    write(root, ".git/HEAD", "ref");
    write(root, "node_modules/x/index.js", "");
    write(root, "src/app.py", "");
    write(root, "src/app.pyc", "");
    write(root, "src/sub/mod.pyc", "");
    write(root, "docs/README.md", "");
    write(root, "docs/guide.md", "");
    write(root, "build/out", "");
    write(root, "sub/build/kept", "");
    let entries = context_files(&image(root)).expect("entries");
    let listed: Vec<String> = entries
        .iter()
        .map(|entry| {
            let kind = match entry.kind {
                EntryKind::File { .. } => "file",
                EntryKind::Symlink { .. } => "link",
                EntryKind::Directory { .. } => "dir",
            };
            format!("{kind} {}", entry.path.display())
        })
        .collect();
    insta::assert_snapshot!(listed.join("\n"), @r"
    file .dockerignore
    file Dockerfile
    dir docs
    file docs/README.md
    dir empty
    dir requirements
    file requirements/base.txt
    file run-tests.sh
    dir src
    file src/app.py
    dir src/sub
    dir sub
    dir sub/build
    file sub/build/kept
    ");
}

#[test]
fn hidden_folders_are_part_of_the_context_unless_ignored() {
    // Docker sends `.git` unless .dockerignore excludes it, so the digest covers it.
    let tree = sample_tree();
    let root = tree.path();
    write(root, ".git/HEAD", "ref: refs/heads/main\n");
    let before = digest_of_tree(root);
    write(root, ".git/HEAD", "ref: refs/heads/other\n");
    assert_ne!(digest_of_tree(root), before);
    write(root, ".dockerignore", ".git\n");
    let ignored = digest_of_tree(root);
    write(root, ".git/HEAD", "ref: refs/heads/third\n");
    assert_eq!(digest_of_tree(root), ignored);
}

#[test]
fn ignore_file_beside_the_dockerfile_replaces_the_context_one() {
    let tree = sample_tree();
    let root = tree.path();
    write(root, ".dockerignore", "requirements\n");
    let mut config = image(root);
    let dockerfile_dir = tempfile::tempdir().expect("tempdir");
    config.dockerfile = dockerfile_dir.path().join("Dockerfile.ci");
    write(dockerfile_dir.path(), "Dockerfile.ci", "FROM scratch\n");
    let paths = |config: &ImageConfig| -> Vec<PathBuf> {
        context_files(config).expect("entries").into_iter().map(|entry| entry.path).collect()
    };
    assert!(!paths(&config).contains(&PathBuf::from("requirements/base.txt")));
    write(dockerfile_dir.path(), "Dockerfile.ci.dockerignore", "empty\n");
    let listed = paths(&config);
    assert!(listed.contains(&PathBuf::from("requirements/base.txt")));
    assert!(!listed.contains(&PathBuf::from("empty")));
}

#[test]
fn entries_are_sorted_bytewise_by_path() {
    let tree = tempfile::tempdir().expect("tempdir");
    let root = tree.path();
    write(root, "Dockerfile", "FROM scratch\n");
    write(root, "a/b", "");
    write(root, "a.txt", "");
    write(root, "a-z", "");
    write(root, "B", "");
    let paths: Vec<String> = context_files(&image(root))
        .expect("entries")
        .into_iter()
        .map(|entry| entry.path.display().to_string())
        .collect();
    // `-` (0x2d) < `.` (0x2e) < `/` (0x2f); uppercase before lowercase.
    assert_eq!(paths, ["B", "Dockerfile", "a", "a-z", "a.txt", "a/b"]);
}

/// The scheme as the module documentation states it, recomputed step by step: the code and
/// the contract must not drift apart.
#[cfg(unix)]
#[test]
fn digest_follows_the_documented_scheme() {
    let tree = tempfile::tempdir().expect("tempdir");
    let root = tree.path();
    write(root, "Dockerfile", "FROM scratch\n");
    write(root, "d/run.sh", "#!/bin/sh\n");
    std::os::unix::fs::symlink("d/run.sh", root.join("link")).expect("symlink");
    set_mode(&root.join("Dockerfile"), 0o644);
    set_mode(&root.join("d/run.sh"), 0o755);
    set_mode(&root.join("d"), 0o750);
    let mut config = image(root);
    config.build_args.insert("B".to_owned(), "2".to_owned());
    config.build_args.insert("A".to_owned(), "1".to_owned());
    config.platform = Some("linux/amd64".to_owned());

    fn field(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend((bytes.len() as u64).to_be_bytes());
        out.extend(bytes);
    }
    let mut stream = Vec::new();
    field(&mut stream, b"imagegate-inputs-v1");
    field(&mut stream, b"dockerfile");
    field(&mut stream, b"FROM scratch\n");
    field(&mut stream, b"build-args");
    stream.extend(2u64.to_be_bytes());
    for (name, value) in [("A", "1"), ("B", "2")] {
        field(&mut stream, name.as_bytes());
        field(&mut stream, value.as_bytes());
    }
    field(&mut stream, b"target");
    stream.push(0);
    field(&mut stream, b"platform");
    stream.push(1);
    field(&mut stream, b"linux/amd64");
    field(&mut stream, b"context");
    stream.extend(4u64.to_be_bytes());
    let file = |stream: &mut Vec<u8>, path: &str, mode: u32, content: &[u8]| {
        field(stream, path.as_bytes());
        stream.push(b'f');
        stream.extend(mode.to_be_bytes());
        stream.extend((content.len() as u64).to_be_bytes());
        stream.extend(Sha256::digest(content));
    };
    file(&mut stream, "Dockerfile", 0o644, b"FROM scratch\n");
    field(&mut stream, b"d");
    stream.push(b'd');
    stream.extend(0o750u32.to_be_bytes());
    file(&mut stream, "d/run.sh", 0o755, b"#!/bin/sh\n");
    field(&mut stream, b"link");
    stream.push(b'l');
    field(&mut stream, b"d/run.sh");
    let expected = format!("sha256:{}", hex::encode(Sha256::digest(&stream)));

    let digest = inputs_digest(&config).expect("digest");
    assert_eq!(digest.digest, expected);
    assert_eq!((digest.files, digest.bytes), (2, 23));
}

/// The `inputs` section as documented: patterns sorted and deduplicated after `platform`, then
/// only the matched context entries (a folder pattern selects what lies below it).
#[cfg(unix)]
#[test]
fn digest_with_inputs_follows_the_documented_scheme() {
    let tree = tempfile::tempdir().expect("tempdir");
    let root = tree.path();
    write(root, "Dockerfile", "FROM scratch\n");
    write(root, "ci/apt.list", "deb x\n");
    write(root, "src/app.py", "print(1)\n");
    write(root, "setup.py", "setup()\n");
    for path in ["Dockerfile", "ci/apt.list", "src/app.py", "setup.py"] {
        set_mode(&root.join(path), 0o644);
    }
    set_mode(&root.join("ci"), 0o755);
    let mut config = image(root);
    config.inputs = Some(vec!["setup.py".to_owned(), "ci".to_owned(), "setup.py".to_owned()]);

    fn field(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend((bytes.len() as u64).to_be_bytes());
        out.extend(bytes);
    }
    let mut stream = Vec::new();
    field(&mut stream, b"imagegate-inputs-v1");
    field(&mut stream, b"dockerfile");
    field(&mut stream, b"FROM scratch\n");
    field(&mut stream, b"build-args");
    stream.extend(0u64.to_be_bytes());
    field(&mut stream, b"target");
    stream.push(0);
    field(&mut stream, b"platform");
    stream.push(0);
    field(&mut stream, b"inputs");
    stream.extend(2u64.to_be_bytes());
    field(&mut stream, b"ci");
    field(&mut stream, b"setup.py");
    field(&mut stream, b"context");
    stream.extend(3u64.to_be_bytes());
    field(&mut stream, b"ci");
    stream.push(b'd');
    stream.extend(0o755u32.to_be_bytes());
    for (path, content) in [("ci/apt.list", &b"deb x\n"[..]), ("setup.py", &b"setup()\n"[..])] {
        field(&mut stream, path.as_bytes());
        stream.push(b'f');
        stream.extend(0o644u32.to_be_bytes());
        stream.extend((content.len() as u64).to_be_bytes());
        stream.extend(Sha256::digest(content));
    }
    let expected = format!("sha256:{}", hex::encode(Sha256::digest(&stream)));
    let digest = inputs_digest(&config).expect("digest");
    assert_eq!(digest.digest, expected);
    assert_eq!(digest.files, 2);
}

#[test]
fn with_inputs_only_matched_files_define_the_image() {
    let tree = sample_tree();
    let root = tree.path();
    write(root, "ci/apt-tor-list", "deb tor\n");
    write(root, "src/pkg/module.py", "x = 1\n");
    let mut config = image(root);
    config.inputs = Some(vec!["ci/**".to_owned(), "requirements/*.txt".to_owned()]);
    let before = digest_of(&config);
    assert_ne!(before, digest_of(&image(root)), "with and without `inputs` never share a digest");

    // Project source outside `inputs` changes: same recipe.
    write(root, "src/pkg/module.py", "x = 2\n");
    write(root, "src/pkg/new.py", "y = 1\n");
    write(root, "run-tests.sh", "#!/bin/sh\nexit 1\n");
    assert_eq!(digest_of(&config), before);

    // A matched file, the Dockerfile, or the patterns change: a new recipe.
    write(root, "ci/apt-tor-list", "deb tor2\n");
    let changed = digest_of(&config);
    assert_ne!(changed, before);
    write(root, "requirements/base.txt", "pytest==9\n");
    assert_ne!(digest_of(&config), changed);
    let mut narrower = config.clone();
    narrower.inputs = Some(vec!["ci/**".to_owned()]);
    assert_ne!(digest_of(&narrower), digest_of(&config));
    let dockerfile_before = digest_of(&config);
    write(root, "Dockerfile", "FROM debian:13\nCOPY . /src\n");
    assert_ne!(digest_of(&config), dockerfile_before);
}

#[test]
fn inputs_still_honour_the_dockerignore() {
    let tree = sample_tree();
    let root = tree.path();
    write(root, "ci/keep", "a\n");
    write(root, "ci/cache.tmp", "1\n");
    write(root, ".dockerignore", "**/*.tmp\n");
    let mut config = image(root);
    config.inputs = Some(vec!["ci/**".to_owned()]);
    let before = digest_of(&config);
    write(root, "ci/cache.tmp", "2\n");
    assert_eq!(digest_of(&config), before);
    assert_eq!(inputs_digest(&config).expect("digest").files, 1);
}

#[test]
fn unmatched_inputs_are_listed() {
    let tree = sample_tree();
    let mut config = image(tree.path());
    config.inputs = Some(vec!["requirements".to_owned(), "setup.py".to_owned(), "*.sh".to_owned()]);
    assert_eq!(unmatched_inputs(&config).expect("walk"), ["setup.py"]);
}

#[test]
fn inputs_patterns_are_relative_globs() {
    assert!(inputs_glob("ci/**").is_ok());
    assert!(inputs_glob("./setup.py").is_ok());
    assert!(matches!(inputs_glob("/etc/x"), Err(InputsPatternError::Absolute)));
    assert!(matches!(inputs_glob("../x"), Err(InputsPatternError::Parent)));
    assert!(matches!(inputs_glob("./"), Err(InputsPatternError::Empty)));
    assert!(matches!(inputs_glob("ci/[a"), Err(InputsPatternError::Glob(_))));
    let star = inputs_glob("ci/*").expect("valid").compile_matcher();
    assert!(star.is_match("ci/a") && !star.is_match("ci/a/b"), "`*` stays within a folder");
}

#[test]
fn malformed_ignore_file_is_an_error_with_a_hint() {
    let tree = sample_tree();
    write(tree.path(), ".dockerignore", "ok\nfile[0-9\n");
    let error = inputs_digest(&image(tree.path())).expect_err("malformed pattern");
    let message = error.to_string().replace(&tree.path().display().to_string(), "[CONTEXT]");
    insta::assert_snapshot!(message, @r"
    use the ignore file `[CONTEXT]/.dockerignore`: read pattern `file[0-9` on line 2: it has a `[` without its `]`
      hint: Docker refuses this pattern too: fix or remove the line
    ");
}

#[test]
fn missing_dockerfile_is_an_error() {
    let tree = sample_tree();
    fs::remove_file(tree.path().join("Dockerfile")).expect("remove");
    let error = inputs_digest(&image(tree.path())).expect_err("no Dockerfile");
    assert!(matches!(error, DigestError::ReadDockerfile { .. }), "{error:?}");
    assert!(error.to_string().starts_with("read the Dockerfile `"));
}

/// A name for a file at depth one or two: folders never end in `.txt` and files always do,
/// so no path is both.
fn file_path() -> impl Strategy<Value = String> {
    let folder = prop::sample::select(vec!["a", "b", "c"]);
    let name = prop::sample::select(vec!["x.txt", "y.txt", "z.txt", "Dockerfile.txt"]);
    (prop::option::of(folder), name).prop_map(|(folder, name)| match folder {
        Some(folder) => format!("{folder}/{name}"),
        None => name.to_owned(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn digest_does_not_depend_on_creation_order(
        files in prop::collection::btree_map(file_path(), "[a-z]{0,8}", 1..8)
            .prop_flat_map(|files| {
                let ordered: Vec<(String, String)> = files.into_iter().collect();
                (Just(ordered.clone()), Just(ordered).prop_shuffle())
            })
    ) {
        let (in_order, shuffled) = files;
        let first = tempfile::tempdir().expect("tempdir");
        let second = tempfile::tempdir().expect("tempdir");
        for (dir, files) in [(&first, &in_order), (&second, &shuffled)] {
            write(dir.path(), "Dockerfile", "FROM scratch\n");
            for (path, content) in files {
                write(dir.path(), path, content);
            }
            normalise_modes(dir.path());
        }
        prop_assert_eq!(digest_of_tree(first.path()), digest_of_tree(second.path()));
    }
}
