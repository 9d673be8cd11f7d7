//! Transplant images: the candidate with a set of changed packages put back to the
//! incumbent's versions, made from the two images alone (nothing is downloaded).
//!
//! Both images are saved from the engine and unpacked once per gate into a temporary folder
//! (named for this process, so that a later start removes it if this one dies). For each set of
//! packages, one extra layer over the candidate holds:
//! - every path the incumbent's version owns, as the incumbent has it (mode, owner, links), by
//!   the package manager's own lists ([`imagegate_packages::ownership`]);
//! - a whiteout for every file only the candidate's version owns, and for a folder the
//!   candidate's version owns whole (a `.dist-info`) that the incumbent's does not; a folder both
//!   own whole (an npm package) is made opaque and refilled;
//! - the package database (dpkg `status`, apk `installed`, rpm `rpmdb.sqlite` with its index
//!   rows) with the packages' entries put back; rpm's write-ahead log beside it is removed.
//!
//! The image is loaded into the engine under `localhost/imagegate-experiment/IMAGE:ID`, labelled
//! as an experiment of this process (never with the candidate's inputs label, so it is never
//! taken for a candidate), and removed after its experiment unless kept.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use imagegate_config::ImageConfig;
use imagegate_image::transplant::{Entry, LayerPlan, SavedImage, Stack, write_derived_archive};
use imagegate_packages::ownership::{self, Owned};
use imagegate_packages::{Ecosystem, PackageChange};

use crate::{Context, GateError};

/// The label naming the image an experiment image was made for.
pub const LABEL_EXPERIMENT: &str = "io.imagegate.experiment";
/// The label naming the candidate an experiment image was made from (as the engine runs it).
pub const LABEL_FROM_CANDIDATE: &str = "io.imagegate.experiment.candidate";
/// The label listing what an experiment image put back: a JSON array of
/// `{ecosystem, name, location, version}` (`version` null when the incumbent lacks it).
pub const LABEL_PUT_BACK: &str = "io.imagegate.experiment.put-back";

/// Makes transplant images of one candidate and incumbent.
pub struct Transplants {
    image: String,
    candidate_reference: String,
    folder: tempfile::TempDir,
    candidate: SavedImage,
    incumbent: SavedImage,
    /// The package records of each image (what ownership is read from).
    candidate_files: ownership::Files,
    incumbent_files: ownership::Files,
    made: usize,
    /// Kept images carry no maker: a later start must not remove them as leftovers.
    pub kept: bool,
    /// What the records say of each change, read once: rpm's answer parses its whole database.
    owned_memo: Mutex<BTreeMap<ChangeKey, Result<OwnedPair, String>>>,
    /// Each package's recorded dependencies, per image (`true` for the incumbent), read once.
    dependency_memo: Mutex<BTreeMap<(bool, ChangeKey), BTreeSet<String>>>,
}

/// The paths a package owns in the incumbent and in the candidate (`None` where it is absent).
type OwnedPair = (Option<Owned>, Option<Owned>);

/// A change as the memos key it: ecosystem, name, location, and its two versions.
type ChangeKey = (Ecosystem, String, String, Option<String>, Option<String>);

fn change_key(change: &PackageChange) -> ChangeKey {
    (change.ecosystem, change.name.clone(), change.location.clone(), change.from.clone(), change.to.clone())
}

impl Transplants {
    /// Saves and unpacks both images.
    pub fn prepare(
        context: &Context<'_>,
        image: &ImageConfig,
        candidate: &str,
        incumbent: &str,
    ) -> Result<Transplants, GateError> {
        let folder = tempfile::Builder::new()
            .prefix(&imagegate_engine::temporary_prefix("transplant"))
            .tempdir()
            .map_err(|source| GateError::Io { operation: "create", path: std::env::temp_dir(), source })?;
        let saved_candidate = save(context, candidate, &folder.path().join("candidate"))?;
        let saved_incumbent = save(context, incumbent, &folder.path().join("incumbent"))?;
        let records = |saved: &SavedImage| -> Result<ownership::Files, GateError> {
            let stack = saved.stack(&ownership::is_ownership_path).map_err(transplant_error)?;
            Ok(stack
                .entries
                .into_iter()
                .filter(|(_, entry)| !entry.is_folder())
                .map(|(path, entry)| (path, entry.data))
                .collect())
        };
        let candidate_files = records(&saved_candidate)?;
        let incumbent_files = records(&saved_incumbent)?;
        Ok(Transplants {
            image: image.name.clone(),
            candidate_reference: candidate.to_owned(),
            folder,
            candidate: saved_candidate,
            incumbent: saved_incumbent,
            candidate_files,
            incumbent_files,
            made: 0,
            kept: false,
            owned_memo: Mutex::default(),
            dependency_memo: Mutex::default(),
        })
    }

