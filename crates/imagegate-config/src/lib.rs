//! `imagegate.toml`: the file format, its validation into a [`Config`], and the inputs digest
//! that identifies an image recipe.
//!
//! - [`load`] / [`load_str`] read and validate the file; every error is a [`ConfigError`] that
//!   names the file, line and column and ends with a hint.
//! - [`inputs_digest`] hashes everything that defines an image (Dockerfile, build context as
//!   filtered by its `.dockerignore`, build args, target, platform); the scheme is a contract
//!   documented in [`digest`].
//! - [`Project::read`], [`propose`] and [`starter_config`] write the file that `imagegate init`
//!   proposes, from the project's Dockerfiles, CI configuration and test setup.
//!
//! This crate touches the filesystem only to read the config, check the paths it names, hash
//! build contexts and (for `init`, in [`Project::read`] alone) read the project's checkout; it
//! knows nothing of engines, registries or the store.

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
pub use starter::{
    Authorship, GitFacts, Project, Proposal, ProposedArg, ProposedImage, ProposedSuite, authorship, propose,
    starter_config, with_entries,
};
pub use warnings::ConfigWarning;

/// The name imagegate looks for, from the working directory upwards.
pub const CONFIG_FILE_NAME: &str = "imagegate.toml";
