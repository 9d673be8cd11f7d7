//! The rows of the store, as plain values.

use serde::{Deserialize, Serialize};

/// A candidate image built from a recipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    pub id: i64,
    pub engine: String,
    pub image: String,
    pub inputs_digest: String,
    /// `sha256:<hex>` image id.
    pub image_id: String,
    /// Built with no cache (a refresh).
    pub refreshed: bool,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct NewBuild<'a> {
    pub engine: &'a str,
    pub image: &'a str,
    pub inputs_digest: &'a str,
    pub image_id: &'a str,
    pub refreshed: bool,
}

/// A recorded judgement of a candidate against an incumbent at one project commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub id: i64,
    /// Whose record it is: the engine (`docker`, `podman`) for the local store, or the shared
    /// store it belongs to (`registry:HOST/NAMESPACE`).
    pub scope: String,
    pub image: String,
    pub stable_tag: String,
    pub candidate: String,
    pub inputs_digest: String,
    /// `None`: there was no stable image (bootstrap).
    pub incumbent: Option<String>,
    pub commit: String,
    /// `pass`, `regression` or `error`.
    pub decision: String,
    /// The full gate report (per-test diff included) as JSON.
    pub report_json: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct NewVerdict<'a> {
    /// Whose record it is: the engine (`docker`, `podman`) for the local store, or the shared
    /// store it belongs to (`registry:HOST/NAMESPACE`).
    pub scope: &'a str,
    pub image: &'a str,
    pub stable_tag: &'a str,
    pub candidate: &'a str,
    pub inputs_digest: &'a str,
    pub incumbent: Option<&'a str>,
    pub commit: &'a str,
    pub decision: &'a str,
    pub report_json: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromotionKind {
    Promote,
    Rollback,
}

impl PromotionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PromotionKind::Promote => "promote",
            PromotionKind::Rollback => "rollback",
        }
    }
}

/// A move of a stable pointer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionRecord {
    pub id: i64,
    /// Whose record it is: the engine (`docker`, `podman`) for the local store, or the shared
    /// store it belongs to (`registry:HOST/NAMESPACE`).
    pub scope: String,
    pub image: String,
    pub stable_tag: String,
    pub kind: PromotionKind,
    /// Where the pointer was before; `None` when it did not exist.
    pub from_digest: Option<String>,
    /// Where it points now; `None` when a rollback removed it.
    pub to_digest: Option<String>,
    /// The verdict that allowed it (always set for promotions).
    pub verdict_id: Option<i64>,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct NewPromotion<'a> {
    /// Whose record it is: the engine (`docker`, `podman`) for the local store, or the shared
    /// store it belongs to (`registry:HOST/NAMESPACE`).
    pub scope: &'a str,
    pub image: &'a str,
    pub stable_tag: &'a str,
    pub kind: PromotionKind,
    pub from_digest: Option<&'a str>,
    pub to_digest: Option<&'a str>,
    pub verdict_id: Option<i64>,
}

/// One line of history: a verdict or a pointer move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Verdict(VerdictRecord),
    Promotion(PromotionRecord),
}

impl Event {
    pub fn created_at(&self) -> &str {
        match self {
            Event::Verdict(verdict) => &verdict.created_at,
            Event::Promotion(promotion) => &promotion.created_at,
        }
    }
}

/// The intent of a pointer move, stored before the pointer moves and settled after it; one
/// still pending was interrupted (see `Store::begin_move`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveIntent {
    pub id: i64,
    pub scope: String,
    pub image: String,
    pub stable_tag: String,
    pub kind: PromotionKind,
    pub from_digest: Option<String>,
    pub to_digest: Option<String>,
    pub verdict_id: Option<i64>,
    /// The process that meant to move it (`HOST/BOOT/PID/START`).
    pub owner: String,
    pub created_at: String,
}

/// The stored results of one complete suite run (see `Store::keep_evidence`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvidence {
    /// `sha256:…` of everything that determines the run's results.
    pub key: String,
    /// The image's name in imagegate.toml (pruning keeps the newest runs per image).
    pub image: String,
    /// When the run was made (RFC 3339).
    pub recorded_at: String,
    /// Where it was first recorded: `local`, or `registry:HOST/NAMESPACE`.
    pub source: String,
    /// The run's results and summary, as the gate serialises them.
    pub run_json: String,
}
