//! Stacking layers into the image's final view of the wanted files, as an overlay filesystem
//! (and `docker run`) would show it, and resolving wanted symlinks inside that view.
//!
//! The rules, applied layer by layer from the lowest:
//! - `.wh.NAME` deletes NAME and everything under it from the layers below;
//! - `.wh..wh..opq` hides everything the layers below have in its folder;
//! - a file, symlink, device or FIFO replaces whatever the layers below had at its path, a
//!   folder there included (with everything under it);
//! - a folder replaces a file or symlink the layers below had at its path;
//! - whatever a layer adds after those deletions stays, even where a deletion applied.

use std::collections::{BTreeMap, VecDeque};

use crate::ImageFiles;
use crate::error::ImageWarning;
use crate::layer::{Layer, Node, Unread};
use crate::path;

/// How many symlinks resolving one path may pass through, as Linux allows (`ELOOP`).
const MAX_SYMLINK_HOPS: usize = 40;

/// The wanted files of an image after every layer is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageContents {
    /// The final content of each wanted file. A wanted path that is a symlink holds the content
    /// of the file it resolves to inside the image, when that file was read too.
    pub files: ImageFiles,
    /// Every symlink of the final image: path and target as stored (wanted or not).
    pub symlinks: BTreeMap<String, String>,
    /// Wanted files present in the image whose content could not be read.
    pub warnings: Vec<ImageWarning>,
}

/// Applies `layers`, lowest first, and returns the final view of the wanted files.
pub fn stack_layers<'a>(layers: impl IntoIterator<Item = &'a Layer>) -> ImageContents {
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    for layer in layers {
        // Deletions apply only to the layers below; what the layer itself adds comes after.
        nodes.retain(|path, _| !layer.covers(path));
        for (path, node) in &layer.nodes {
            nodes.insert(path.clone(), node.clone());
        }
    }

    let mut contents = ImageContents::default();
    let mut wanted_symlinks = Vec::new();
    for (path, node) in nodes {
        match node {
            Node::File(content) => {
                contents.files.insert(path, content);
            }
            Node::Symlink { target, wanted } => {
                if wanted {
                    wanted_symlinks.push(path.clone());
                }
                contents.symlinks.insert(path, target);
            }
            Node::Unread(Unread::TooLarge { size, limit }) => {
                contents.warnings.push(ImageWarning::FileTooLarge { path, size, limit });
            }
            Node::Unread(Unread::HardLinkTarget { target }) => {
                contents.warnings.push(ImageWarning::HardLinkNotResolved { path, target });
            }
        }
    }
    for link in wanted_symlinks {
        let content = resolve(&link, &contents.symlinks).and_then(|real| contents.files.get(&real).cloned());
        match content {
            Some(content) => {
                contents.files.insert(link, content);
            }
            None => {
                let target = contents.symlinks.get(&link).cloned().unwrap_or_default();
                contents.warnings.push(ImageWarning::SymlinkNotResolved { path: link, target });
            }
        }
    }
    contents.warnings.sort_by_key(ToString::to_string);
    contents
}