    /// Why `change` cannot be put back, when it cannot: its ecosystem keeps no file list
    /// imagegate reads, or an image lacks the list.
    pub fn unavailable(&self, change: &PackageChange) -> Option<String> {
        self.owned(change).err()
    }

    /// Whether `one` and `other` depend on each other, in either direction and in either image:
    /// putting one back alone may then break the run.
    pub fn related(&self, one: &PackageChange, other: &PackageChange) -> bool {
        if one.ecosystem != other.ecosystem {
            return false;
        }
        let key = |name: &str| match one.ecosystem {
            Ecosystem::Python => imagegate_packages::normalize_distribution_name(name),
            _ => name.to_owned(),
        };
        let needs = |from: &PackageChange, to: &PackageChange| {
            let wanted = key(&to.name);
            [true, false]
                .into_iter()
                .any(|incumbent| self.dependencies(from, incumbent).iter().any(|name| key(name) == wanted))
        };
        needs(one, other) || needs(other, one)
    }

    /// What `change`'s package depends on in the incumbent (`incumbent`) or the candidate.
    fn dependencies(&self, change: &PackageChange, incumbent: bool) -> BTreeSet<String> {
        let mut memo = self.dependency_memo.lock().unwrap_or_else(PoisonError::into_inner);
        memo.entry((incumbent, change_key(change)))
            .or_insert_with(|| {
                let (files, version) = if incumbent {
                    (&self.incumbent_files, change.from.as_ref())
                } else {
                    (&self.candidate_files, change.to.as_ref())
                };
                version.map_or_else(BTreeSet::new, |version| {
                    imagegate_packages::dependencies(files, change.ecosystem, &change.name, version, &change.location)
                })
            })
            .clone()
    }

    /// The paths `change`'s package owns in the incumbent and in the candidate.
    fn owned(&self, change: &PackageChange) -> Result<OwnedPair, String> {
        let mut memo = self.owned_memo.lock().unwrap_or_else(PoisonError::into_inner);
        memo.entry(change_key(change))
            .or_insert_with(|| {
                let read = |files: &ownership::Files, version: Option<&String>| {
                    version
                        .map(|version| {
                            ownership::owned_files(files, change.ecosystem, &change.name, version, &change.location)
                        })
                        .transpose()
                        .map_err(|error| error.to_string())
                };
                Ok((
                    read(&self.incumbent_files, change.from.as_ref())?,
                    read(&self.candidate_files, change.to.as_ref())?,
                ))
            })
            .clone()
    }

