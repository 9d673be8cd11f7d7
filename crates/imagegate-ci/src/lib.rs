//! CI providers: detecting where a run happens (provider, branch, default branch, event, trust)
//! from the provider's environment and event payload, and writing outputs where it reads them.
//!
//! - [`detect()`] turns an environment map (and GitHub's event payload, read through a callback)
//!   into a [`CiRun`]; [`CiRun::may_promote`] is the one rule for promoting from it. Both are
//!   pure.
//! - [`publication::plan`] turns a run's [`Outputs`] into the text of each file to write and of
//!   what to print, per provider; [`outputs`] does the writing, the crate's only file I/O.
//! - [`templates::workflow`] is the CI configuration `imagegate init --ci` writes, and
//!   [`merge`] adds it to a project's own one-file configuration, keeping its text.
//!
//! Each provider's file (`github.rs`, `gitlab.rs`, `circleci.rs`, `generic.rs`) lists the
//! variables it reads and the documentation they come from.
//!
//! Architecture Invariant: trust comes from the provider. No `IMAGEGATE_*` variable can make
//! a run trusted that the provider reports as a pull request, a tag or an unknown trigger, and
//! a malformed or missing event payload is an error, never a trusted run.

mod circleci;
mod detect;
mod error;
mod generic;
mod github;
mod gitlab;
mod links;
pub mod merge;
pub mod outputs;
pub mod publication;
mod run;
pub mod templates;

pub use detect::{ReadFile, detect, process_environment};
pub use error::{CiError, OutputError, TemplateError};
pub use links::run_links;
pub use publication::{Annotation, AnnotationKind, ImageReference, Outputs};
pub use run::{CiRun, Event, Provider};

/// Text of each provider's output formats, for callers that write them some other way.
pub mod formats {
    pub use crate::circleci::{env_file as circleci_env_file, single_quote};
    pub use crate::generic::json as generic_json;
    pub use crate::github::{
        annotation_lines as github_annotations, escape_data as github_escape_data,
        escape_property as github_escape_property, output_lines as github_output_lines,
        step_summary as github_step_summary,
    };
    pub use crate::gitlab::dotenv;
    pub use crate::publication::variable_name;
}
