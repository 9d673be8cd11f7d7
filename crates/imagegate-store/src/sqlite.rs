//! The SQLite implementation of the store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::{
    BuildRecord, Event, MoveIntent, NewBuild, NewPromotion, NewVerdict, PromotionKind, PromotionRecord, StoredEvidence,
    VerdictRecord,
};

/// The store file inside the state folder.
pub const DATABASE_FILE: &str = "imagegate.db";

/// The schema, versioned by `PRAGMA user_version`. Migrations only ever append.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE builds (
    id INTEGER PRIMARY KEY,
    engine TEXT NOT NULL,
    image TEXT NOT NULL,
    inputs_digest TEXT NOT NULL,
    image_id TEXT NOT NULL,
    refreshed INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX builds_by_inputs ON builds (engine, image, inputs_digest);
CREATE TABLE verdicts (
    id INTEGER PRIMARY KEY,
    engine TEXT NOT NULL,
    image TEXT NOT NULL,
    stable_tag TEXT NOT NULL,
    candidate TEXT NOT NULL,
    inputs_digest TEXT NOT NULL,
    incumbent TEXT,
    commit_sha TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('pass', 'regression', 'error')),
    report_json TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX verdicts_by_candidate ON verdicts (engine, image, candidate);
CREATE TABLE promotions (
    id INTEGER PRIMARY KEY,
    engine TEXT NOT NULL,
    image TEXT NOT NULL,
    stable_tag TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('promote', 'rollback')),
    from_digest TEXT,
    to_digest TEXT,
    verdict_id INTEGER REFERENCES verdicts (id),
    created_at TEXT NOT NULL,
    -- a promotion always references a stored verdict
    CHECK (kind = 'rollback' OR verdict_id IS NOT NULL)
);
CREATE INDEX promotions_by_image ON promotions (engine, image);
"#,
    r#"
-- In registry mode the registry holds every verdict and promotion as an OCI artifact; the
-- local rows are a cache of them, keyed by the artifact's manifest digest.
ALTER TABLE verdicts ADD COLUMN record TEXT;
ALTER TABLE promotions ADD COLUMN record TEXT;
CREATE UNIQUE INDEX verdicts_by_record ON verdicts (record) WHERE record IS NOT NULL;
CREATE UNIQUE INDEX promotions_by_record ON promotions (record) WHERE record IS NOT NULL;
"#,
    r#"
-- Verdicts and promotions belong to a scope, not an engine: the engine in the local store, but
-- `registry:HOST/NAMESPACE` for the cache of a registry store's records. (Builds keep `engine`:
-- a build is always made in, and only found in, one engine.) SQLite renames the indexes' column
-- with it.
ALTER TABLE verdicts RENAME COLUMN engine TO scope;
ALTER TABLE promotions RENAME COLUMN engine TO scope;
"#,
    r#"
-- Pointer moves are two-phase: the intent is stored (and committed) before the pointer moves,
-- and settled after it: `completed` with the promotion row that records the move, or
-- `abandoned` when the pointer never moved. A process killed between the two leaves a
-- `pending` intent, which the next command settles against the pointer.
CREATE TABLE move_intents (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    image TEXT NOT NULL,
    stable_tag TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('promote', 'rollback')),
    from_digest TEXT,
    to_digest TEXT,
    verdict_id INTEGER REFERENCES verdicts (id),
    owner TEXT NOT NULL,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'completed', 'abandoned')),
    promotion_id INTEGER REFERENCES promotions (id),
    settled_at TEXT
);
CREATE INDEX move_intents_pending ON move_intents (scope, image) WHERE state = 'pending';
"#,
    r#"
-- Evidence: the per-test results of complete suite runs, keyed by a digest of everything that
-- determines them (image digest, checkout content, command, environment, settings, imagegate's
-- version), so that a later gate needing the same run reuses them. `run_json` holds the
-- results and the run's summary; environment values are never stored, only hashed into `key`.
-- `source` says where the run was first recorded (`local`, or the registry it came from).
CREATE TABLE evidence (
    key TEXT PRIMARY KEY,
    image TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    source TEXT NOT NULL,
    run_json TEXT NOT NULL
);
CREATE INDEX evidence_by_image ON evidence (image, recorded_at);
"#,
];

