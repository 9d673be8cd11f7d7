//! `imagegate.toml`: the file format, its validation into a [`Config`], and the inputs digest
//! that identifies an image recipe.

mod model;

pub use model::*;

/// The name imagegate looks for, from the working directory upwards.
pub const CONFIG_FILE_NAME: &str = "imagegate.toml";
