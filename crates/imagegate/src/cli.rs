//! Command-line arguments as typed (the first of two stages: `settings.rs` turns them, the
//! environment and imagegate.toml into validated settings before any work starts).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "imagegate",
    version,
    about = "Test CI image changes like code: promote a rebuilt image only if the project's own suite does at least as well in it",
    after_help = "Exit codes: 0 pass/promoted, 1 regression (blocked), 2 usage or config error, 3 engine/infrastructure error, 4 stable pointer moved since the verdict."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The configuration file [default: imagegate.toml in this folder or above]
    #[arg(long, global = true, value_name = "PATH", env = "IMAGEGATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Container engine to use [default: `[engine] kind`, else the first that answers]
    #[arg(long, global = true, value_enum, env = "IMAGEGATE_ENGINE")]
    pub engine: Option<EngineArg>,
    /// Folder of the embedded store [default: `[store] state_dir`, else .imagegate beside the config]
    #[arg(long, global = true, value_name = "DIR", env = "IMAGEGATE_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print no progress on stderr
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    Docker,
    Podman,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write imagegate.toml from this repository's Dockerfiles, CI image builds and test setup
    Init(InitArgs),
    /// Show what `gate` would do: the inputs digest, reuse or build, the stable image
    Plan(PlanArgs),
    /// Build the candidate of each image (reused when the recipe is unchanged)
    Build(BuildArgs),
    /// Run the suite once in an image and print its results
    Test(TestArgs),
    /// Judge each candidate against its stable image and record the verdict
    Gate(GateArgs),
    /// Move the stable tag to the candidate, if a passing verdict allows it
    Promote(PromoteArgs),
    /// Point the stable tag back at the image it named before the last promotion
    Rollback(RollbackArgs),
    /// Show recorded verdicts, promotions and rollbacks
    History(HistoryArgs),
    /// Read test result files (JUnit, TAP, subunit v2, go test -json, libtest JSON) and print them normalised
    Results(ResultsArgs),
    /// Compare two result sets offline with the gate's rules (exit 1 on regression)
    Compare(CompareArgs),
    /// The whole job for every CI run: detect the provider and event, gate, promote where
    /// allowed, publish image references and reports
    #[command(after_help = CI_ENVIRONMENT_HELP)]
    Ci(CiArgs),
    /// List the packages that differ between two images (dpkg, apk, rpm, Python, npm, gems)
    Diff(DiffArgs),
    /// Remove old candidates that were never promoted from the registry store
    Prune(PruneArgs),
}

