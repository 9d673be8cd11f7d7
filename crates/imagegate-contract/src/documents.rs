//! The JSON documents imagegate prints.

use imagegate_results::{Counts, Outcome};
use serde::{Deserialize, Serialize};

pub const GATE_SCHEMA: &str = "imagegate.gate/v1";
pub const PLAN_SCHEMA: &str = "imagegate.plan/v1";
pub const HISTORY_SCHEMA: &str = "imagegate.history/v1";
pub const RESULTS_SCHEMA: &str = "imagegate.results/v1";
pub const DIFF_SCHEMA: &str = "imagegate.diff/v1";
pub const COMPARE_SCHEMA: &str = "imagegate.compare/v1";
pub const PRUNE_SCHEMA: &str = "imagegate.prune/v1";
pub const BUILD_SCHEMA: &str = "imagegate.build/v1";
pub const POINTER_SCHEMA: &str = "imagegate.pointer/v1";
pub const INIT_SCHEMA: &str = "imagegate.init/v1";
pub const ERROR_SCHEMA: &str = "imagegate.error/v1";

/// The gate's decision on a candidate: the one type for it, from the comparison to the store,
/// the records and every report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// At least as good as the incumbent, test by test.
    Pass,
    /// Some test that passed in the incumbent fails in the candidate.
    Regression,
    /// No judgement could be reached (no results, truncated results, timeout, engine failure).
    Error,
}

impl Decision {
    /// The decision as stored, recorded and printed: `pass`, `regression` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Pass => "pass",
            Decision::Regression => "regression",
            Decision::Error => "error",
        }
    }

    /// A stored decision. Anything but the three words is `error`: an unreadable decision must
    /// never count as a pass.
    pub fn from_stored(text: &str) -> Decision {
        match text {
            "pass" => Decision::Pass,
            "regression" => Decision::Regression,
            _ => Decision::Error,
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// `sha256:0123456789abcdef…` → `0123456789ab`, for messages and names.
pub fn short_digest(digest: &str) -> &str {
    let hex = digest.trim_start_matches("sha256:");
    &hex[..hex.char_indices().nth(12).map_or(hex.len(), |(index, _)| index)]
}

/// `1 test`, `2 tests`: the one way every message and report counts things, so that none
/// says "1 errors" or "test(s)". Every noun imagegate counts takes an `s`.
pub fn plural(count: usize, singular: &str) -> String {
    format!("{count} {}", plural_word(count, singular))
}

/// The noun of [`plural`] alone: `test` for 1, `tests` otherwise.
pub fn plural_word(count: usize, singular: &str) -> String {
    if count == 1 { singular.to_owned() } else { format!("{singular}s") }
}

/// `imagegate gate --json`: one document per image, one per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    /// Always [`GATE_SCHEMA`].
    pub schema: String,
    /// The image's name in imagegate.toml.
    pub image: String,
    pub stable_tag: String,
    /// `docker` or `podman`.
    pub engine: String,
    /// The project commit both images were tested at (`+dirty` when the checkout had changes).
    pub commit: String,
    pub branch: Option<String>,
    pub decision: Decision,
    /// One line a person reads first.
    pub summary: String,
    pub candidate: CandidateRef,
    /// `None` when there is no stable image yet (bootstrap).
    pub incumbent: Option<ImageRef>,
    /// The candidate's results, by each test's last attempt.
    pub counts: Counts,
    pub regressions: Vec<TestEntry>,
    pub flaky: Vec<TestEntry>,
    pub preexisting: Vec<TestEntry>,
    pub fixed: Vec<TestEntry>,
    /// Present when the incumbent ran only the tests the verdict needs (a suite with `list`
    /// and `rerun`): `fixed` is then not measured, and this says why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_not_measured: Option<String>,
    /// Why no judgement could be reached (set when `decision` is `error`).
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// Every suite run, in order.
    pub runs: Vec<RunSummary>,
    /// The stored verdict's id; `None` when no verdict was recorded.
    pub verdict_id: Option<i64>,
    /// What happened to the stable pointer; `None` when promotion was not asked for.
    pub promotion: Option<PromotionReport>,
    /// What changed between the two images' packages; present when the images were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<PackageDiff>,
    /// When the gate started, RFC 3339 in UTC (absent in reports made before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// The version of imagegate that made the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imagegate_version: Option<String>,
    /// Links to the commit and the CI run on the provider's site; present when the gate ran
    /// on a CI provider imagegate knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<RunLinks>,
    /// After a regression: what putting changed packages back to the incumbent's versions
    /// showed, one entry per changed package (confirmed culprits first). Added in 0.1; empty
    /// when no proof ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub culprits: Vec<Culprit>,
}

/// Where a gate ran, as the CI provider's web pages show it. Every URL is built from the
/// provider's own environment variables, never guessed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLinks {
    /// The provider's name for people: `GitHub Actions`, `GitLab CI/CD`, `CircleCI`.
    pub provider: String,
    /// `owner/name` (GitHub, CircleCI) or the project path (GitLab).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The repository's web page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_url: Option<String>,
    /// The tested commit's web page (absent for a checkout with uncommitted changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_url: Option<String>,
    /// The CI run (GitHub workflow run, GitLab job, CircleCI job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// The page that lists the run's uploaded artifacts (the HTML report among them), where
    /// the provider has one at a known address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts_url: Option<String>,
}