    /// Loads into the engine the candidate with these packages put back to the incumbent's
    /// versions.
    pub fn make(&mut self, context: &Context<'_>, put_back: &[PackageChange]) -> Result<Transplant, GateError> {
        let started = Instant::now();
        let plan = self.plan(put_back)?;
        self.made += 1;
        let layer_path = self.folder.path().join(format!("layer-{}.tar", self.made));
        let archive_path = self.folder.path().join(format!("image-{}.tar", self.made));
        let file = fs::File::create(&layer_path).map_err(|source| GateError::Io {
            operation: "create",
            path: layer_path.clone(),
            source,
        })?;
        let mut writer = std::io::BufWriter::new(file);
        plan.write(&mut writer).map_err(|source| GateError::Io {
            operation: "write",
            path: layer_path.clone(),
            source,
        })?;
        drop(writer);
        let described: Vec<String> = put_back
            .iter()
            .map(|change| format!("{} {}", change.name, change.from.as_deref().unwrap_or("(absent)")))
            .collect();
        let owner = imagegate_engine::Owner::current().label();
        let listed: Vec<serde_json::Value> = put_back
            .iter()
            .map(|change| {
                serde_json::json!({
                    "ecosystem": change.ecosystem.as_str(),
                    "name": change.name,
                    "location": change.location,
                    "version": change.from,
                })
            })
            .collect();
        let listed = serde_json::Value::Array(listed).to_string();
        let image_name = self.image.clone();
        let kept = self.kept;
        let candidate_reference = self.candidate_reference.clone();
        let edit = |config: &mut serde_json::Value| {
            let labels = &mut config["config"]["Labels"];
            if !labels.is_object() {
                *labels = serde_json::json!({});
            }
            if let Some(labels) = labels.as_object_mut() {
                // Never taken for a candidate: the inputs label is what finds candidates.
                labels.remove(crate::LABEL_INPUTS);
                labels.insert(LABEL_EXPERIMENT.to_owned(), serde_json::Value::String(image_name.clone()));
                if !kept {
                    labels.insert(imagegate_engine::LABEL_OWNER.to_owned(), serde_json::Value::String(owner.clone()));
                }
                labels.insert(LABEL_PUT_BACK.to_owned(), serde_json::Value::String(listed.clone()));
                labels.insert(LABEL_FROM_CANDIDATE.to_owned(), serde_json::Value::String(candidate_reference.clone()));
            }
            let step = serde_json::json!({
                "created": jiff::Timestamp::now().to_string(),
                "created_by": format!("imagegate: put back {}", described.join(", ")),
            });
            if let Some(history) = config["history"].as_array_mut() {
                history.push(step);
            } else {
                config["history"] = serde_json::json!([step]);
            }
        };
        // Named for the candidate and what is put back: the same experiment gets the same name.
        let mut key = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut key, self.candidate_reference.as_bytes());
        for change in put_back {
            sha2::Digest::update(
                &mut key,
                format!("\n{}/{}/{}", change.ecosystem.as_str(), change.location, change.name).as_bytes(),
            );
        }
        let key = hex::encode(sha2::Digest::finalize(key));
        let reference = format!("localhost/imagegate-experiment/{}:{}", self.image.to_lowercase(), &key[..12]);
        let out = fs::File::create(&archive_path).map_err(|source| GateError::Io {
            operation: "create",
            path: archive_path.clone(),
            source,
        })?;
        let derived =
            write_derived_archive(&self.candidate, &layer_path, &reference, &edit, std::io::BufWriter::new(out))
                .map_err(transplant_error)?;
        let _ = fs::remove_file(&layer_path);
        let loaded = context.engine.load_image(&archive_path);
        let _ = fs::remove_file(&archive_path);
        let image_id = loaded?;
        crate::failpoint!("experiment.made");
        Ok(Transplant {
            reference,
            image_id,
            put_back: put_back.to_vec(),
            layer_bytes: derived.layer_bytes,
            elapsed: started.elapsed(),
        })
    }

    /// Removes an experiment image from the engine.
    pub fn remove(&mut self, context: &Context<'_>, transplant: &Transplant) -> Result<(), GateError> {
        context.engine.remove_image(&transplant.reference)?;
        context.engine.remove_image(&transplant.image_id)?;
        Ok(())
    }

    /// What the extra layer holds for `put_back`.
    fn plan(&self, put_back: &[PackageChange]) -> Result<LayerPlan, GateError> {
        let mut in_incumbent = Vec::new();
        let mut in_candidate = Vec::new();
        for change in put_back {
            let (incumbent, candidate) = self.owned(change).map_err(|message| GateError::Transplant { message })?;
            in_incumbent.extend(incumbent);
            in_candidate.extend(candidate);
        }
        // The folders above what is put back, so that they get the incumbent's modes too.
        let mut above: BTreeSet<String> = BTreeSet::new();
        for owned in &in_incumbent {
            for path in owned.paths.iter().chain(&owned.folders) {
                let mut parent = path.as_str();
                while let Some((up, _)) = parent.rsplit_once('/') {
                    above.insert(up.to_owned());
                    parent = up;
                }
            }
        }
        let databases: BTreeSet<&str> = std::iter::once(ownership::DPKG_STATUS)
            .chain(ownership::APK_INSTALLED)
            .chain(ownership::RPM_SQLITE)
            .collect();
        // rpm's SQLite database keeps a write-ahead log and its index beside it: a log written
        // for the candidate's database would be replayed over the rewritten one, so both go.
        let rpm_logs: BTreeSet<String> = if put_back.iter().any(|change| change.ecosystem == Ecosystem::Rpm) {
            ownership::RPM_SQLITE.iter().flat_map(|path| [format!("{path}-wal"), format!("{path}-shm")]).collect()
        } else {
            BTreeSet::new()
        };
        let incumbent_owns = |path: &str| in_incumbent.iter().any(|owned| owned.owns(path));
        let candidate_owns = |path: &str| in_candidate.iter().any(|owned| owned.owns(path));
        let incumbent =
            self.incumbent.stack(&|path| incumbent_owns(path) || above.contains(path)).map_err(transplant_error)?;
        let candidate = self
            .candidate
            .stack(&|path| candidate_owns(path) || databases.contains(path) || rpm_logs.contains(path))
            .map_err(transplant_error)?;
        let mut plan = LayerPlan { entries: incumbent.entries.clone(), ..LayerPlan::default() };
        // Folders owned whole: refilled when both versions own them, deleted when only the
        // candidate's does.
        for owned in &in_candidate {
            // A folder holding other packages (an npm package's own `node_modules`) is never
            // replaced whole: its files go one by one below.
            if !owned.excluded.is_empty() {
                continue;
            }
            for folder in &owned.folders {
                let both = in_incumbent.iter().any(|theirs| theirs.folders.contains(folder));
                if both && incumbent.entries.get(folder).is_some_and(Entry::is_folder) {
                    plan.opaque.insert(folder.clone());
                } else if !incumbent.entries.contains_key(folder) {
                    plan.whiteouts.insert(folder.clone());
                }
            }
        }
        let deleted_whole = |path: &str| {
            plan.whiteouts
                .iter()
                .chain(&plan.opaque)
                .any(|folder| path.starts_with(folder.as_str()) && path.as_bytes().get(folder.len()) == Some(&b'/'))
        };
        let mut whiteouts = Vec::new();
        for (path, entry) in &candidate.entries {
            if rpm_logs.contains(path) {
                whiteouts.push(path.clone());
                continue;
            }
            if databases.contains(path.as_str()) || entry.is_folder() || incumbent.entries.contains_key(path) {
                continue;
            }
            // A folder may be shared with other packages: only files go.
            if candidate_owns(path) && !deleted_whole(path) {
                whiteouts.push(path.clone());
            }
        }
        plan.whiteouts.extend(whiteouts);
        put_back_databases(&mut plan, put_back, &candidate, &self.incumbent_files)?;
        Ok(plan)
    }
}

