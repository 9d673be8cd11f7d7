//! The OCI registry as imagegate's shared, durable store: no server besides the registry the
//! images already live in.
//!
//! - `reference.rs`: image references by Docker's grammar (`docker.io/library/` defaults).
//! - `auth.rs`: credentials as users already configure them (environment, docker and podman
//!   auth files, `docker-credential-*` helpers); secrets never printed.
//! - `client.rs`: a blocking client over `oci-client`: timeouts, retries with backoff and
//!   jitter, errors naming registry and operation, and the raw calls `oci-client` lacks.
//! - `retry.rs`: the one retry policy (attempts, backoff with jitter, transient failures only).
//! - `records.rs`: verdicts and pointer moves as OCI artifacts whose `subject` is the image.
//! - `lease.rs`: the promotion lease that stands in for a conditional tag write.
//! - `store.rs`: where candidates, stable tags and records live in a repository, and the
//!   operations the gate performs there.
//!
//! Architecture invariant: this crate moves a stable tag only when
//! `imagegate-gate/src/promote.rs` asks it to (`RegistryStore::move_stable`), under the lease.

pub mod auth;
mod client;
mod error;
pub mod evidence;
pub mod lease;
pub mod records;
pub mod reference;
mod retry;
mod store;

pub use client::{Client, Connection, RawManifest, sha256_digest};
pub use error::{ErrorKind, RegistryError};
pub use retry::Retry;
pub use store::{PruneEntry, RegistryStore, StoreLocation, StoredCandidate};
