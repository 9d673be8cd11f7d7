//! `imagegate.toml`: the file format, its validation into a [`Config`], and the inputs digest
//! that identifies an image recipe.
//!
//! - [`load`] / [`load_str`] read and validate the file; every error is a [`ConfigError`] that
//!   names the file, line and column and ends with a hint.
//! - [`inputs_digest`] hashes everything that defines an image (Dockerfile, build context as
//!   filtered by its `.dockerignore`, build args, target, platform); the scheme is a contract
//!   documented in [`digest`].
//! - [`starter_config`] and [`discover_dockerfiles`] write the file that `imagegate init`
//!   proposes.
//!
//! This crate touches the filesystem only to read the config, check the paths it names and
//! hash build contexts; it knows nothing of engines, registries or the store.

pub mod digest;
pub mod dockerfile;
pub mod dockerignore;
mod error;
mod load;
mod model;
mod raw;
mod reference;
mod schema;
mod starter;
mod warnings;

pub use digest::{
    ContextEntry, DigestError, EntryKind, InputsDigest, InputsPatternError, context_files, inputs_digest,
    unmatched_inputs,
};
pub use error::{ConfigError, ConfigErrorKind};
pub use load::{find_config, load, load_str};
pub use model::*;
pub use starter::{discover_dockerfiles, starter_config};
pub use warnings::ConfigWarning;

/// The name imagegate looks for, from the working directory upwards.
pub const CONFIG_FILE_NAME: &str = "imagegate.toml";
