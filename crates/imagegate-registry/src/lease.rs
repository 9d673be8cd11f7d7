//! A lease on a repository's stable tags, so that two promoters cannot both move them.
//!
//! Registries have no conditional tag write (OCI distribution-spec PR #251 is still open), so
//! the lease is Fischer's mutual exclusion over a tag, `imagegate-lease`, whose manifest
//! carries the holder and an expiry in its annotations:
//!
//! 1. read the lease; while another holder's unexpired lease is there, wait (bounded);
//! 2. write our own lease;
//! 3. wait the settle time, then read it back: ours → held; someone else's → back to 1.
//!
//! Every contender that saw the lease free writes within the few milliseconds after its read,
//! so after the settle time the last of those writes is visible to all of them and exactly one
//! contender reads back its own lease. The remaining window: a lease write delayed in flight
//! for longer than the settle time (one second by default) could land after the winner's read
//! back. The promoter narrows it further by re-reading the lease right before it moves the
//! tag and verifying the tag after the move. Expiry relies on the machines' clocks agreeing to
//! within the lease's lifetime (two minutes by default).
//!
//! The lease also carries the holder's intent: right before it moves the tag, the holder writes
//! the move it is about to make into the lease (`io.imagegate.lease.intent`), and it releases
//! the lease only after the move's record is written. A holder killed in between leaves an
//! unreleased lease with an intent; whoever takes the lease next gets that intent back
//! ([`Lease::interrupted`]) and settles it against the tag, on any machine. Versions of
//! imagegate that do not know the annotation ignore it.
//!
//! A released lease is always the same document (no holder, expired at the epoch): the next
//! promoter, on any machine, recognises its digest from a HEAD and reads no manifest, which
//! Docker Hub would count as a pull.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::error::{ErrorKind, RegistryError};
use crate::records::{ArtifactManifest, Descriptor, OCI_MANIFEST, ensure_empty_blob};
use crate::reference::Reference;

/// The lease tag in each repository imagegate promotes in.
pub const LEASE_TAG: &str = "imagegate-lease";
pub const LEASE_ARTIFACT_TYPE: &str = "application/vnd.imagegate.lease.v1+json";
const HOLDER: &str = "io.imagegate.lease.holder";
const EXPIRES: &str = "io.imagegate.lease.expires";
const RELEASED: &str = "io.imagegate.lease.released";
const INTENT: &str = "io.imagegate.lease.intent";

/// Timing of a lease.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTiming {
    /// How long a lease lives when its holder dies without releasing it.
    pub lifetime: Duration,
    /// The wait between writing a lease and reading it back.
    pub settle: Duration,
    /// How long to wait for another holder before giving up.
    pub patience: Duration,
}

impl Default for LeaseTiming {
    fn default() -> LeaseTiming {
        LeaseTiming {
            lifetime: Duration::from_secs(120),
            settle: Duration::from_secs(1),
            patience: Duration::from_secs(300),
        }
    }
}

/// What the lease tag says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    pub holder: String,
    pub expires_unix_millis: i64,
    pub released: bool,
    /// The move the holder was about to make (opaque to the lease), until it released it.
    pub intent: Option<String>,
}

impl LeaseState {
    /// Whether a holder still has it at `now_millis` (not released, not expired).
    pub fn is_live(&self, now_millis: i64) -> bool {
        !self.released && self.expires_unix_millis > now_millis
    }
}

/// A held lease. Release it with [`Lease::release`]; a dropped lease simply expires.
#[derive(Debug)]
pub struct Lease {
    repository: Reference,
    holder: String,
    expires_unix_millis: i64,
    /// The intent of a previous holder that never released the lease (it was killed mid-move):
    /// the new holder settles it before anything else.
    pub interrupted: Option<LeaseState>,
}

fn now_millis() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A holder name unique to this process: host, process id and a random part.
pub fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned());
    format!("{host}/{}/{:016x}", std::process::id(), fastrand::u64(..))
}

fn lease_reference(client: &Client, repository: &Reference) -> Result<Reference, RegistryError> {
    repository.with_tag(LEASE_TAG).map_err(|error| {
        RegistryError::new(client.registry(), "name the lease", ErrorKind::Protocol, error.to_string())
    })
}

/// What a released lease says, the same bytes on every release: a promoter that finds the
/// lease tag naming their digest knows it free from a HEAD alone, without the manifest GET
/// that Docker Hub counts as a pull. Who released it last is in the promotion records.
fn released() -> LeaseState {
    LeaseState { holder: String::new(), expires_unix_millis: 0, released: true, intent: None }
}

/// Reads the lease of `repository`; `None` when there never was one.
pub fn read(client: &Client, repository: &Reference) -> Result<Option<LeaseState>, RegistryError> {
    let reference = lease_reference(client, repository)?;
    client.know_manifest(&reference, &encode(client, &released())?, OCI_MANIFEST);
    let Some(manifest) = client.manifest(&reference)? else {
        return Ok(None);
    };
    let corrupt = |message: &str| {
        RegistryError::new(client.registry(), format!("read the lease `{reference}`"), ErrorKind::Corrupt, message)
    };
    let artifact: ArtifactManifest =
        serde_json::from_slice(&manifest.bytes).map_err(|_| corrupt("it is not an imagegate lease"))?;
    let annotations = artifact.annotations.unwrap_or_default();
    let holder = annotations.get(HOLDER).ok_or_else(|| corrupt("it names no holder"))?.clone();
    let expires_unix_millis = annotations
        .get(EXPIRES)
        .and_then(|text| text.parse::<jiff::Timestamp>().ok())
        .map(jiff::Timestamp::as_millisecond)
        .ok_or_else(|| corrupt("it has no valid expiry"))?;
    Ok(Some(LeaseState {
        holder,
        expires_unix_millis,
        released: annotations.contains_key(RELEASED),
        intent: annotations.get(INTENT).cloned(),
    }))
}

