//! The OCI registry as imagegate's shared, durable store: no server besides the registry the
//! images already live in.
//!
//! - `reference.rs`: image references by Docker's grammar (`docker.io/library/` defaults).
//! - `auth.rs`: credentials as users already configure them (environment, docker and podman
//!   auth files, `docker-credential-*` helpers); secrets never printed.

pub mod auth;
mod client;
mod error;
pub mod lease;
pub mod records;
pub mod reference;
mod store;

pub use client::{Client, Connection, RawManifest, sha256_digest};
pub use error::{ErrorKind, RegistryError};
pub use store::{PruneEntry, RegistryStore, StoreLocation, StoredCandidate};