/// `imagegate diff --json` (schema [`DIFF_SCHEMA`]) and the gate report's `packages` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackageDiff {
    /// Present only in `imagegate diff --json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The engine the images were read from; present only in `imagegate diff --json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The image the diff starts from (the stable image in a gate report).
    pub from_image: String,
    /// The image it goes to (the candidate).
    pub to_image: String,
    /// Same package, other version; ordered by ecosystem, then name.
    pub changed: Vec<PackageChange>,
    /// In `to_image` only (`from` is null).
    pub added: Vec<PackageChange>,
    /// In `from_image` only (`to` is null).
    pub removed: Vec<PackageChange>,
    /// Packages in each image, by ecosystem.
    pub totals: std::collections::BTreeMap<String, [usize; 2]>,
    /// Problems reading an image or a package database (the diff may be partial).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// One package that differs between two images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageChange {
    /// `deb`, `apk`, `rpm`, `python`, `npm`, `gem`.
    pub ecosystem: String,
    pub name: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `upgrade`, `downgrade`, `changed` (versions not comparable), `added` or `removed`.
    pub direction: String,
    /// Where it lives in the image (a site-packages folder, a node_modules path …); empty for
    /// system package databases.
    #[serde(default)]
    pub location: String,
}

/// A changed package ranked as a likely cause of one regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspect {
    pub ecosystem: String,
    pub name: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Higher is likelier; only comparable within one regression's list.
    pub score: f64,
    /// What in the failure text points at it (a path, a module name, an import error).
    pub evidence: String,
}

/// The image under test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateRef {
    /// `sha256:<hex>` image id.
    pub digest: String,
    /// The engine tag the candidate carries.
    pub reference: String,
    /// The digest of the recipe's inputs.
    pub inputs_digest: String,
    /// `built` in this run, or `reused` from an earlier build of the same recipe.
    pub source: CandidateSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CandidateSource {
    Built,
    Reused,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    pub digest: String,
    pub reference: String,
    /// The incumbent's results; `None` when it was not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
}

/// One test in one of the report's lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestEntry {
    pub id: String,
    /// Why it is in this list.
    pub reason: String,
    /// The candidate's failure message, when there is one.
    pub message: Option<String>,
    /// The candidate's outcome on each attempt.
    pub candidate: Vec<Outcome>,
    /// The incumbent's outcome on each attempt (confirmation reruns included).
    pub incumbent: Vec<Outcome>,
    /// Changed packages that likely caused this regression, likeliest first; empty when
    /// nothing in the failure points at a changed package (regressions only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspects: Vec<Suspect>,
}