fn write(client: &Client, repository: &Reference, state: &LeaseState) -> Result<(), RegistryError> {
    let bytes = encode(client, state)?;
    client.put_manifest(&lease_reference(client, repository)?, &bytes, OCI_MANIFEST).map(|_| ())
}

/// The lease manifest saying `state`: the same state always gives the same bytes.
fn encode(client: &Client, state: &LeaseState) -> Result<Vec<u8>, RegistryError> {
    let mut annotations = BTreeMap::new();
    annotations.insert(HOLDER.to_owned(), state.holder.clone());
    let expires = jiff::Timestamp::from_millisecond(state.expires_unix_millis).map_err(|error| {
        RegistryError::new(client.registry(), "write the lease", ErrorKind::Protocol, error.to_string())
    })?;
    annotations.insert(EXPIRES.to_owned(), expires.to_string());
    if state.released {
        annotations.insert(RELEASED.to_owned(), "true".to_owned());
    }
    if let Some(intent) = &state.intent {
        annotations.insert(INTENT.to_owned(), intent.clone());
    }
    let manifest = ArtifactManifest {
        schema_version: 2,
        media_type: OCI_MANIFEST.to_owned(),
        artifact_type: Some(LEASE_ARTIFACT_TYPE.to_owned()),
        config: Descriptor::empty(),
        layers: vec![Descriptor::empty()],
        subject: None,
        annotations: Some(annotations),
    };
    serde_json::to_vec(&manifest).map_err(|error| {
        RegistryError::new(client.registry(), "write the lease", ErrorKind::Protocol, error.to_string())
    })
}

/// Takes the lease of `repository`, waiting for another holder at most `timing.patience`.
/// `waiting` is called on each poll while another holder has it; an error from it ends the
/// wait (a promoter that sees the stable tag already moved has nothing left to wait for).
pub fn acquire<E: From<RegistryError>>(
    client: &Client,
    repository: &Reference,
    holder: &str,
    timing: LeaseTiming,
    mut waiting: impl FnMut(&LeaseState) -> Result<(), E>,
) -> Result<Lease, E> {
    ensure_empty_blob(client, repository)?;
    let deadline = Instant::now() + timing.patience;
    loop {
        let found = read(client, repository)?;
        if let Some(state) = &found
            && state.holder != holder
            && state.is_live(now_millis())
        {
            if Instant::now() >= deadline {
                return Err(RegistryError::new(
                    client.registry(),
                    format!("take the promotion lease of `{}`", repository.name()),
                    ErrorKind::LeaseHeld,
                    format!("{} holds it", state.holder),
                )
                .into());
            }
            waiting(state)?;
            let remaining =
                Duration::from_millis(u64::try_from(state.expires_unix_millis - now_millis()).unwrap_or(0).max(1));
            let poll = Duration::from_millis(fastrand::u64(200..600)).min(remaining);
            std::thread::sleep(poll);
            continue;
        }
        let lifetime_millis = i64::try_from(timing.lifetime.as_millis()).unwrap_or(i64::MAX);
        let mine = LeaseState {
            holder: holder.to_owned(),
            expires_unix_millis: now_millis().saturating_add(lifetime_millis),
            released: false,
            intent: None,
        };
        write(client, repository, &mine)?;
        std::thread::sleep(timing.settle);
        match read(client, repository)? {
            Some(state) if state.holder == holder && !state.released => {
                let interrupted = found.filter(|previous| !previous.released && previous.intent.is_some());
                return Ok(Lease {
                    repository: repository.clone(),
                    holder: holder.to_owned(),
                    expires_unix_millis: mine.expires_unix_millis,
                    interrupted,
                });
            }
            _ => continue,
        }
    }
}

impl Lease {
    /// Checks that the lease is still ours and unexpired: right before a tag moves.
    pub fn confirm(&self, client: &Client) -> Result<(), RegistryError> {
        match read(client, &self.repository)? {
            Some(state) if state.holder == self.holder && state.is_live(now_millis()) => Ok(()),
            found => Err(RegistryError::new(
                client.registry(),
                format!("confirm the promotion lease of `{}`", self.repository.name()),
                ErrorKind::LeaseHeld,
                match found {
                    Some(state) if state.holder != self.holder => format!("{} took it over", state.holder),
                    _ => "it expired before the promotion was done".to_owned(),
                },
            )),
        }
    }

    /// Writes the move the holder is about to make into the lease, after checking that the lease
    /// is still ours and unexpired: right before the tag moves. Until the lease is released,
    /// the next holder finds it as [`Lease::interrupted`].
    pub fn mark_intent(&self, client: &Client, intent: &str) -> Result<(), RegistryError> {
        self.confirm(client)?;
        write(
            client,
            &self.repository,
            &LeaseState {
                holder: self.holder.clone(),
                expires_unix_millis: self.expires_unix_millis,
                released: false,
                intent: Some(intent.to_owned()),
            },
        )
    }

    /// Gives the lease up (only if it is still ours).
    pub fn release(self, client: &Client) -> Result<(), RegistryError> {
        match read(client, &self.repository)? {
            Some(state) if state.holder == self.holder => write(client, &self.repository, &released()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_or_expired_leases_are_not_live() {
        let state = LeaseState { holder: "a".to_owned(), expires_unix_millis: 1_000, released: false, intent: None };
        assert!(state.is_live(999));
        assert!(!state.is_live(1_000));
        assert!(!LeaseState { released: true, ..state }.is_live(0));
    }

    #[test]
    fn holder_names_differ_between_calls() {
        assert_ne!(holder_name(), holder_name());
    }
}
