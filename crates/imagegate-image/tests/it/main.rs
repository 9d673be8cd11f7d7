//! Integration tests of imagegate-image on real images: built by `scripts/test-images.sh`,
//! saved by docker, podman and skopeo in every archive format, and read back.

mod archives;
mod packages;
mod support;
mod syft;
mod whiteouts;