/// One run of the suite (or of a rerun) in one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// `candidate` or `incumbent`.
    pub image: String,
    /// `suite`, `rerun` or `confirm`.
    pub purpose: String,
    /// The command's exit status, never trusted alone; `None` when killed.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_seconds: f64,
    /// Tests read from its results.
    pub tests: usize,
    /// The run's output, on the machine that ran it.
    pub log: String,
    /// The last lines of that output (bounded): reports show them, since the log file stays
    /// on the machine that ran it. Kept for every run since 0.1 (before, only for runs that
    /// gave no usable results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tail: Option<String>,
    /// Files of the results folder that were not copied out, one sentence each (its path, size
    /// and why): files in no results format, and results files beyond the suite's limits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// Set when this run was not made again but its stored results reused: a run with the
    /// same image digest, checkout content, command, environment and settings was recorded
    /// before (absent for runs made by this gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused: Option<ReusedRun>,
    /// For a run of the culprit proof (`purpose: "experiment"`): the experiment image it ran in
    /// and what making that image cost (absent for other runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ExperimentImage>,
}

/// The transplant image an experiment of the culprit proof ran in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentImage {
    /// The experiment's number, as `culprits[].experiments` counts them (from 1).
    pub number: usize,
    /// The image's reference in the engine.
    pub reference: String,
    /// The packages put back to the incumbent's versions: `NAME VERSION` (`NAME (absent)` for
    /// one the incumbent lacks).
    pub put_back: Vec<String>,
    /// Time spent making and loading the image.
    pub made_seconds: f64,
    /// Bytes of the layer written over the candidate.
    pub layer_bytes: u64,
}

/// Where and when the results of a reused run were first recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReusedRun {
    /// When the run was made (RFC 3339).
    pub recorded_at: String,
    /// Where its results were found: `local` (this state folder's store) or
    /// `registry:HOST/NAMESPACE` (a registry store, where another machine may have put them).
    pub source: String,
    /// The evidence key (`sha256:…`) the results are stored under.
    pub key: String,
}

/// What happened to the stable pointer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionReport {
    pub status: PromotionStatus,
    pub message: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// `imagegate build --json` (schema [`BUILD_SCHEMA`]): the candidate of each image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildReport {
    /// Always [`BUILD_SCHEMA`].
    pub schema: String,
    pub engine: String,
    pub images: Vec<BuildEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildEntry {
    pub image: String,
    pub candidate: CandidateRef,
}

/// `imagegate promote --json` and `imagegate rollback --json` (schema [`POINTER_SCHEMA`]):
/// what happened to each image's stable pointer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointerReport {
    /// Always [`POINTER_SCHEMA`].
    pub schema: String,
    pub engine: String,
    /// `promote` or `rollback`.
    pub operation: String,
    pub images: Vec<PointerEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointerEntry {
    pub image: String,
    pub stable_tag: String,
    /// `None` when the move failed; `error` then says why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<PromotionReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PromotionStatus {
    /// The stable pointer now names the candidate.
    Promoted,
    /// The stable pointer already named the candidate.
    UpToDate,
    /// Not attempted: the decision was not `pass`.
    Blocked,
    /// Not attempted: promotion is not allowed here (branch).
    NotAllowed,
    /// Refused: no passing verdict for the candidate against the current stable image.
    Refused,
    /// The stable pointer moved since the verdict (exit 4).
    PointerMoved,
}

/// `imagegate plan --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanReport {
    /// Always [`PLAN_SCHEMA`].
    pub schema: String,
    pub engine: String,
    /// The registry store (`HOST/NAMESPACE`) when one is configured; digests are then
    /// manifest digests in that registry, else image ids in the engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    pub images: Vec<PlanEntry>,
    /// What the preflight found that would make a build or a gate fail; `plan` exits 2 when
    /// there is any, and nothing is built.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<PreflightProblem>,
    /// What the preflight found worth fixing that does not stop a build.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<PreflightProblem>,
}

/// One finding of the preflight, pointing at the line that causes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightProblem {
    /// The image's name in imagegate.toml.
    pub image: String,
    /// The file at fault, relative to the folder of imagegate.toml when inside it: a
    /// Dockerfile or imagegate.toml itself.
    pub file: String,
    /// 1-based line in `file`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
    /// What to do about it, without the `hint: ` prefix.
    pub hint: String,
}

