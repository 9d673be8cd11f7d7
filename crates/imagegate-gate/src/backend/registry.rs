//! The registry home: candidates, stable tags and records in an OCI registry, which is the
//! truth; the local SQLite store is only a cache of its records.
//!
//! An image's identity is its manifest digest in the registry (what `skopeo inspect` shows
//! under the stable tag after a promotion). Every verdict and pointer move is written to the
//! registry as a record first, then imported locally under the record's digest. Registries have
//! no compare-and-swap for tags, so a pointer move happens under the repository's Fischer lease,
//! confirmed right before the write.
//!
//! A read-only run (code from a fork) only reads here: its own candidate stays in the engine,
//! its verdict in the local store under the engine's name, and `promote.rs` moves nothing.

use std::collections::{BTreeSet, HashSet};

use imagegate_config::ImageConfig;
use imagegate_contract::{GateReport, PromotionReport};
use imagegate_engine::RegistryAccess;
use imagegate_registry::records::{RECORD_SCHEMA, Record, RecordBody, RecordKind};
use imagegate_registry::{PruneEntry, RegistryStore};
use imagegate_store::{NewPromotion, NewVerdict, PromotionKind, Store};

use super::{Backend, LockedWork, PointerLock, PointerMove, Prunable, StablePointer};
use crate::{Context, GateError, short};

/// A registry store, and how the engine reaches it.
pub struct RegistryBackend {
    registry: RegistryStore,
    access: RegistryAccess,
    read_only: bool,
}

impl RegistryBackend {
    /// `read_only`: this run only reads the registry (code from a fork).
    pub fn new(registry: RegistryStore, access: RegistryAccess, read_only: bool) -> RegistryBackend {
        RegistryBackend { registry, access, read_only }
    }

    /// Pushes a freshly built candidate under its immutable name and makes it the recipe's
    /// newest candidate. Returns its manifest digest.
    fn push_candidate(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        inputs_digest: &str,
        image_id: &str,
    ) -> Result<String, GateError> {
        let registry = &self.registry;
        let name = registry.candidate_name(&image.stable_tag, inputs_digest, image_id)?;
        context.engine.tag(image_id, &name.to_string())?;
        context.progress.start(&image.name, &format!("pushing the candidate to `{name}`"));
        self.transfer(context, &image.name, "push", || context.engine.push(&name.to_string(), &self.access))?;
        let stored = registry.register_candidate(&image.stable_tag, inputs_digest, image_id)?;
        context.progress.finish(&image.name, &format!("pushed {} as {}", short(image_id), short(&stored.digest)));
        Ok(stored.digest)
    }
}

impl RegistryBackend {
    /// Runs the engine's push or pull `call` under the registry's retry policy (the one
    /// imagegate's own requests follow): a transient failure is retried with backoff, saying
    /// so on the progress line; one that outlasts the attempts ends with a hint.
    fn transfer(
        &self,
        context: &Context<'_>,
        image: &str,
        verb: &str,
        call: impl FnMut() -> Result<(), imagegate_engine::EngineError>,
    ) -> Result<(), GateError> {
        transfer_with_retries(
            self.registry.client().retry(),
            self.registry.client().registry(),
            call,
            |attempt, error| {
                let reason = error.to_string();
                let reason = reason.lines().last().unwrap_or_default();
                context
                    .progress
                    .note(image, &format!("the engine's {verb} failed (attempt {attempt}), retrying: {reason}"));
            },
        )
    }
}

/// `call` under `retry`; `before_retry` hears of each retry. A failure that outlasts the
/// attempts is [`GateError::Transfer`]; one that is not transient, [`GateError::Engine`].
pub fn transfer_with_retries(
    retry: imagegate_registry::Retry,
    registry: &str,
    call: impl FnMut() -> Result<(), imagegate_engine::EngineError>,
    before_retry: impl FnMut(u32, &imagegate_engine::EngineError),
) -> Result<(), GateError> {
    retry.run(call, imagegate_engine::EngineError::is_transient, before_retry).map_err(|(source, attempts)| {
        if source.is_transient() {
            GateError::Transfer { registry: registry.to_owned(), attempts, source: Box::new(source) }
        } else {
            GateError::Engine(source)
        }
    })
}