/// How many stored runs [`Store::keep_evidence`] keeps per image, newest first: enough for the
/// runs of a few gates on both images, bounded so that the store does not grow with every push.
pub const EVIDENCE_KEPT_PER_IMAGE: usize = 64;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("open the store at `{}`: {source}", path.display())]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("create the state folder `{}`: {source}", path.display())]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("{operation} in the store at `{}`: {source}", path.display())]
    Query { operation: &'static str, path: PathBuf, source: rusqlite::Error },
    #[error(
        "the store at `{}` has schema version {found}, newer than this imagegate knows ({known})\n  hint: upgrade imagegate",
        path.display()
    )]
    TooNew { path: PathBuf, found: i64, known: i64 },
}

/// An open store.
#[derive(Debug)]
pub struct Store {
    connection: Connection,
    path: PathBuf,
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

impl Store {
    /// Opens (creating if needed) the store in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(state_dir)
            .map_err(|source| StoreError::CreateDir { path: state_dir.to_path_buf(), source })?;
        let path = state_dir.join(DATABASE_FILE);
        let open_error = |source| StoreError::Open { path: path.clone(), source };
        let connection = Connection::open(&path).map_err(open_error)?;
        // Other imagegate processes may hold the write lock while they promote; wait for them.
        connection.busy_timeout(Duration::from_secs(60)).map_err(open_error)?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            .map_err(open_error)?;
        let store = Store { connection, path };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn query_error(&self, operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Query { operation, path: self.path.clone(), source }
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let version: i64 = self
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(self.query_error("read the schema version"))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { path: self.path.clone(), found: version, known });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let batch = format!("BEGIN IMMEDIATE; {migration}; PRAGMA user_version = {}; COMMIT;", index + 1);
            self.connection.execute_batch(&batch).map_err(self.query_error("migrate the schema"))?;
        }
        Ok(())
    }

    /// Runs `work` holding the store's write lock (a `BEGIN IMMEDIATE` transaction), committing
    /// when it returns `Ok`. Pointer moves do not run inside it: their intent must be committed
    /// before the pointer moves (see [`Store::begin_move`]), and they are serialised by a lock
    /// that also covers other state folders.
    pub fn exclusive<T, E: From<StoreError>>(&self, work: impl FnOnce(&Store) -> Result<T, E>) -> Result<T, E> {
        self.connection.execute_batch("BEGIN IMMEDIATE").map_err(self.query_error("take the write lock"))?;
        match work(self) {
            Ok(value) => {
                self.connection.execute_batch("COMMIT").map_err(self.query_error("commit"))?;
                Ok(value)
            }
            Err(error) => {
                let _ = self.connection.execute_batch("ROLLBACK");
                Err(error)
            }
        }
    }

    /// Stores a run's evidence under `key` (the first one stored under a key stays), then
    /// drops the image's oldest beyond [`EVIDENCE_KEPT_PER_IMAGE`].
    pub fn keep_evidence(&self, evidence: &StoredEvidence) -> Result<(), StoreError> {
        self.connection
            .execute(
                "INSERT OR IGNORE INTO evidence (key, image, recorded_at, source, run_json) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![evidence.key, evidence.image, evidence.recorded_at, evidence.source, evidence.run_json],
            )
            .map_err(self.query_error("store a run's evidence"))?;
        self.prune_evidence(&evidence.image, EVIDENCE_KEPT_PER_IMAGE)?;
        Ok(())
    }

    /// The evidence stored under `key`.
    pub fn evidence(&self, key: &str) -> Result<Option<StoredEvidence>, StoreError> {
        self.connection
            .query_row("SELECT key, image, recorded_at, source, run_json FROM evidence WHERE key = ?1", [key], |row| {
                Ok(StoredEvidence {
                    key: row.get(0)?,
                    image: row.get(1)?,
                    recorded_at: row.get(2)?,
                    source: row.get(3)?,
                    run_json: row.get(4)?,
                })
            })
            .optional()
            .map_err(self.query_error("read a run's evidence"))
    }

    /// Drops the evidence of `image` beyond its `keep` newest runs; returns how many went.
    pub fn prune_evidence(&self, image: &str, keep: usize) -> Result<usize, StoreError> {
        self.connection
            .execute(
                "DELETE FROM evidence WHERE image = ?1 AND key NOT IN
                 (SELECT key FROM evidence WHERE image = ?1 ORDER BY recorded_at DESC, rowid DESC LIMIT ?2)",
                params![image, i64::try_from(keep).unwrap_or(i64::MAX)],
            )
            .map_err(self.query_error("prune stored evidence"))
    }

    pub fn record_build(&self, build: &NewBuild<'_>) -> Result<i64, StoreError> {
        self.connection
            .execute(
                "INSERT INTO builds (engine, image, inputs_digest, image_id, refreshed, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![build.engine, build.image, build.inputs_digest, build.image_id, build.refreshed, now()],
            )
            .map_err(self.query_error("record a build"))?;
        Ok(self.connection.last_insert_rowid())
    }

    /// The builds of one recipe, newest first.
    pub fn builds_for(&self, engine: &str, image: &str, inputs_digest: &str) -> Result<Vec<BuildRecord>, StoreError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT id, engine, image, inputs_digest, image_id, refreshed, created_at FROM builds
                 WHERE engine = ?1 AND image = ?2 AND inputs_digest = ?3 ORDER BY id DESC",
            )
            .map_err(self.query_error("read builds"))?;
        let rows = statement
            .query_map(params![engine, image, inputs_digest], build_from_row)
            .map_err(self.query_error("read builds"))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.query_error("read builds"))
    }

    pub fn record_verdict(&self, verdict: &NewVerdict<'_>) -> Result<i64, StoreError> {
        self.insert_verdict(verdict, &now(), None)
    }

    fn insert_verdict(
        &self,
        verdict: &NewVerdict<'_>,
        created_at: &str,
        record: Option<&str>,
    ) -> Result<i64, StoreError> {
        self.connection
            .execute(
                "INSERT INTO verdicts (scope, image, stable_tag, candidate, inputs_digest, incumbent, commit_sha, decision, report_json, created_at, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    verdict.scope,
                    verdict.image,
                    verdict.stable_tag,
                    verdict.candidate,
                    verdict.inputs_digest,
                    verdict.incumbent,
                    verdict.commit,
                    verdict.decision,
                    verdict.report_json,
                    created_at,
                    record
                ],
            )
            .map_err(self.query_error("record a verdict"))?;
        Ok(self.connection.last_insert_rowid())
    }

    /// Stores a verdict read from a registry record (or just written as one), once: a record
    /// already here keeps its row. Returns the row's id.
    pub fn import_verdict(&self, record: &str, verdict: &NewVerdict<'_>, created_at: &str) -> Result<i64, StoreError> {
        match self.id_of_record("verdicts", record)? {
            Some(id) => Ok(id),
            None => self.insert_verdict(verdict, created_at, Some(record)),
        }
    }

    /// Stores a pointer move read from a registry record, once. Its verdict must be here.
    pub fn import_promotion(
        &self,
        record: &str,
        promotion: &NewPromotion<'_>,
        created_at: &str,
    ) -> Result<i64, StoreError> {
        match self.id_of_record("promotions", record)? {
            Some(id) => Ok(id),
            None => self.insert_promotion(promotion, created_at, Some(record)),
        }
    }

    fn id_of_record(&self, table: &str, record: &str) -> Result<Option<i64>, StoreError> {
        self.connection
            .query_row(&format!("SELECT id FROM {table} WHERE record = ?1"), params![record], |row| row.get(0))
            .optional()
            .map_err(self.query_error("look up a record"))
    }

    /// The id of the verdict imported from registry record `record`.
    pub fn verdict_id_of_record(&self, record: &str) -> Result<Option<i64>, StoreError> {
        self.id_of_record("verdicts", record)
    }

    /// The registry record a verdict came from, if it came from one.
    pub fn record_of_verdict(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.connection
            .query_row("SELECT record FROM verdicts WHERE id = ?1", params![id], |row| row.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(self.query_error("read a verdict"))
    }

    /// Every registry record already imported.
    pub fn imported_records(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT record FROM verdicts WHERE record IS NOT NULL UNION SELECT record FROM promotions WHERE record IS NOT NULL",
            )
            .map_err(self.query_error("read records"))?;
        let rows = statement.query_map([], |row| row.get(0)).map_err(self.query_error("read records"))?;
        rows.collect::<Result<_, _>>().map_err(self.query_error("read records"))
    }

    pub fn verdict(&self, id: i64) -> Result<Option<VerdictRecord>, StoreError> {
        self.connection
            .query_row(&format!("{VERDICT_COLUMNS} WHERE id = ?1"), params![id], verdict_from_row)
            .optional()
            .map_err(self.query_error("read a verdict"))
    }

    /// The local engine (`docker` or `podman`) of the newest verdict on `image` made with the
    /// embedded store, if any: where that image's stable tag and candidates live. Verdicts of
    /// the registry store are left out, since their pointers live in the registry.
    pub fn latest_local_engine(&self, image: &str) -> Result<Option<String>, StoreError> {
        self.connection
            .query_row(
                "SELECT scope FROM verdicts WHERE image = ?1 AND scope NOT LIKE 'registry:%' ORDER BY id DESC LIMIT 1",
                params![image],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.query_error("read verdicts"))
    }

    /// The newest verdict on `candidate`, whatever its decision.
    pub fn latest_verdict(
        &self,
        scope: &str,
        image: &str,
        candidate: &str,
    ) -> Result<Option<VerdictRecord>, StoreError> {
        self.connection
            .query_row(
                &format!(
                    "{VERDICT_COLUMNS} WHERE scope = ?1 AND image = ?2 AND candidate = ?3 ORDER BY id DESC LIMIT 1"
                ),
                params![scope, image, candidate],
                verdict_from_row,
            )
            .optional()
            .map_err(self.query_error("read verdicts"))
    }

    /// The newest verdict on `candidate` judged against exactly `incumbent`.
    pub fn latest_verdict_against(
        &self,
        scope: &str,
        image: &str,
        candidate: &str,
        incumbent: Option<&str>,
    ) -> Result<Option<VerdictRecord>, StoreError> {
        self.connection
            .query_row(
                &format!(
                    "{VERDICT_COLUMNS} WHERE scope = ?1 AND image = ?2 AND candidate = ?3 AND incumbent IS ?4 ORDER BY id DESC LIMIT 1"
                ),
                params![scope, image, candidate, incumbent],
                verdict_from_row,
            )
            .optional()
            .map_err(self.query_error("read verdicts"))
    }

    pub fn record_promotion(&self, promotion: &NewPromotion<'_>) -> Result<i64, StoreError> {
        self.insert_promotion(promotion, &now(), None)
    }

    fn insert_promotion(
        &self,
        promotion: &NewPromotion<'_>,
        created_at: &str,
        record: Option<&str>,
    ) -> Result<i64, StoreError> {
        self.connection
            .execute(
                "INSERT INTO promotions (scope, image, stable_tag, kind, from_digest, to_digest, verdict_id, created_at, record)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    promotion.scope,
                    promotion.image,
                    promotion.stable_tag,
                    promotion.kind.as_str(),
                    promotion.from_digest,
                    promotion.to_digest,
                    promotion.verdict_id,
                    created_at,
                    record
                ],
            )
            .map_err(self.query_error("record a promotion"))?;
        Ok(self.connection.last_insert_rowid())
    }

    /// Pointer moves of one image, newest first.
    pub fn promotions(&self, scope: &str, image: &str) -> Result<Vec<PromotionRecord>, StoreError> {
        let mut statement = self
            .connection
            .prepare(&format!("{PROMOTION_COLUMNS} WHERE scope = ?1 AND image = ?2 ORDER BY id DESC"))
            .map_err(self.query_error("read promotions"))?;
        let rows = statement
            .query_map(params![scope, image], promotion_from_row)
            .map_err(self.query_error("read promotions"))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.query_error("read promotions"))
    }

    /// Stores the intent to move a pointer, before it moves; returns the intent's id. Committed
    /// at once (never inside another transaction), so it survives the process being killed
    /// during the move.
    pub fn begin_move(&self, movement: &NewPromotion<'_>, owner: &str) -> Result<i64, StoreError> {
        self.connection
            .execute(
                "INSERT INTO move_intents (scope, image, stable_tag, kind, from_digest, to_digest, verdict_id, owner, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    movement.scope,
                    movement.image,
                    movement.stable_tag,
                    movement.kind.as_str(),
                    movement.from_digest,
                    movement.to_digest,
                    movement.verdict_id,
                    owner,
                    now()
                ],
            )
            .map_err(self.query_error("record the intent of a pointer move"))?;
        Ok(self.connection.last_insert_rowid())
    }

    /// Intents of one image's pointer moves that were never settled, oldest first.
    pub fn pending_moves(&self, scope: &str, image: &str) -> Result<Vec<MoveIntent>, StoreError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT id, scope, image, stable_tag, kind, from_digest, to_digest, verdict_id, owner, created_at
                 FROM move_intents WHERE scope = ?1 AND image = ?2 AND state = 'pending' ORDER BY id",
            )
            .map_err(self.query_error("read pending pointer moves"))?;
        let rows = statement
            .query_map(params![scope, image], |row| {
                Ok(MoveIntent {
                    id: row.get(0)?,
                    scope: row.get(1)?,
                    image: row.get(2)?,
                    stable_tag: row.get(3)?,
                    kind: kind_from_row(row, 4)?,
                    from_digest: row.get(5)?,
                    to_digest: row.get(6)?,
                    verdict_id: row.get(7)?,
                    owner: row.get(8)?,
                    created_at: row.get(9)?,
                })
            })
            .map_err(self.query_error("read pending pointer moves"))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.query_error("read pending pointer moves"))
    }

    /// The recorded move that carries out intent `intent` and no other intent: same scope,
    /// image, kind, ends and verdict, the newest such row. `None` when it was never recorded.
    pub fn recorded_move_of(&self, intent: i64) -> Result<Option<i64>, StoreError> {
        self.connection
            .query_row(
                "SELECT p.id FROM promotions p JOIN move_intents i ON i.id = ?1
                 WHERE p.scope = i.scope AND p.image = i.image AND p.kind = i.kind
                   AND p.from_digest IS i.from_digest AND p.to_digest IS i.to_digest AND p.verdict_id IS i.verdict_id
                   AND p.id NOT IN (SELECT promotion_id FROM move_intents WHERE promotion_id IS NOT NULL AND id != ?1)
                 ORDER BY p.id DESC LIMIT 1",
                params![intent],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.query_error("read a recorded pointer move"))
    }

    /// Settles intent `intent` as completed, linked to the row recording the move (see
    /// [`Store::recorded_move_of`]). Returns that row's id, `None` when there is none.
    pub fn complete_move(&self, intent: i64) -> Result<Option<i64>, StoreError> {
        let promotion = self.recorded_move_of(intent)?;
        self.connection
            .execute(
                "UPDATE move_intents SET state = 'completed', promotion_id = ?2, settled_at = ?3 WHERE id = ?1",
                params![intent, promotion, now()],
            )
            .map_err(self.query_error("complete a pointer move"))?;
        Ok(promotion)
    }

    /// Settles intent `intent` as abandoned: the pointer did not move.
    pub fn abandon_move(&self, intent: i64) -> Result<(), StoreError> {
        self.connection
            .execute(
                "UPDATE move_intents SET state = 'abandoned', settled_at = ?2 WHERE id = ?1",
                params![intent, now()],
            )
            .map_err(self.query_error("abandon a pointer move"))?;
        Ok(())
    }

    /// Verdicts and pointer moves, oldest first; all images when `image` is `None`.
    pub fn history(&self, scope: &str, image: Option<&str>) -> Result<Vec<Event>, StoreError> {
        let mut events = Vec::new();
        {
            let mut statement = self
                .connection
                .prepare(&format!("{VERDICT_COLUMNS} WHERE scope = ?1 AND (?2 IS NULL OR image = ?2) ORDER BY id"))
                .map_err(self.query_error("read history"))?;
            let rows = statement
                .query_map(params![scope, image], verdict_from_row)
                .map_err(self.query_error("read history"))?;
            for row in rows {
                events.push(Event::Verdict(row.map_err(self.query_error("read history"))?));
            }
        }
        {
            let mut statement = self
                .connection
                .prepare(&format!("{PROMOTION_COLUMNS} WHERE scope = ?1 AND (?2 IS NULL OR image = ?2) ORDER BY id"))
                .map_err(self.query_error("read history"))?;
            let rows = statement
                .query_map(params![scope, image], promotion_from_row)
                .map_err(self.query_error("read history"))?;
            for row in rows {
                events.push(Event::Promotion(row.map_err(self.query_error("read history"))?));
            }
        }
        // Stable: timestamps first, verdicts before the promotions they allowed.
        events.sort_by(|left, right| {
            left.created_at()
                .cmp(right.created_at())
                .then_with(|| matches!(left, Event::Promotion(_)).cmp(&matches!(right, Event::Promotion(_))))
        });
        Ok(events)
    }
}