impl std::fmt::Display for PreflightProblem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(formatter, "`{}:{line}`: {}", self.file, self.message)?,
            None => write!(formatter, "`{}`: {}", self.file, self.message)?,
        }
        write!(formatter, "\n  hint: {}", self.hint)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    pub image: String,
    pub stable_tag: String,
    pub inputs_digest: String,
    /// Files hashed from the build context.
    pub context_files: usize,
    /// `reuse` an existing candidate of this recipe, or `build` one.
    pub action: PlanAction,
    /// The candidate that would be reused.
    pub candidate: Option<String>,
    /// Where the stable pointer is now.
    pub stable: Option<String>,
    /// The newest verdict on the reused candidate.
    pub last_verdict: Option<VerdictSummary>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanAction {
    Reuse,
    Build,
    /// The candidate of this recipe is the stable image already.
    Current,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictSummary {
    pub id: i64,
    pub decision: Decision,
    pub candidate: String,
    pub incumbent: Option<String>,
    pub commit: String,
    pub created_at: String,
}

/// `imagegate history --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryReport {
    /// Always [`HISTORY_SCHEMA`].
    pub schema: String,
    pub engine: String,
    /// The registry store the history was read from, when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    pub events: Vec<HistoryEvent>,
}

/// `imagegate prune --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PruneReport {
    /// Always [`PRUNE_SCHEMA`].
    pub schema: String,
    /// The registry store.
    pub store: String,
    /// Nothing was deleted: the report says what would be.
    pub dry_run: bool,
    /// Candidates created before this time (RFC 3339) and never promoted are removed.
    pub cutoff: String,
    pub candidates: Vec<PruneCandidate>,
    /// Stored suite runs (evidence for reuse) recorded before the cutoff, removed (or, in a dry
    /// run, that would be).
    #[serde(default)]
    pub evidence_removed: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneCandidate {
    pub image: String,
    /// The candidate's tag in the registry.
    pub tag: String,
    pub digest: String,
    pub created: Option<String>,
    /// `removed` (or, in a dry run, would be), or `kept`.
    pub action: PruneAction,
    /// Why it is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PruneAction {
    Removed,
    Kept,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum HistoryEvent {
    Verdict {
        id: i64,
        image: String,
        decision: Decision,
        candidate: String,
        incumbent: Option<String>,
        commit: String,
        regressions: Vec<String>,
        at: String,
    },
    Promote {
        id: i64,
        image: String,
        stable_tag: String,
        from: Option<String>,
        to: Option<String>,
        verdict_id: Option<i64>,
        at: String,
        /// With `[store] lockfile`: the lockfile's commit that made this move. A move known
        /// only from the lockfile (made from another clone, or by hand) has `id` 0.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lockfile_commit: Option<String>,
    },
    Rollback {
        id: i64,
        image: String,
        stable_tag: String,
        from: Option<String>,
        to: Option<String>,
        at: String,
        /// As for `promote`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lockfile_commit: Option<String>,
    },
}

/// `imagegate test --json`: the normalised results of a suite run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsReport {
    /// Always [`RESULTS_SCHEMA`].
    pub schema: String,
    /// The engine the suite ran in (`test --json`); absent for `results`, which reads files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    pub counts: Counts,
    pub incomplete: Vec<String>,
    pub tests: Vec<ResultLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultLine {
    pub id: String,
    pub outcome: Outcome,
    pub attempts: Vec<Outcome>,
    pub message: Option<String>,
}

/// `imagegate init --json`: what `init` found in the project, what it guessed, and the files
/// it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitReport {
    /// Always [`INIT_SCHEMA`].
    pub schema: String,
    /// The configuration file written.
    pub config: String,
    pub images: Vec<InitImage>,
    pub suite: InitSuite,
    /// Findings about no one image (a CI file that could not be read, a build left out).
    pub notes: Vec<String>,
    /// Every file written or appended to, relative to the configuration's folder.
    pub written: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitImage {
    pub name: String,
    pub dockerfile: String,
    pub context: String,
    /// Build args with a value; those `init` could not learn are in `unset_build_args`.
    pub build_args: std::collections::BTreeMap<String, String>,
    pub unset_build_args: Vec<String>,
    pub target: Option<String>,
    pub platform: Option<String>,
    pub stable_tag: String,
    pub stable_tag_guessed: bool,
    pub inputs: Vec<String>,
    /// Where it came from: `.circleci/config.yml job build-image-debian-12`, or a Dockerfile.
    pub origin: String,
    /// `false` when written commented out (a Dockerfile no CI job builds).
    pub enabled: bool,
    pub guesses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitSuite {
    pub command: String,
    pub results: String,
    pub env: std::collections::BTreeMap<String, String>,
    pub rerun: Option<String>,
    pub source: String,
    pub placeholder: bool,
    pub guesses: Vec<String>,
}

/// What a `--json` command prints instead of its own document when it fails with an error
/// (schema [`ERROR_SCHEMA`]), so that every `--json` run prints a document whatever its exit
/// code. `gate` and `ci` print one per image that failed, beside the other images' reports.
/// It never holds credentials: the message is the one printed on stderr, where secrets are
/// already redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDocument {
    /// Always [`ERROR_SCHEMA`].
    pub schema: String,
    /// The subcommand that failed (`gate`, `plan`, `history` …).
    pub command: String,
    /// The image the error is about, when the command went on with other images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The exit code this error stands for (2 usage or configuration, 3 infrastructure …).
    pub exit_code: i32,
    /// What failed, one stable word: `usage`, `config`, `preflight`, `engine`, `registry`,
    /// `transfer` (the engine's push or pull failed on every retry), `store`, `lockfile`,
    /// `refused`, `pointer-moved`, `verify`, `io`, `ci`, `auth`,
    /// `infrastructure`, `damaged-record`, `shards`, `interrupted`.
    pub kind: String,
    /// The error as printed on stderr, without its hint.
    pub message: String,
    /// What to do about it, when imagegate knows.
    pub hint: Option<String>,
}

impl ErrorDocument {
    /// A document for `message` as the CLI renders it: a trailing `\n  hint: …` line becomes
    /// [`ErrorDocument::hint`].
    pub fn new(command: &str, exit_code: i32, kind: &str, rendered: &str) -> ErrorDocument {
        let (message, hint) = match rendered.rsplit_once("\n  hint: ") {
            Some((message, hint)) if !hint.contains('\n') => (message.to_owned(), Some(hint.to_owned())),
            _ => (rendered.to_owned(), None),
        };
        ErrorDocument {
            schema: ERROR_SCHEMA.to_owned(),
            command: command.to_owned(),
            image: None,
            exit_code,
            kind: kind.to_owned(),
            message,
            hint,
        }
    }
}

#[cfg(test)]
mod error_document_tests {
    use super::*;

    #[test]
    fn a_trailing_hint_is_split_off_and_other_text_kept_whole() {
        let document = ErrorDocument::new("plan", 2, "config", "bad key `x`\n  hint: did you mean `y`?");
        assert_eq!(document.message, "bad key `x`");
        assert_eq!(document.hint.as_deref(), Some("did you mean `y`?"));
        let several = "a\n  hint: one\nerror: b\n  hint: two\nerror: 2 problems";
        let document = ErrorDocument::new("gate", 2, "preflight", several);
        assert_eq!((document.message.as_str(), document.hint), (several, None));
        let json = serde_json::to_value(ErrorDocument::new("history", 3, "registry", "down")).unwrap();
        assert_eq!(json["schema"], ERROR_SCHEMA);
        assert!(json.get("image").is_none(), "{json}");
    }
}

/// One changed package as the culprit proof judged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Culprit {
    /// `dpkg`, `python`, `npm`, `apk`, …
    pub ecosystem: String,
    pub name: String,
    /// The environment it lives in (a Python site-packages folder, an npm tree); empty for
    /// system package databases.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
    /// Its version in the incumbent (`None` when the candidate added it).
    pub from: Option<String>,
    /// Its version in the candidate (`None` when the candidate removed it).
    pub to: Option<String>,
    /// `confirmed` (putting it back, with its partners, makes the regressions pass),
    /// `cleared` or `inconclusive`.
    pub verdict: String,
    /// The regressed tests its put-back made pass.
    pub regressions: Vec<String>,
    /// The experiments (numbered from 1, in the order run) it was put back in.
    pub experiments: Vec<usize>,
    /// The packages it is confirmed together with, as `name` (a pair that breaks only
    /// together, or culprits that must all be put back).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partners: Vec<String>,
    /// The constraint that would keep the incumbent's version (`markupsafe<2.1`, `libfoo=1.2-3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