/// The package databases of the candidate with `put_back`'s entries made the incumbent's.
fn put_back_databases(
    plan: &mut LayerPlan,
    put_back: &[PackageChange],
    candidate: &Stack,
    incumbent_files: &ownership::Files,
) -> Result<(), GateError> {
    let mut databases: BTreeMap<String, Entry> = BTreeMap::new();
    for change in put_back {
        let path = match change.ecosystem {
            Ecosystem::Deb => ownership::DPKG_STATUS,
            Ecosystem::Apk => match ownership::APK_INSTALLED.iter().find(|path| candidate.entries.contains_key(**path))
            {
                Some(path) => path,
                None => continue,
            },
            Ecosystem::Rpm => match ownership::RPM_SQLITE.iter().find(|path| candidate.entries.contains_key(**path)) {
                Some(path) => path,
                None => continue,
            },
            // Python and npm keep their records in the package's own folder.
            _ => continue,
        };
        let Some(current) = databases.get(path).or_else(|| candidate.entries.get(path)).cloned() else {
            continue;
        };
        let data = if change.ecosystem == Ecosystem::Rpm {
            // The incumbent may keep its database at the other place.
            let source = ownership::rpm_sqlite_path(incumbent_files)
                .and_then(|path| incumbent_files.get(path))
                .map(Vec::as_slice)
                .unwrap_or_default();
            ownership::put_back_rpm_entry(
                &current.data,
                source,
                &change.name,
                change.from.as_deref(),
                change.to.as_deref(),
            )
        } else {
            let source = incumbent_files.get(path).map(Vec::as_slice).unwrap_or_default();
            ownership::put_back_entry(change.ecosystem, &current.data, source, &change.name)
        }
        .map_err(|error| GateError::Transplant { message: error.to_string() })?;
        databases.insert(path.to_owned(), Entry { header: current.header, data });
    }
    plan.entries.extend(databases);
    Ok(())
}

fn save(context: &Context<'_>, reference: &str, folder: &std::path::Path) -> Result<SavedImage, GateError> {
    let mut saved = None;
    context.engine.save_image(reference, &mut |archive| {
        saved = Some(SavedImage::unpack(archive, folder).map_err(|error| error.to_string())?);
        Ok(())
    })?;
    saved.ok_or_else(|| GateError::Transplant {
        message: format!("the {} engine produced no archive for `{reference}`", context.engine.program()),
    })
}

fn transplant_error(error: imagegate_image::transplant::TransplantError) -> GateError {
    GateError::Transplant { message: error.to_string() }
}

/// An experiment image in the engine.
#[derive(Debug, Clone)]
pub struct Transplant {
    pub reference: String,
    pub image_id: String,
    pub put_back: Vec<PackageChange>,
    pub layer_bytes: u64,
    pub elapsed: Duration,
}