impl Backend for RegistryBackend {
    fn scope(&self, _context: &Context<'_>) -> String {
        format!("registry:{}", self.registry.location().display())
    }

    fn publish_experiment(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        local: &str,
        key: &str,
    ) -> Result<Option<String>, GateError> {
        if self.read_only {
            return Ok(None);
        }
        let name = self
            .registry
            .stable(&image.stable_tag)?
            .with_tag(&format!("imagegate-experiment-{key}"))
            .map_err(|error| GateError::Usage {
                message: format!("name the experiment image in the registry: {error}"),
                hint: "check `stable_tag` of the image in imagegate.toml".to_owned(),
            })?
            .to_string();
        context.engine.tag(local, &name)?;
        context.progress.start(&image.name, &format!("pushing the kept experiment image to `{name}`"));
        self.transfer(context, &image.name, "push", || context.engine.push(&name, &self.access))?;
        context.progress.finish(&image.name, "pushed");
        Ok(Some(name))
    }

    fn location(&self) -> Option<String> {
        Some(self.registry.location().display())
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    /// Imports every record of the image's repositories not yet in the local store: verdicts
    /// first, so that each promotion finds the verdict it references.
    fn sync(&self, context: &Context<'_>, image: &ImageConfig) -> Result<(), GateError> {
        let scope = self.scope(context);
        // Record tags name the first 16 hex digits of the record's digest: known ones are skipped
        // without fetching them.
        let known: HashSet<String> = context
            .store
            .imported_records()?
            .iter()
            .map(|digest| digest.trim_start_matches("sha256:").chars().take(16).collect())
            .collect();
        let mut records: Vec<Record> = Vec::new();
        for (repository, tag) in self.registry.record_tags(&image.stable_tag)? {
            let Some(parsed) = imagegate_registry::records::parse_record_tag(&tag) else { continue };
            if known.contains(parsed.record) {
                continue;
            }
            if let Some(record) = self.registry.read_record(&repository, &tag)?
                && record.body.image == image.name
            {
                records.push(record);
            }
        }
        for record in records.iter().filter(|record| record.body.kind == RecordKind::Verdict) {
            import(context.store, &scope, record)?;
        }
        for record in records.iter().filter(|record| record.body.kind != RecordKind::Verdict) {
            import(context.store, &scope, record)?;
        }
        Ok(())
    }

    /// An expired, unreleased lease that carries an intent was left by a promoter killed
    /// mid-move: taking the lease settles it (see `settle_lease_intent`). A live one is its
    /// holder's, or settled by whoever takes it once it expires.
    fn settle_shared(&self, context: &Context<'_>, image: &ImageConfig) -> Result<(), GateError> {
        if self.read_only {
            return Ok(());
        }
        let Some(state) = self.registry.lease_state(&image.stable_tag)? else {
            return Ok(());
        };
        if state.released || state.intent.is_none() || state.is_live(jiff::Timestamp::now().as_millisecond()) {
            return Ok(());
        }
        self.exclusive(context, image, &|| Ok(()), &mut |_| {
            Ok(PromotionReport {
                status: imagegate_contract::PromotionStatus::UpToDate,
                message: String::new(),
                from: None,
                to: None,
            })
        })
        .map(|_| ())
    }

    fn find_candidate(
        &self,
        _context: &Context<'_>,
        image: &ImageConfig,
        inputs: &str,
    ) -> Result<Option<String>, GateError> {
        Ok(self.registry.find_candidate(&image.stable_tag, inputs)?.map(|found| found.digest))
    }

    fn reuse_candidate(
        &self,
        _context: &Context<'_>,
        image: &ImageConfig,
        digest: &str,
        _local_tag: &str,
    ) -> Result<String, GateError> {
        let repository = self.registry.candidate_repository(&image.stable_tag)?.name();
        Ok(format!("{repository}@{digest}"))
    }

    fn publish_candidate(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        inputs: &str,
        image_id: &str,
        local_tag: &str,
    ) -> Result<(String, String), GateError> {
        // A run that may not write to the registry keeps its candidate in this engine.
        if self.read_only {
            return Ok((image_id.to_owned(), local_tag.to_owned()));
        }
        let digest = self.push_candidate(context, image, inputs, image_id)?;
        let repository = self.registry.candidate_repository(&image.stable_tag)?.name();
        Ok((digest.clone(), format!("{repository}@{digest}")))
    }

    /// The local image id of `repository@digest`, pulled first when the engine lacks it.
    fn runnable(&self, context: &Context<'_>, image: &ImageConfig, digest: &str) -> Result<String, GateError> {
        // A read-only run's own candidate was never pushed: it is an image of this engine.
        if self.read_only && context.engine.inspect_image(digest)?.is_some() {
            return Ok(digest.to_owned());
        }
        let Some((reference, image_id)) = self.registry.image_id(&image.stable_tag, digest)? else {
            return Err(GateError::Usage {
                message: format!(
                    "the registry {} no longer has image {}",
                    self.registry.location().display(),
                    short(digest)
                ),
                hint: "it was deleted outside imagegate; run `imagegate gate` again to build or find a candidate"
                    .to_owned(),
            });
        };
        if context.engine.inspect_image(&image_id)?.is_some() {
            return Ok(image_id);
        }
        context.progress.start(&image.name, &format!("pulling {} from the registry", short(digest)));
        self.transfer(context, &image.name, "pull", || context.engine.pull_from(&reference.to_string(), &self.access))?;
        context.progress.finish(&image.name, &format!("pulled {}", short(digest)));
        match context.engine.inspect_image(&image_id)? {
            Some(_) => Ok(image_id),
            // An engine may store a pulled image under another id (a converted config): use the
            // name it was pulled by.
            None => Ok(reference.to_string()),
        }
    }

    fn record_verdict(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        verdict: &NewVerdict<'_>,
        report: &GateReport,
    ) -> Result<i64, GateError> {
        // A read-only run's verdict stays here, filed under the engine: it is never a registry
        // record, so no other machine sees it, and no promotion can use it.
        if self.read_only {
            return Ok(context.store.record_verdict(verdict)?);
        }
        let mut body = body(RecordKind::Verdict, image);
        // The record names the engine the runs were made in; `gate` files a verdict under it
        // until a backend files it elsewhere.
        body.engine = Some(verdict.scope.to_owned());
        body.candidate = Some(verdict.candidate.to_owned());
        body.inputs_digest = Some(verdict.inputs_digest.to_owned());
        body.incumbent = verdict.incumbent.map(str::to_owned);
        body.commit = Some(verdict.commit.to_owned());
        body.decision = Some(verdict.decision.to_owned());
        body.report = serde_json::to_value(report).ok();
        let record = self.registry.write_record(&image.stable_tag, verdict.candidate, &body)?;
        import(context.store, &self.scope(context), &record)
    }

    /// Writes the move's record after the move: an interruption between the two leaves a moved
    /// tag without its record, which `history` and `rollback` then report as a move made
    /// outside imagegate.
    fn record_move(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        movement: &PointerMove<'_>,
    ) -> Result<(), GateError> {
        let kind = match movement.kind {
            PromotionKind::Promote => RecordKind::Promote,
            PromotionKind::Rollback => RecordKind::Rollback,
        };
        let mut body = body(kind, image);
        body.from = movement.from.map(str::to_owned);
        body.to = movement.to.map(str::to_owned);
        if let Some(verdict_id) = movement.verdict_id {
            body.verdict_record = context.store.record_of_verdict(verdict_id)?;
        }
        let subject = movement.to.or(movement.from).unwrap_or_default();
        let record = self.registry.write_record(&image.stable_tag, subject, &body)?;
        import(context.store, &self.scope(context), &record)?;
        Ok(())
    }

    /// The image by digest in the repository that holds it (candidates' or stable images').
    fn reference_of(&self, _context: &Context<'_>, image: &ImageConfig, digest: &str) -> Result<String, GateError> {
        match self.registry.image_id(&image.stable_tag, digest)? {
            Some((reference, _)) => Ok(reference.to_string()),
            None => Ok(self
                .registry
                .stable(&image.stable_tag)?
                .with_digest(digest)
                .map_err(|error| GateError::Usage {
                    message: format!("name image {} in the registry: {error}", short(digest)),
                    hint: "check `stable_tag` of the image in imagegate.toml".to_owned(),
                })?
                .to_string()),
        }
    }

    fn pointer(&self) -> &dyn StablePointer {
        self
    }

    fn prunable(&self) -> Option<&dyn Prunable> {
        Some(self)
    }

    fn shared_evidence(&self) -> Option<&dyn crate::SharedEvidence> {
        Some(self)
    }
}

/// Stored runs travel with the records, in the image's stable repository, so that a gate on
/// another machine reuses them.
impl crate::SharedEvidence for RegistryBackend {
    fn source(&self) -> String {
        format!("registry:{}", self.registry.location().display())
    }

