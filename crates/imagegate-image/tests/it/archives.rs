//! The archive formats of real engines: `docker save` (from a file and through a pipe),
//! `podman save` in docker-archive and oci-archive format, and OCI archives with gzip and zstd
//! layers made by skopeo, all read from the same image.

use std::fs::File;

use imagegate_image::{ArchiveFormat, ArchiveImage, ArchiveReader, Compression, ImageError, ImageFiles, read_archive};
use imagegate_packages::is_inventory_path;

use crate::support::{
    APK, DEBIAN_PY_A, DEBIAN_PY_B, LAYERS, Saved, dpkg_version, python_version, saved_archive, with_docker_save_stream,
};

const SYSTEM_SITE: &str = "usr/local/lib/python3.11/dist-packages";
const VENV_SITE: &str = "opt/venv/lib/python3.11/site-packages";
const DEBIAN_SITE: &str = "usr/lib/python3/dist-packages";

fn read(image: &str, saved: Saved) -> ArchiveImage {
    let path = saved_archive(image, saved);
    let file = File::open(&path).expect("open the saved archive");
    ArchiveReader::new()
        .read(file, &is_inventory_path)
        .unwrap_or_else(|error| panic!("reading {} failed: {error}", path.display()))
}

/// What every reading of `imagegate-test/debian-py:b` must find.
fn assert_debian_py_b(files: &ImageFiles) {
    let status = files.get("var/lib/dpkg/status").expect("the dpkg status file");
    assert!(dpkg_version(status, "python3-pip").is_some(), "python3-pip is in the dpkg status");
    assert!(dpkg_version(status, "less").is_some(), "less (only in :b) is in the dpkg status");
    assert_eq!(python_version(files, SYSTEM_SITE, "werkzeug").as_deref(), Some("2.3.0"));
    assert_eq!(python_version(files, SYSTEM_SITE, "markupsafe").as_deref(), Some("2.1.5"));
    assert_eq!(python_version(files, VENV_SITE, "idna").as_deref(), Some("3.7"));
    assert!(python_version(files, VENV_SITE, "pip").is_some(), "the venv's own pip");
    assert!(python_version(files, DEBIAN_SITE, "pip").is_some(), "Debian's python3-pip in dist-packages");
}

#[test]
fn docker_save_of_a_debian_python_image() {
    let image = read(DEBIAN_PY_B, Saved::Docker);
    assert_eq!(image.format, ArchiveFormat::DockerArchive);
    assert_eq!(image.names, [DEBIAN_PY_B]);
    assert!(image.layers.len() >= 5, "{:?}", image.layers);
    assert!(image.layers.iter().all(|layer| layer.compression == Compression::None));
    assert!(image.contents.warnings.is_empty(), "{:?}", image.contents.warnings);
    assert_debian_py_b(&image.contents.files);
}

#[test]
fn docker_save_streamed_through_a_pipe_reads_the_same_files() {
    let streamed = with_docker_save_stream(&[DEBIAN_PY_B], |stream| read_archive(stream, &is_inventory_path))
        .expect("read docker save's output from a pipe");
    assert_eq!(streamed, read(DEBIAN_PY_B, Saved::Docker).contents.files);
}

#[test]
fn the_two_versions_of_the_python_image_differ_as_built() {
    let a = read(DEBIAN_PY_A, Saved::Docker).contents.files;
    let b = read(DEBIAN_PY_B, Saved::Docker).contents.files;
    assert_eq!(python_version(&a, SYSTEM_SITE, "werkzeug").as_deref(), Some("2.2.3"));
    assert_eq!(python_version(&a, SYSTEM_SITE, "markupsafe").as_deref(), Some("2.1.3"));
    assert_eq!(python_version(&a, VENV_SITE, "idna").as_deref(), Some("3.6"));
    assert_eq!(dpkg_version(&a["var/lib/dpkg/status"], "less"), None);
    assert!(dpkg_version(&b["var/lib/dpkg/status"], "less").is_some());
    // Nothing of a's versions is left in b's view: layers replaced them.
    assert!(!b.keys().any(|path| path.contains("2.2.3.dist-info") || path.contains("idna-3.6.dist-info")));
}

#[test]
fn podman_save_in_both_formats_reads_like_docker_save() {
    let expected = read(DEBIAN_PY_B, Saved::Docker).contents.files;
    let docker_archive = read(DEBIAN_PY_B, Saved::PodmanDockerArchive);
    assert_eq!(docker_archive.format, ArchiveFormat::DockerArchive);
    assert_eq!(docker_archive.contents.files, expected);
    let oci = read(DEBIAN_PY_B, Saved::PodmanOciArchive);
    assert_eq!(oci.format, ArchiveFormat::OciLayout);
    assert_eq!(oci.contents.files, expected);
}

#[test]
fn oci_archives_with_gzip_and_zstd_layers_read_like_docker_save() {
    let expected = read(DEBIAN_PY_B, Saved::Docker).contents.files;
    for (saved, compression) in [(Saved::SkopeoOciGzip, Compression::Gzip), (Saved::SkopeoOciZstd, Compression::Zstd)] {
        let image = read(DEBIAN_PY_B, saved);
        assert_eq!(image.format, ArchiveFormat::OciLayout);
        assert!(
            image.layers.iter().all(|layer| layer.compression == compression),
            "{saved:?}: every layer {compression}: {:?}",
            image.layers
        );
        assert_eq!(image.contents.files, expected, "{saved:?}");
    }
}

#[test]
fn podman_oci_archive_of_a_busybox_image_with_deletions() {
    let docker = read(LAYERS, Saved::Docker).contents.files;
    let podman = read(LAYERS, Saved::PodmanOciArchive).contents.files;
    assert_eq!(podman, docker);
    assert!(!docker.is_empty());
}

#[test]
fn docker_save_of_several_images_needs_a_name_and_reads_the_one_named() {
    let error = with_docker_save_stream(&[LAYERS, APK], |stream| read_archive(stream, &is_inventory_path))
        .expect_err("two images and no name");
    assert!(matches!(error, ImageError::SeveralImages { count: 2, .. }), "{error}");
    let apk = with_docker_save_stream(&[LAYERS, APK], |stream| {
        ArchiveReader::new().image(APK).read(stream, &is_inventory_path)
    })
    .expect("read the image named");
    assert_eq!(apk.names, [APK]);
    assert_eq!(apk.contents.files.keys().collect::<Vec<_>>(), ["lib/apk/db/installed"]);
}