const VERDICT_COLUMNS: &str = "SELECT id, scope, image, stable_tag, candidate, inputs_digest, incumbent, commit_sha, decision, report_json, created_at FROM verdicts";
const PROMOTION_COLUMNS: &str =
    "SELECT id, scope, image, stable_tag, kind, from_digest, to_digest, verdict_id, created_at FROM promotions";

fn build_from_row(row: &Row<'_>) -> rusqlite::Result<BuildRecord> {
    Ok(BuildRecord {
        id: row.get(0)?,
        engine: row.get(1)?,
        image: row.get(2)?,
        inputs_digest: row.get(3)?,
        image_id: row.get(4)?,
        refreshed: row.get(5)?,
        created_at: row.get(6)?,
    })
}

fn verdict_from_row(row: &Row<'_>) -> rusqlite::Result<VerdictRecord> {
    Ok(VerdictRecord {
        id: row.get(0)?,
        scope: row.get(1)?,
        image: row.get(2)?,
        stable_tag: row.get(3)?,
        candidate: row.get(4)?,
        inputs_digest: row.get(5)?,
        incumbent: row.get(6)?,
        commit: row.get(7)?,
        decision: row.get(8)?,
        report_json: row.get(9)?,
        created_at: row.get(10)?,
    })
}

/// The `kind` column of promotions and move intents: `rollback`, or a promotion.
fn kind_from_row(row: &Row<'_>, column: usize) -> rusqlite::Result<PromotionKind> {
    let kind: String = row.get(column)?;
    Ok(if kind == "rollback" { PromotionKind::Rollback } else { PromotionKind::Promote })
}