    fn read_evidence(&self, image: &ImageConfig, key: &str) -> Result<Option<(String, Vec<u8>)>, GateError> {
        Ok(self.registry.read_evidence(&image.stable_tag, key)?.map(|run| (run.recorded_at, run.body)))
    }

    fn write_evidence(&self, image: &ImageConfig, key: &str, recorded_at: &str, body: &[u8]) -> Result<(), GateError> {
        // Code from a fork only reads the registry: what it ran is kept on this machine only,
        // so that it cannot hand other machines results of its choosing.
        if self.read_only {
            return Ok(());
        }
        Ok(self.registry.write_evidence(&image.stable_tag, key, recorded_at, body)?)
    }
}

/// The stable tag in the registry, moved under the repository's lease.
impl StablePointer for RegistryBackend {
    fn read(&self, _context: &Context<'_>, image: &ImageConfig) -> Result<Option<String>, GateError> {
        Ok(self.registry.resolve_stable(&image.stable_tag)?)
    }

    /// The stable tag by its full name in the registry.
    fn reference(&self, image: &ImageConfig) -> Result<String, GateError> {
        Ok(self.registry.stable(&image.stable_tag)?.to_string())
    }

    fn inputs(&self, _context: &Context<'_>, image: &ImageConfig) -> Result<Option<String>, GateError> {
        Ok(self.registry.stable_inputs(&image.stable_tag)?)
    }

