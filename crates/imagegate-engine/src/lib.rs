//! Container engines behind one trait.
//!
//! docker and podman are driven through their command-line clients rather than their APIs:
//! the CLIs already know how to reach remote engines (`DOCKER_HOST`, podman connections), and
//! podman and buildah share them. Each backend is a sibling file; what they share lives in
//! `cli.rs`.

mod bounded_log;
mod cleanup;
mod cli;
mod detect;
mod docker;
mod error;
mod owner;
mod podman;
mod transfer;
mod types;

pub use cleanup::{finish_removals, remove_live_containers};
pub use detect::{Detected, connect, detect, detect_explained};
pub use docker::Docker;
pub use error::EngineError;
pub use owner::{
    LABEL_OWNER, Leftovers, Liveness, Owner, remove_leftover_containers, remove_leftover_images_and_files,
    remove_leftovers, temporary_prefix,
};
pub use podman::Podman;
pub use transfer::{MAX_STREAMED_BYTES, checkout_digest, checkout_files_in};
pub use types::{
    BuildRequest, CPU_PERIOD_MICROS, ContainerSpec, Containment, CopiedResults, Engine, ImageInfo, RegistryAccess,
    ResultsFilter, RunOutcome, SkipReason, SkippedFile,
};

/// Implements [`Engine`] for a backend that wraps a [`cli::Client`] in a field named `client`.
#[macro_export]
#[doc(hidden)]
macro_rules! delegate_engine {
    ($backend:ty, $kind:expr) => {
        impl Engine for $backend {
            fn kind(&self) -> EngineKind {
                $kind
            }
            fn program(&self) -> &str {
                &self.client.program
            }
            fn build(&self, request: &BuildRequest) -> Result<String, EngineError> {
                self.client.build(request)
            }
            fn inspect_image(&self, reference: &str) -> Result<Option<ImageInfo>, EngineError> {
                self.client.inspect_image(reference)
            }
            fn images_with_label(&self, key: &str, value: &str) -> Result<Vec<ImageInfo>, EngineError> {
                self.client.images_with_label(key, value)
            }
            fn pull(&self, reference: &str) -> Result<(), EngineError> {
                self.client.pull(reference)
            }
            fn pull_from(&self, reference: &str, access: &$crate::RegistryAccess) -> Result<(), EngineError> {
                self.client.transfer_with(reference, access, "pull")
            }
            fn push(&self, reference: &str, access: &$crate::RegistryAccess) -> Result<(), EngineError> {
                self.client.transfer_with(reference, access, "push")
            }
            fn tag(&self, image_id: &str, reference: &str) -> Result<(), EngineError> {
                self.client.tag(image_id, reference)
            }
            fn untag(&self, reference: &str) -> Result<(), EngineError> {
                self.client.untag(reference)
            }
            fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
                self.client.create_container(spec)
            }
            fn copy_into(
                &self,
                container: &str,
                source: &Path,
                destination: &str,
                exclude: &[PathBuf],
            ) -> Result<(), EngineError> {
                self.client.copy_into(container, source, destination, exclude)
            }
            fn create_folders(&self, container: &str, folders: &[&str]) -> Result<(), EngineError> {
                self.client.create_folders(container, folders)
            }
            fn copy_into_with_folders(
                &self,
                container: &str,
                source: &Path,
                destination: &str,
                exclude: &[PathBuf],
                folders: &[&str],
            ) -> Result<(), EngineError> {
                self.client.copy_into_with_folders(container, source, destination, exclude, folders)
            }
            fn start_and_wait(
                &self,
                container: &str,
                timeout: Duration,
                log_file: &Path,
                log_limit: u64,
            ) -> Result<RunOutcome, EngineError> {
                self.client.start_and_wait(container, timeout, log_file, log_limit)
            }
            fn copy_out(&self, container: &str, source: &str, destination: &Path) -> Result<bool, EngineError> {
                self.client.copy_out(container, source, destination, None).map(|copied| copied.found)
            }
            fn copy_out_results(
                &self,
                container: &str,
                source: &str,
                destination: &Path,
                filter: &$crate::ResultsFilter<'_>,
            ) -> Result<$crate::CopiedResults, EngineError> {
                self.client.copy_out(container, source, destination, Some(filter))
            }
            fn remove_container(&self, container: &str) -> Result<(), EngineError> {
                self.client.remove_container(container)
            }
            fn remove_container_soon(&self, container: &str) {
                $crate::cleanup::remove_in_background(&self.client, container)
            }
            fn save_image(
                &self,
                reference: &str,
                consume: &mut dyn FnMut(&mut dyn std::io::Read) -> Result<(), String>,
            ) -> Result<(), EngineError> {
                self.client.save_image(reference, consume)
            }
            fn load_image(&self, archive: &Path) -> Result<String, EngineError> {
                self.client.load_image(archive)
            }
            fn remove_image(&self, reference: &str) -> Result<(), EngineError> {
                self.client.remove_image(reference)
            }
            fn images_by_owner(&self) -> Result<Vec<(String, String)>, EngineError> {
                self.client.images_by_owner()
            }
            fn containers_with_label(&self, key: &str, value: &str) -> Result<Vec<String>, EngineError> {
                self.client.containers_with_label(key, value)
            }
            fn containers_by_owner(&self) -> Result<Vec<(String, String)>, EngineError> {
                self.client.containers_by_owner()
            }
            fn identity(&self) -> Result<String, EngineError> {
                self.client.identity()
            }
        }
    };
}
