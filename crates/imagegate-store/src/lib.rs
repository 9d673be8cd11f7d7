//! The embedded store: every build, verdict and promotion, in one SQLite file (WAL mode) in the
//! project's state folder. No server is needed; several imagegate processes on one machine may
//! share it, and promotions are serialised by a write lock on it.

mod records;
mod sqlite;

pub use records::{
    BuildRecord, Event, MoveIntent, NewBuild, NewPromotion, NewVerdict, PromotionKind, PromotionRecord, VerdictRecord,
};
pub use sqlite::{Store, StoreError};
