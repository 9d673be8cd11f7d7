//! `imagegate.toml` as written: every value with its position in the file, nothing defaulted
//! or checked beyond its TOML type. [`crate::load`] turns this into a validated [`crate::Config`].
//!
//! These structs must accept exactly the keys of [`crate::schema`]; `deny_unknown_fields`
//! makes any drift between the two fail the full-example test instead of passing silently.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub engine: Option<RawEngine>,
    pub promote: Option<RawPromote>,
    pub store: Option<RawStore>,
    pub images: Option<Spanned<BTreeMap<Spanned<String>, Spanned<RawImage>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEngine {
    pub kind: Option<Spanned<String>>,
    pub build_network: Option<Spanned<String>>,
    /// Wider than the model's `u32` so that out-of-range values reach validation.
    pub concurrency: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPromote {
    pub branches: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub state_dir: Option<Spanned<String>>,
    pub registry: Option<Spanned<String>>,
    pub candidates: Option<Spanned<String>>,
    pub insecure: Option<Spanned<bool>>,
    pub ca_file: Option<Spanned<String>>,
    pub prune_after: Option<Spanned<String>>,
    pub lockfile: Option<Spanned<String>>,
    pub lockfile_remote: Option<Spanned<String>>,
    pub lockfile_branch: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImage {
    pub dockerfile: Option<Spanned<String>>,
    pub context: Option<Spanned<String>>,
    pub inputs: Option<Spanned<Vec<Spanned<String>>>>,
    pub build_args: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub target: Option<Spanned<String>>,
    pub platform: Option<Spanned<String>>,
    pub stable_tag: Option<Spanned<String>>,
    pub suite: Option<Spanned<RawSuite>>,
    pub culprits: Option<Spanned<RawCulprits>>,
}

/// `[images.NAME.culprits]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCulprits {
    /// Wider than the model's `u32`, as `attempts`, so that validation reports the value.
    pub budget: Option<Spanned<i64>>,
    pub keep: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSuite {
    pub command: Option<Spanned<String>>,
    pub results: Option<Spanned<String>>,
    pub workdir: Option<Spanned<String>>,
    pub env: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub timeout: Option<Spanned<String>>,
    pub rerun: Option<Spanned<String>>,
    /// Wider than the model's `u32` so that out-of-range values reach validation, which
    /// reports them in the file's terms.
    pub attempts: Option<Spanned<i64>>,
    pub network: Option<Spanned<String>>,
    pub shard: Option<Spanned<String>>,
    pub list: Option<Spanned<String>>,
    pub incumbent: Option<Spanned<String>>,
    pub reuse: Option<Spanned<bool>>,
    pub max_results_size: Option<Spanned<String>>,
    /// Wide, as `attempts`, so that out-of-range values reach validation.
    pub max_results_files: Option<Spanned<i64>>,
    pub limits: Option<Spanned<RawLimits>>,
}

/// `[images.NAME.suite.limits]`: what the test container may use and do.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    /// Wider than the model's `u32`, as `attempts`, so that validation reports the value.
    pub pids: Option<Spanned<i64>>,
    pub memory: Option<Spanned<String>>,
    /// An integer or a float in the file.
    pub cpus: Option<Spanned<f64>>,
    pub capabilities: Option<Spanned<Vec<Spanned<String>>>>,
    pub no_new_privileges: Option<Spanned<bool>>,
    pub read_only: Option<Spanned<bool>>,
    pub log_size: Option<Spanned<String>>,
}