fn promotion_from_row(row: &Row<'_>) -> rusqlite::Result<PromotionRecord> {
    Ok(PromotionRecord {
        id: row.get(0)?,
        scope: row.get(1)?,
        image: row.get(2)?,
        stable_tag: row.get(3)?,
        kind: kind_from_row(row, 4)?,
        from_digest: row.get(5)?,
        to_digest: row.get(6)?,
        verdict_id: row.get(7)?,
        created_at: row.get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict<'a>(candidate: &'a str, incumbent: Option<&'a str>, decision: &'a str) -> NewVerdict<'a> {
        NewVerdict {
            scope: "docker",
            image: "debian",
            stable_tag: "acme/debian:12",
            candidate,
            inputs_digest: "sha256:inputs",
            incumbent,
            commit: "abc",
            decision,
            report_json: "{}",
        }
    }

    fn evidence(key: &str, image: &str, recorded_at: &str) -> StoredEvidence {
        StoredEvidence {
            key: key.to_owned(),
            image: image.to_owned(),
            recorded_at: recorded_at.to_owned(),
            source: "local".to_owned(),
            run_json: format!("{{\"run\":\"{key}\"}}"),
        }
    }

    #[test]
    fn evidence_is_found_by_key_and_the_first_stored_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.evidence("sha256:a").unwrap(), None);
        store.keep_evidence(&evidence("sha256:a", "debian", "2026-01-01T00:00:00Z")).unwrap();
        let mut later = evidence("sha256:a", "debian", "2026-01-02T00:00:00Z");
        later.run_json = "{}".to_owned();
        store.keep_evidence(&later).unwrap();
        let found = store.evidence("sha256:a").unwrap().unwrap();
        assert_eq!(found, evidence("sha256:a", "debian", "2026-01-01T00:00:00Z"));
        assert_eq!(store.evidence("sha256:b").unwrap(), None);
    }

    #[test]
    fn stored_evidence_is_bounded_per_image_keeping_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for day in 1..=EVIDENCE_KEPT_PER_IMAGE + 2 {
            let at = jiff::Timestamp::from_second(1_700_000_000 + day as i64 * 60).unwrap().to_string();
            store.keep_evidence(&evidence(&format!("sha256:{day}"), "debian", &at)).unwrap();
        }
        store.keep_evidence(&evidence("sha256:other", "alpine", "2020-01-01T00:00:00Z")).unwrap();
        assert_eq!(store.evidence("sha256:1").unwrap(), None);
        assert_eq!(store.evidence("sha256:2").unwrap(), None);
        assert!(store.evidence("sha256:3").unwrap().is_some());
        assert!(store.evidence(&format!("sha256:{}", EVIDENCE_KEPT_PER_IMAGE + 2)).unwrap().is_some());
        // Another image's runs are bounded on their own.
        assert!(store.evidence("sha256:other").unwrap().is_some());
        assert_eq!(store.prune_evidence("debian", 1).unwrap(), EVIDENCE_KEPT_PER_IMAGE - 1);
        assert!(store.evidence(&format!("sha256:{}", EVIDENCE_KEPT_PER_IMAGE + 2)).unwrap().is_some());
    }

    #[test]
    fn verdicts_are_found_by_exact_incumbent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.record_verdict(&verdict("sha256:c", None, "pass")).unwrap();
        store.record_verdict(&verdict("sha256:c", Some("sha256:i"), "regression")).unwrap();
        let bootstrap = store.latest_verdict_against("docker", "debian", "sha256:c", None).unwrap().unwrap();
        assert_eq!(bootstrap.decision, "pass");
        let against = store.latest_verdict_against("docker", "debian", "sha256:c", Some("sha256:i")).unwrap().unwrap();
        assert_eq!(against.decision, "regression");
        assert!(store.latest_verdict_against("podman", "debian", "sha256:c", None).unwrap().is_none());
    }

    #[test]
    fn the_latest_local_engine_of_an_image_ignores_registry_verdicts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.latest_local_engine("debian").unwrap(), None);
        store.record_verdict(&verdict("sha256:c", None, "pass")).unwrap();
        let mut in_podman = verdict("sha256:d", None, "regression");
        in_podman.scope = "podman";
        store.record_verdict(&in_podman).unwrap();
        let mut in_registry = verdict("sha256:e", None, "pass");
        in_registry.scope = "registry:127.0.0.1:5000/acme";
        store.record_verdict(&in_registry).unwrap();
        assert_eq!(store.latest_local_engine("debian").unwrap().as_deref(), Some("podman"));
        assert_eq!(store.latest_local_engine("ubuntu").unwrap(), None);
    }

    #[test]
    fn promotion_without_verdict_is_refused_by_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let result = store.record_promotion(&NewPromotion {
            scope: "docker",
            image: "debian",
            stable_tag: "acme/debian:12",
            kind: PromotionKind::Promote,
            from_digest: None,
            to_digest: Some("sha256:c"),
            verdict_id: None,
        });
        assert!(result.is_err());
    }

    #[test]
    fn failed_exclusive_work_is_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let outcome: Result<(), StoreError> = store.exclusive(|store| {
            store.record_build(&NewBuild {
                engine: "docker",
                image: "debian",
                inputs_digest: "d",
                image_id: "sha256:x",
                refreshed: false,
            })?;
            Err(StoreError::TooNew { path: PathBuf::new(), found: 0, known: 0 })
        });
        assert!(outcome.is_err());
        assert!(store.builds_for("docker", "debian", "d").unwrap().is_empty());
    }

    #[test]
    fn imported_records_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let first =
            store.import_verdict("sha256:r1", &verdict("sha256:c", None, "pass"), "2026-01-01T00:00:00Z").unwrap();
        let again =
            store.import_verdict("sha256:r1", &verdict("sha256:c", None, "pass"), "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(first, again);
        assert_eq!(store.verdict_id_of_record("sha256:r1").unwrap(), Some(first));
        assert_eq!(store.record_of_verdict(first).unwrap().as_deref(), Some("sha256:r1"));
        let promotion = NewPromotion {
            scope: "docker",
            image: "debian",
            stable_tag: "acme/debian:12",
            kind: PromotionKind::Promote,
            from_digest: None,
            to_digest: Some("sha256:c"),
            verdict_id: Some(first),
        };
        store.import_promotion("sha256:r2", &promotion, "2026-01-01T00:00:01Z").unwrap();
        store.import_promotion("sha256:r2", &promotion, "2026-01-01T00:00:01Z").unwrap();
        assert_eq!(store.history("docker", None).unwrap().len(), 2);
        let records = store.imported_records().unwrap();
        assert!(records.contains("sha256:r1") && records.contains("sha256:r2"));
    }

    #[test]
    fn a_database_from_before_the_scope_column_keeps_its_records_under_their_scope() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A store as imagegate left it at schema version 2, with its `engine` column.
            let connection = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            let batch = format!("{}; {}; PRAGMA user_version = 2;", MIGRATIONS[0], MIGRATIONS[1]);
            connection.execute_batch(&batch).unwrap();
            connection
                .execute_batch(
                    "INSERT INTO verdicts (engine, image, stable_tag, candidate, inputs_digest, incumbent, commit_sha, decision, report_json, created_at)
                     VALUES ('registry:r/ns', 'debian', 'acme/debian:12', 'sha256:c', 'd', NULL, 'abc', 'pass', '{}', '2026-01-01T00:00:00Z');
                     INSERT INTO promotions (engine, image, stable_tag, kind, from_digest, to_digest, verdict_id, created_at)
                     VALUES ('registry:r/ns', 'debian', 'acme/debian:12', 'promote', NULL, 'sha256:c', 1, '2026-01-01T00:00:01Z');
                     INSERT INTO verdicts (engine, image, stable_tag, candidate, inputs_digest, incumbent, commit_sha, decision, report_json, created_at)
                     VALUES ('podman', 'debian', 'acme/debian:12', 'sha256:l', 'd', NULL, 'abc', 'pass', '{}', '2026-01-01T00:00:02Z');",
                )
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let version: i64 = store.connection.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let verdict = store.latest_verdict("registry:r/ns", "debian", "sha256:c").unwrap().expect("the old verdict");
        assert_eq!(verdict.scope, "registry:r/ns");
        assert_eq!(store.promotions("registry:r/ns", "debian").unwrap()[0].verdict_id, Some(verdict.id));
        assert_eq!(store.history("registry:r/ns", None).unwrap().len(), 2);
        assert_eq!(store.latest_local_engine("debian").unwrap().as_deref(), Some("podman"));
    }

    #[test]
    fn a_move_intent_is_pending_until_settled_and_completes_with_its_own_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let verdict_id = store.record_verdict(&verdict("sha256:c", Some("sha256:i"), "pass")).unwrap();
        let movement = NewPromotion {
            scope: "docker",
            image: "debian",
            stable_tag: "acme/debian:12",
            kind: PromotionKind::Promote,
            from_digest: Some("sha256:i"),
            to_digest: Some("sha256:c"),
            verdict_id: Some(verdict_id),
        };
        let first = store.begin_move(&movement, "host/boot/1/2").unwrap();
        let pending = store.pending_moves("docker", "debian").unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!((pending[0].id, pending[0].to_digest.as_deref()), (first, Some("sha256:c")));
        assert_eq!(store.recorded_move_of(first).unwrap(), None);
        let recorded = store.record_promotion(&movement).unwrap();
        assert_eq!(store.complete_move(first).unwrap(), Some(recorded));
        assert!(store.pending_moves("docker", "debian").unwrap().is_empty());
        // The same move made again is not taken for the first one's record.
        let second = store.begin_move(&movement, "host/boot/1/2").unwrap();
        assert_eq!(store.recorded_move_of(second).unwrap(), None);
        store.abandon_move(second).unwrap();
        assert!(store.pending_moves("docker", "debian").unwrap().is_empty());
        assert_eq!(store.promotions("docker", "debian").unwrap().len(), 1);
    }

    #[test]
    fn reopening_keeps_records_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .record_build(&NewBuild {
                    engine: "docker",
                    image: "debian",
                    inputs_digest: "d",
                    image_id: "sha256:x",
                    refreshed: true,
                })
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let builds = store.builds_for("docker", "debian", "d").unwrap();
        assert_eq!(builds.len(), 1);
        assert!(builds[0].refreshed);
        assert_eq!(store.history("docker", None).unwrap().len(), 0);
    }
}