impl Command {
    /// The subcommand's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Init(_) => "init",
            Command::Plan(_) => "plan",
            Command::Build(_) => "build",
            Command::Test(_) => "test",
            Command::Gate(_) => "gate",
            Command::Promote(_) => "promote",
            Command::Rollback(_) => "rollback",
            Command::History(_) => "history",
            Command::Results(_) => "results",
            Command::Compare(_) => "compare",
            Command::Ci(_) => "ci",
            Command::Diff(_) => "diff",
            Command::Prune(_) => "prune",
        }
    }

    /// Whether `--json` was given: then stdout gets a JSON document whatever happens.
    pub fn json(&self) -> bool {
        match self {
            Command::Init(args) => args.json,
            Command::Plan(args) => args.json,
            Command::Build(args) => args.json,
            Command::Test(args) => args.json,
            Command::Gate(args) => args.json,
            Command::Promote(args) => args.json,
            Command::Rollback(args) => args.json,
            Command::History(args) => args.json,
            Command::Results(args) => args.json,
            Command::Compare(args) => args.json,
            Command::Ci(args) => args.json,
            Command::Diff(args) => args.json,
            Command::Prune(args) => args.json,
        }
    }
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Only these images [default: all]
    pub images: Vec<String>,
    /// Remove candidates older than this [default: `[store] prune_after`, else 30d]
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
    pub older_than: Option<std::time::Duration>,
    /// Say what would be removed, remove nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON (schema imagegate.prune/v1)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing imagegate.toml, or a workflow `init --ci` wrote (never the project's own CI files)
    #[arg(long)]
    pub force: bool,
    /// Print what was found and written as JSON (schema imagegate.init/v1)
    #[arg(long)]
    pub json: bool,
    /// Also write a CI workflow that runs `imagegate ci` on every branch and nightly, added to the
    /// project's own CI configuration where the provider keeps it in one file
    #[arg(long, value_enum, value_name = "PROVIDER")]
    pub ci: Option<CiProviderArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CiProviderArg {
    Github,
    Gitlab,
    Circleci,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Images to plan [default: all]
    pub images: Vec<String>,
    /// Print JSON (schema imagegate.plan/v1)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Images to build [default: all]
    pub images: Vec<String>,
    /// Rebuild without cache even when the recipe is unchanged (picks up new upstream releases)
    #[arg(long)]
    pub refresh: bool,
    /// Print JSON (schema imagegate.build/v1)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The image to test [default: the only one configured]
    pub image: Option<String>,
    /// Test the stable image instead of the candidate
    #[arg(long, conflicts_with = "shard")]
    pub stable: bool,
    /// Print JSON (schema imagegate.results/v1)
    #[arg(long)]
    pub json: bool,
    /// Run slice K of N of the suite in the candidate and the stable image (with reruns) and
    /// save the evidence for `gate --results`
    #[arg(long, value_name = "K/N", requires = "output")]
    pub shard: Option<imagegate_gate::Shard>,
    /// Folder for the shard's evidence (with --shard)
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Run the suite again, never reusing a stored run with the same image, checkout, command and environment
    #[arg(long)]
    pub fresh: bool,
    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// Images to gate [default: all]
    pub images: Vec<String>,
    /// Rebuild the candidate without cache even when the recipe is unchanged
    #[arg(long)]
    pub refresh: bool,
    /// Run every suite again, never reusing a stored run with the same image, checkout, command and environment
    #[arg(long)]
    pub fresh: bool,
    /// Promote each candidate that passes (where `[promote] branches` allows)
    #[arg(long)]
    pub promote: bool,
    /// Print JSON, one imagegate.gate/v1 document per image and line
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub reports: ReportArgs,
    /// Diff the two images' packages even when the candidate passes (always done on a regression)
    #[arg(long)]
    pub packages: bool,
    /// Skip the culprit proof after a regression (experiments that put changed packages back)
    #[arg(long)]
    pub no_culprits: bool,
    /// Keep the culprit proof's experiment images in the engine after the gate
    #[arg(long)]
    pub keep_experiments: bool,
    /// Judge from the evidence saved by `test --shard` in these folders instead of running the suite
    #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with = "refresh")]
    pub results: Vec<PathBuf>,
    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// The project commit being tested [default: git HEAD of the checkout]
    #[arg(long, env = "IMAGEGATE_COMMIT")]
    pub commit: Option<String>,
    /// The branch being tested, for the promotion policy [default: the checked-out branch]
    #[arg(long, env = "IMAGEGATE_BRANCH")]
    pub branch: Option<String>,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// Images to promote [default: all]
    pub images: Vec<String>,
    /// Print JSON (schema imagegate.pointer/v1)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The image whose stable tag goes back
    pub image: String,
    /// Print JSON (schema imagegate.pointer/v1)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this image
    pub image: Option<String>,
    /// Print JSON (schema imagegate.history/v1)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResultsArgs {
    /// Result files or folders (formats are detected by content)
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print JSON (schema imagegate.results/v1)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline results: a file or a folder (the incumbent's run)
    pub base: PathBuf,
    /// The new results: a file or a folder (the candidate's run); an id repeated there passing and
    /// failing is a failure, never flaky
    pub new: PathBuf,
    /// Print JSON (schema imagegate.compare/v1)
    #[arg(long)]
    pub json: bool,
}

/// Report files a run writes besides its stdout.
#[derive(Debug, Args, Default, Clone)]
pub struct ReportArgs {
    /// Write the run's Markdown summary (for a pull-request comment) to this file
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// Write the verdict as JUnit XML (one test case per judged test) to this file
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML report to this file
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CiArgs {
    /// Images to gate [default: all]
    pub images: Vec<String>,
    /// Folder for the run's report files (report.html, summary.md, junit.xml)
    #[arg(long, value_name = "DIR", default_value = "imagegate-reports")]
    pub report_dir: PathBuf,
    /// On a generic CI (IMAGEGATE_PROVIDER=generic): file for the image references (.json, else dotenv)
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Print JSON, one imagegate.gate/v1 document per image and line (annotations then go to stderr)
    #[arg(long)]
    pub json: bool,
    /// Skip the culprit proof after a regression (experiments that put changed packages back)
    #[arg(long)]
    pub no_culprits: bool,
    /// Keep the culprit proof's experiment images in the engine after the gate
    #[arg(long)]
    pub keep_experiments: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The image the diff starts from: a reference or id in the engine
    pub from: String,
    /// The image it goes to
    pub to: String,
    /// Print JSON (schema imagegate.diff/v1)
    #[arg(long)]
    pub json: bool,
}

/// The `IMAGEGATE_*` variables `imagegate ci` reads, for `ci --help`. The provider's own
/// variables (GITHUB_*, CI_*, CIRCLE_*) come first and cannot be overridden by these where the
/// provider sets them.
const CI_ENVIRONMENT_HELP: &str = "\
Environment variables read (besides the provider's own GITHUB_*, CI_* and CIRCLE_* ones):
  IMAGEGATE_PROVIDER        github, gitlab, circleci or generic; required only off those three
  IMAGEGATE_EVENT           push, pull_request, fork_pull_request, schedule or manual: may lower
                            a run's trust, never raise it (on generic CI: the event itself)
  IMAGEGATE_BRANCH          generic CI: the branch (ignored where the provider names one)
  IMAGEGATE_DEFAULT_BRANCH  the default branch, where the provider does not say (CircleCI)
  IMAGEGATE_COMMIT          the commit, where the provider does not say
  IMAGEGATE_CIRCLECI_TRIGGER_SOURCE
                            CircleCI: << pipeline.trigger_source >>, which a job cannot see
  IMAGEGATE_RUNNER          ephemeral or persistent: whether the runner is thrown away after
                            the job (default: detected; a local store refuses to promote there)
  IMAGEGATE_REGISTRY_USERNAME, IMAGEGATE_REGISTRY_PASSWORD, IMAGEGATE_REGISTRY_TOKEN
                            credentials for `[store] registry` (else docker's and podman's)
  IMAGEGATE_CONFIG, IMAGEGATE_ENGINE, IMAGEGATE_STATE_DIR
                            as --config, --engine and --state-dir";