    /// The move itself is one manifest PUT, so an interrupted promotion leaves the tag on the
    /// old or the new digest.
    fn exclusive(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        still_wanted: &dyn Fn() -> Result<(), GateError>,
        work: &mut LockedWork<'_>,
    ) -> Result<PromotionReport, GateError> {
        context.progress.start(&image.name, &format!("taking the promotion lease of `{}`", image.stable_tag));
        // One line per holder, refreshed at most every half minute: the spinner counts the wait
        // on a terminal, and a CI log gets a few lines rather than one per poll.
        let mut told: Option<(String, std::time::Instant)> = None;
        let lease = self.registry.lease(&image.stable_tag, |state| {
            let fresh = told.as_ref().is_none_or(|(holder, at)| {
                holder != &state.holder || at.elapsed() >= std::time::Duration::from_secs(30)
            });
            if fresh {
                context.progress.start(&image.name, &lease_wait_message(&image.stable_tag, state));
                told = Some((state.holder.clone(), std::time::Instant::now()));
            }
            // Once another promoter has moved the tag, waiting is pointless.
            still_wanted()
        })?;
        context.progress.finish(&image.name, "lease taken");
        let outcome = match &lease.interrupted {
            Some(previous) => self.settle_lease_intent(context, image, previous),
            None => Ok(()),
        }
        .and_then(|()| work(&LeasedTag { backend: self, context, image, lease: &lease }));
        // Failing to give the lease up is only worth a warning: it expires by itself.
        if let Err(error) = lease.release(self.registry.client()) {
            context
                .progress
                .note(&image.name, &format!("warning: the lease was not released (it expires by itself): {error}"));
        }
        outcome
    }
}

/// Whose lease a promoter waits for and until when: a promoter that was killed holding it
/// leaves it until it expires.
fn lease_wait_message(stable_tag: &str, state: &imagegate_registry::lease::LeaseState) -> String {
    let expires = jiff::Timestamp::from_millisecond(state.expires_unix_millis)
        .map(|at| at.strftime("%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| "an unreadable time".to_owned());
    let left = (state.expires_unix_millis - jiff::Timestamp::now().as_millisecond()).max(0) / 1000;
    format!(
        "waiting for the promotion lease of `{stable_tag}`: {} holds it until {expires} (in {left} s); \
         a lease whose holder was killed is taken over when it expires",
        state.holder
    )
}

struct LeasedTag<'l, 'a> {
    backend: &'l RegistryBackend,
    context: &'l Context<'a>,
    image: &'l ImageConfig,
    lease: &'l imagegate_registry::lease::Lease,
}

/// The move a lease holder is about to make, as the lease carries it (JSON in an annotation).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct LeaseIntent {
    kind: PromotionKind,
    from: Option<String>,
    to: Option<String>,
    /// The verdict record that allows a promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verdict_record: Option<String>,
}

impl RegistryBackend {
    /// Settles the move a previous lease holder announced and never released: it was killed
    /// between its intent and its record. Every move is made under the lease, so if that move
    /// was recorded its record is the newest one; otherwise it is recorded now when the tag
    /// names its target, and dropped (the tag never moved) when not.
    fn settle_lease_intent(
        &self,
        context: &Context<'_>,
        image: &ImageConfig,
        previous: &imagegate_registry::lease::LeaseState,
    ) -> Result<(), GateError> {
        let Some(intent) = previous.intent.as_deref().and_then(|text| serde_json::from_str::<LeaseIntent>(text).ok())
        else {
            return Ok(());
        };
        self.sync(context, image)?;
        let scope = self.scope(context);
        let newest = context.store.promotions(&scope, &image.name)?.into_iter().next();
        let recorded = newest.is_some_and(|record| {
            record.kind == intent.kind && record.from_digest == intent.from && record.to_digest == intent.to
        });
        let current = self.registry.resolve_stable(&image.stable_tag)?;
        let what = if intent.kind == PromotionKind::Promote { "promotion" } else { "rollback" };
        if recorded {
            return Ok(());
        }
        if current.is_some() && current == intent.to {
            let verdict_id = match &intent.verdict_record {
                Some(record) => context.store.verdict_id_of_record(record)?,
                None => None,
            };
            self.record_move(
                context,
                image,
                &PointerMove { kind: intent.kind, from: intent.from.as_deref(), to: intent.to.as_deref(), verdict_id },
            )?;
            context.progress.note(
                &image.name,
                &format!(
                    "recorded the {what} of `{}` to {} that {} made and was stopped before recording",
                    image.stable_tag,
                    intent.to.as_deref().map_or("nothing", short),
                    previous.holder
                ),
            );
        } else {
            context.progress.note(
                &image.name,
                &format!(
                    "dropped the interrupted {what} of `{}` by {}: the tag never moved",
                    image.stable_tag, previous.holder
                ),
            );
        }
        Ok(())
    }
}

impl PointerLock for LeasedTag<'_, '_> {
    /// Puts the move into the lease (after confirming it is still ours), so that the next
    /// holder on any machine settles it if this process dies before its record is written.
    fn intend(&self, movement: &PointerMove<'_>) -> Result<(), GateError> {
        let verdict_record = match movement.verdict_id {
            Some(id) => self.context.store.record_of_verdict(id)?,
            None => None,
        };
        let intent = LeaseIntent {
            kind: movement.kind,
            from: movement.from.map(str::to_owned),
            to: movement.to.map(str::to_owned),
            verdict_record,
        };
        let text = serde_json::to_string(&intent).unwrap_or_default();
        Ok(self.lease.mark_intent(self.backend.registry.client(), &text)?)
    }

    fn current(&self) -> Result<Option<String>, GateError> {
        Ok(self.backend.registry.resolve_stable(&self.image.stable_tag)?)
    }

    fn check_restorable(&self, current: &str, target: Option<&str>) -> Result<(), GateError> {
        if target.is_none() {
            return Err(GateError::Usage {
                message: format!(
                    "{} was the first image promoted to `{}`; before it the tag did not exist",
                    short(current),
                    self.image.stable_tag
                ),
                hint: "a registry cannot remove one tag of an image; promote another candidate instead".to_owned(),
            });
        }
        Ok(())
    }

    fn move_to(&self, kind: PromotionKind, from: Option<&str>, to: Option<&str>) -> Result<(), GateError> {
        let registry = &self.backend.registry;
        let Some(to) = to else {
            return self.check_restorable(from.unwrap_or_default(), None);
        };
        if kind == PromotionKind::Promote
            && let Some(previous) = from
        {
            registry.keep(&self.image.stable_tag, previous)?;
        }
        // Confirmed right before the write: a lease that expired meanwhile moves nothing.
        self.lease.confirm(registry.client())?;
        registry.move_stable(&self.image.stable_tag, to)?;
        Ok(())
    }
}

impl Prunable for RegistryBackend {
    fn location(&self) -> String {
        self.registry.location().display()
    }

    fn prune_plan(
        &self,
        image: &ImageConfig,
        cutoff: jiff::Timestamp,
        protected: &BTreeSet<String>,
    ) -> Result<Vec<PruneEntry>, GateError> {
        Ok(self.registry.prune_plan(&image.stable_tag, cutoff, protected)?)
    }

    fn delete_candidate(&self, image: &ImageConfig, digest: &str) -> Result<(), GateError> {
        Ok(self.registry.delete_candidate(&image.stable_tag, digest)?)
    }

    fn prune_evidence(&self, image: &ImageConfig, cutoff: jiff::Timestamp, dry_run: bool) -> Result<usize, GateError> {
        Ok(self.registry.prune_evidence(&image.stable_tag, cutoff, dry_run)?)
    }
}

/// Stores one registry record in the local store; returns its row id.
pub(crate) fn import(store: &Store, scope: &str, record: &Record) -> Result<i64, GateError> {
    let body = &record.body;
    let missing = |field: &str| GateError::DamagedRecord {
        message: format!("the registry record `{}` has no `{field}`", record.tag),
        hint: "it was not written by imagegate, or was damaged; delete that tag".to_owned(),
    };
    match body.kind {
        RecordKind::Verdict => {
            let report_json = body.report.as_ref().map(ToString::to_string).unwrap_or_else(|| "{}".to_owned());
            Ok(store.import_verdict(
                &record.digest,
                &NewVerdict {
                    scope,
                    image: &body.image,
                    stable_tag: &body.stable_tag,
                    candidate: body.candidate.as_deref().ok_or_else(|| missing("candidate"))?,
                    inputs_digest: body.inputs_digest.as_deref().unwrap_or_default(),
                    incumbent: body.incumbent.as_deref(),
                    commit: body.commit.as_deref().unwrap_or_default(),
                    decision: body.decision.as_deref().ok_or_else(|| missing("decision"))?,
                    report_json: &report_json,
                },
                &body.created_at,
            )?)
        }
        RecordKind::Promote | RecordKind::Rollback => {
            let verdict_id = match &body.verdict_record {
                Some(verdict) => {
                    Some(store.verdict_id_of_record(verdict)?.ok_or_else(|| GateError::DamagedRecord {
                        message: format!(
                            "the registry record `{}` references verdict {verdict}, which the registry does not have",
                            record.tag
                        ),
                        hint: "a verdict record was deleted by hand; history before it is incomplete".to_owned(),
                    })?)
                }
                None => None,
            };
            Ok(store.import_promotion(
                &record.digest,
                &NewPromotion {
                    scope,
                    image: &body.image,
                    stable_tag: &body.stable_tag,
                    kind: if body.kind == RecordKind::Rollback {
                        PromotionKind::Rollback
                    } else {
                        PromotionKind::Promote
                    },
                    from_digest: body.from.as_deref(),
                    to_digest: body.to.as_deref(),
                    verdict_id,
                },
                &body.created_at,
            )?)
        }
    }
}

/// A record body with the fields every kind has.
pub(crate) fn body(kind: RecordKind, image: &ImageConfig) -> RecordBody {
    RecordBody {
        schema: RECORD_SCHEMA.to_owned(),
        kind,
        image: image.name.clone(),
        stable_tag: image.stable_tag.clone(),
        created_at: jiff::Timestamp::now().to_string(),
        engine: None,
        candidate: None,
        inputs_digest: None,
        incumbent: None,
        commit: None,
        decision: None,
        report: None,
        from: None,
        to: None,
        verdict_record: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> ImageConfig {
        let project = tempfile::tempdir().unwrap();
        std::fs::write(project.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let config = imagegate_config::load_str(
            &project.path().join("imagegate.toml"),
            "[images.app]\nstable_tag = \"acme/app:stable\"\n[images.app.suite]\ncommand = \"true\"\nresults = \"/r\"\n",
        );
        match config {
            Ok(config) => config.images["app"].clone(),
            Err(error) => panic!("{error}"),
        }
    }

    fn record(digest: &str, body: RecordBody) -> Record {
        Record { digest: digest.to_owned(), tag: format!("imagegate-record-{digest}"), body }
    }

    #[test]
    fn a_promotion_record_is_imported_against_its_verdict_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let image = image();
        let mut verdict = body(RecordKind::Verdict, &image);
        verdict.candidate = Some("sha256:c".to_owned());
        verdict.decision = Some("pass".to_owned());
        verdict.report = Some(serde_json::json!({"regressions": []}));
        let verdict_id = import(&store, "registry:r/ns", &record("sha256:v", verdict)).unwrap();
        let mut promotion = body(RecordKind::Promote, &image);
        promotion.to = Some("sha256:c".to_owned());
        promotion.verdict_record = Some("sha256:v".to_owned());
        let promotion = record("sha256:p", promotion);
        import(&store, "registry:r/ns", &promotion).unwrap();
        import(&store, "registry:r/ns", &promotion).unwrap();
        let promotions = store.promotions("registry:r/ns", "app").unwrap();
        assert_eq!(promotions.len(), 1);
        assert_eq!(promotions[0].verdict_id, Some(verdict_id));
        // Another scope (an engine, or another registry) does not see them.
        assert!(store.promotions("docker", "app").unwrap().is_empty());
    }

    #[test]
    fn a_promotion_whose_verdict_is_missing_is_an_error_not_a_guess() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut promotion = body(RecordKind::Promote, &image());
        promotion.to = Some("sha256:c".to_owned());
        promotion.verdict_record = Some("sha256:gone".to_owned());
        let error = import(&store, "registry:r/ns", &record("sha256:p", promotion)).unwrap_err();
        assert!(error.to_string().contains("sha256:gone"), "{error}");
        // A broken store is infrastructure, not a usage mistake.
        assert_eq!(error.exit_status(), imagegate_contract::ExitStatus::Infrastructure);
    }

    #[test]
    fn a_verdict_record_without_a_decision_is_a_damaged_store_not_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut verdict = body(RecordKind::Verdict, &image());
        verdict.candidate = Some("sha256:c".to_owned());
        let error = import(&store, "registry:r/ns", &record("sha256:v", verdict)).unwrap_err();
        assert!(error.to_string().contains("no `decision`"), "{error}");
        assert_eq!(error.exit_status(), imagegate_contract::ExitStatus::Infrastructure);
    }

    #[test]
    fn a_lease_wait_names_the_holder_and_the_expiry() {
        let state = imagegate_registry::lease::LeaseState {
            holder: "runner-7/4242/00ff".to_owned(),
            expires_unix_millis: jiff::Timestamp::now().as_millisecond() + 90_500,
            released: false,
            intent: None,
        };
        let message = lease_wait_message("acme/ci:stable", &state);
        assert!(message.contains("runner-7/4242/00ff holds it until "), "{message}");
        assert!(message.contains("(in 90 s)"), "{message}");
    }
}
