//! The embedded store: every build, verdict and promotion, in one SQLite file (WAL mode) in the
//! project's state folder. No server is needed; several imagegate processes on one machine may
//! share it. Pointer moves are two-phase: their intent is stored before the pointer moves and
//! settled after (`move_intents`).

mod records;
mod sqlite;

pub use records::{
    BuildRecord, Event, MoveIntent, NewBuild, NewPromotion, NewVerdict, PromotionKind, PromotionRecord, StoredEvidence,
    VerdictRecord,
};
pub use sqlite::{EVIDENCE_KEPT_PER_IMAGE, Store, StoreError};