/// The path the symlink at `link` leads to inside the image, following every symlink on the
/// way (folders included). Absolute targets start at the image's root and `..` never climbs
/// above it, so resolution cannot leave the image. `None` for a loop.
fn resolve(link: &str, symlinks: &BTreeMap<String, String>) -> Option<String> {
    let mut resolved: Vec<String> =
        path::parent(link).split('/').filter(|c| !c.is_empty()).map(str::to_owned).collect();
    let mut pending: VecDeque<String> = VecDeque::new();
    let mut hops = 0;
    let mut follow = |target: &str, resolved: &mut Vec<String>, pending: &mut VecDeque<String>| {
        hops += 1;
        if target.starts_with('/') {
            resolved.clear();
        }
        for component in target.split('/').rev() {
            pending.push_front(component.to_owned());
        }
        hops <= MAX_SYMLINK_HOPS
    };
    if !follow(symlinks.get(link)?, &mut resolved, &mut pending) {
        return None;
    }
    while let Some(component) = pending.pop_front() {
        match component.as_str() {
            "" | "." => {}
            ".." => {
                resolved.pop();
            }
            _ => {
                resolved.push(component);
                let candidate = resolved.join("/");
                if let Some(target) = symlinks.get(&candidate) {
                    resolved.pop();
                    if !follow(target, &mut resolved, &mut pending) {
                        return None;
                    }
                }
            }
        }
    }
    Some(resolved.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::read_layer;
    use crate::layer::tests::{Entry, tar_of, wants_txt};

    fn layer(entries: &[Entry<'_>]) -> Layer {
        read_layer(&tar_of(entries)[..], &wants_txt).unwrap()
    }

    fn paths(contents: &ImageContents) -> Vec<&str> {
        contents.files.keys().map(String::as_str).collect()
    }

    #[test]
    fn a_later_layer_changes_a_file() {
        let lower = layer(&[Entry::File("a.txt", b"old")]);
        let upper = layer(&[Entry::File("a.txt", b"new")]);
        let contents = stack_layers([&lower, &upper]);
        assert_eq!(contents.files["a.txt"], b"new");
    }

    #[test]
    fn a_whiteout_deletes_a_folder_and_everything_under_it() {
        let lower = layer(&[
            Entry::File("site/pkg-1.0.dist-info/METADATA.txt", b"pkg"),
            Entry::File("site/pkg-1.0.dist-info/deeper/x.txt", b"x"),
            Entry::File("site/other.dist-info/METADATA.txt", b"other"),
            Entry::File("site/pkg-1.0.dist-info-not/y.txt", b"y"),
        ]);
        let upper = layer(&[Entry::File("site/.wh.pkg-1.0.dist-info", b"")]);
        let contents = stack_layers([&lower, &upper]);
        assert_eq!(paths(&contents), ["site/other.dist-info/METADATA.txt", "site/pkg-1.0.dist-info-not/y.txt"]);
    }

    #[test]
    fn an_opaque_folder_hides_the_lower_layers_but_keeps_its_own_files() {
        let lower = layer(&[Entry::File("opt/app/old.txt", b"old"), Entry::File("opt/keep.txt", b"keep")]);
        let upper = layer(&[Entry::File("opt/app/.wh..wh..opq", b""), Entry::File("opt/app/new.txt", b"new")]);
        let contents = stack_layers([&lower, &upper]);
        assert_eq!(paths(&contents), ["opt/app/new.txt", "opt/keep.txt"]);
    }

    #[test]
    fn a_file_added_again_after_a_whiteout_stays() {
        let first = layer(&[Entry::File("etc/x.txt", b"1")]);
        let deleted = layer(&[Entry::File("etc/.wh.x.txt", b"")]);
        let again = layer(&[Entry::File("etc/x.txt", b"3")]);
        assert!(stack_layers([&first, &deleted]).files.is_empty());
        assert_eq!(stack_layers([&first, &deleted, &again]).files["etc/x.txt"], b"3");
    }

    #[test]
    fn a_whiteout_does_not_delete_what_its_own_layer_adds() {
        let lower = layer(&[Entry::File("d/x.txt", b"lower")]);
        let upper = layer(&[Entry::File("d/.wh.x.txt", b""), Entry::File("d/x.txt", b"upper")]);
        assert_eq!(stack_layers([&lower, &upper]).files["d/x.txt"], b"upper");
    }

    #[test]
    fn a_file_or_symlink_replaces_a_lower_folder_and_its_content() {
        let lower = layer(&[Entry::File("a/b/c.txt", b"c"), Entry::File("x/y.txt", b"y")]);
        let upper = layer(&[Entry::File("a/b", b"now a file"), Entry::Symlink("x", "elsewhere")]);
        let contents = stack_layers([&lower, &upper]);
        assert!(contents.files.is_empty(), "{:?}", contents.files);
        assert_eq!(contents.symlinks["x"], "elsewhere");
    }

    #[test]
    fn a_folder_replaces_a_lower_symlink_at_its_path() {
        let lower = layer(&[Entry::Symlink("lib", "usr/lib")]);
        let upper = layer(&[Entry::File("lib/apk/installed.txt", b"apk")]);
        let contents = stack_layers([&lower, &upper]);
        assert!(!contents.symlinks.contains_key("lib"));
        assert_eq!(paths(&contents), ["lib/apk/installed.txt"]);
    }

    #[test]
    fn a_deleted_file_of_a_repeated_layer_stays_deleted() {
        let base = layer(&[Entry::File("a.txt", b"a")]);
        let delete = layer(&[Entry::File(".wh.a.txt", b"")]);
        let unrelated = layer(&[Entry::File("b.txt", b"b")]);
        assert_eq!(paths(&stack_layers([&base, &delete, &unrelated, &unrelated])), ["b.txt"]);
    }

    #[test]
    fn a_wanted_symlink_gets_its_targets_content_through_folder_symlinks() {
        let lower = layer(&[
            Entry::Symlink("lib", "usr/lib"),
            Entry::File("usr/lib/os.txt", b"debian"),
            Entry::Symlink("etc/os.txt", "../lib/os.txt"),
            Entry::Symlink("etc/absolute.txt", "/lib/../../../usr/lib/os.txt"),
        ]);
        let contents = stack_layers([&lower]);
        assert_eq!(contents.files["etc/os.txt"], b"debian");
        assert_eq!(contents.files["etc/absolute.txt"], b"debian");
        assert!(contents.warnings.is_empty(), "{:?}", contents.warnings);
    }

    #[test]
    fn symlinks_that_loop_or_lead_nowhere_are_warnings() {
        let lower = layer(&[
            Entry::Symlink("a.txt", "b.txt"),
            Entry::Symlink("b.txt", "a.txt"),
            Entry::Symlink("c.txt", "/missing/file"),
            Entry::Symlink("d.txt", "/usr/share/unwanted.bin"),
            Entry::File("usr/share/unwanted.bin", b"not read"),
        ]);
        let contents = stack_layers([&lower]);
        assert!(contents.files.is_empty());
        let warned: Vec<_> = contents
            .warnings
            .iter()
            .map(|warning| match warning {
                ImageWarning::SymlinkNotResolved { path, .. } => path.as_str(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(warned, ["a.txt", "b.txt", "c.txt", "d.txt"]);
    }

    #[test]
    fn warnings_are_given_only_for_files_that_survive() {
        let lower = layer(&[Entry::File("big/x.txt", &[0u8; 10]), Entry::HardLink("y.txt", "unread.bin")]);
        let limited = crate::LayerReader::new(crate::Limits::default().max_file_bytes(5))
            .read(&tar_of(&[Entry::File("big/x.txt", &[0u8; 10])])[..], &wants_txt)
            .unwrap();
        let delete = layer(&[Entry::File(".wh.big", b"")]);
        assert_eq!(stack_layers([&limited]).warnings.len(), 1);
        assert!(stack_layers([&limited, &delete]).warnings.is_empty());
        assert_eq!(
            stack_layers([&lower]).warnings,
            [ImageWarning::HardLinkNotResolved { path: "y.txt".to_owned(), target: "unread.bin".to_owned() }]
        );
    }

    #[test]
    fn an_opaque_root_hides_every_lower_file() {
        let lower = layer(&[Entry::File("a.txt", b"a"), Entry::Symlink("b", "c")]);
        let upper = layer(&[Entry::File(".wh..wh..opq", b""), Entry::File("d.txt", b"d")]);
        let contents = stack_layers([&lower, &upper]);
        assert_eq!(paths(&contents), ["d.txt"]);
        assert!(contents.symlinks.is_empty());
    }
}
