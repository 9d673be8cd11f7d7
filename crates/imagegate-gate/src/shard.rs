//! Sharded gating for big suites: `test --shard K/N` collects the evidence of one slice of the
//! suite in both images, and `gate --results` merges the slices into one verdict.
//!
//! A slice is chosen either by the suite's own sharding (`suite.shard`, a command with
//! `{index}` and `{total}`) or by imagegate from the suite's test list (`suite.list`), each id
//! going to the shard its FNV-1a hash picks, so every machine computes the same slices.
//! Merging refuses partial data: every shard from 1 to N must be there exactly once, all about
//! the same candidate, incumbent and commit.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use imagegate_config::ImageConfig;
use imagegate_contract::{GateReport, RunSummary};
use imagegate_results::{ResultSet, TestId};
use serde::{Deserialize, Serialize};

use crate::candidate::timestamp_for_files;
use crate::gate::{Evidence, Selection, Subjects, collect_evidence, judge, resolve_subjects};
use crate::report::up_to_date;
use crate::suite::{Keep, Runner, run_container, unique_folder};
use crate::{Context, GateError, GateOptions, evidence};

pub const SHARD_SCHEMA: &str = "imagegate.shard/v1";

/// Shard `index` of `total`, counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub total: u32,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (index, total) = text.split_once('/').ok_or_else(|| format!("`{text}` is not of the form K/N"))?;
        let index: u32 = index.trim().parse().map_err(|_| format!("`{index}` in `{text}` is not a number"))?;
        let total: u32 = total.trim().parse().map_err(|_| format!("`{total}` in `{text}` is not a number"))?;
        if total == 0 || index == 0 || index > total {
            return Err(format!("shard `{text}` is out of range: K must be between 1 and N"));
        }
        Ok(Shard { index, total })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.index, self.total)
    }
}

/// The evidence of one shard, as `test --shard` saves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Always [`SHARD_SCHEMA`].
    pub schema: String,
    pub image: String,
    pub stable_tag: String,
    pub engine: String,
    pub commit: String,
    pub shard: Shard,
    pub subjects: Subjects,
    pub evidence: Evidence,
}

/// FNV-1a, 64 bits: a stable hash, the same on every machine and in every version.
fn stable_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The ids of `ids` that belong to `shard`.
pub fn slice(ids: &BTreeSet<TestId>, shard: Shard) -> Vec<TestId> {
    ids.iter()
        .filter(|id| stable_hash(id.as_str()) % u64::from(shard.total) == u64::from(shard.index - 1))
        .cloned()
        .collect()
}

/// Runs `suite.list` in `image_ref` and returns the ids it printed, with the run's summary
/// (`which` names the image in it, purpose `list`). A list that times out or fails is a
/// [`GateError::Shards`].
pub(crate) fn list_tests(
    context: &Runner<'_>,
    image: &ImageConfig,
    image_ref: &str,
    which: &str,
    list: &str,
    run_dir: &std::path::Path,
) -> Result<(BTreeSet<TestId>, RunSummary), GateError> {
    let command = format!("mkdir -p /tmp/imagegate-list && ( {list} ) > /tmp/imagegate-list/ids.txt");
    let copy_out = "/tmp/imagegate-list";
    // A listing made before with everything that determines it unchanged is not made again.
    let key = evidence::key_for(context, image, image_ref, evidence::RunKind::List, &command, copy_out);
    if let Some(found) = key.as_deref().and_then(|key| evidence::find(context, image, key))
        && let Some(ids) = found.run.listed.clone()
    {
        context.progress.note(
            &image.name,
            &format!(
                "{which}: {} listed, reused from {} ({})",
                imagegate_contract::plural(ids.len(), "test"),
                found.reused.recorded_at,
                found.reused.source
            ),
        );
        return Ok((ids, evidence::reused_summary(&found, which, "list")));
    }
    let folder = unique_folder(run_dir, "list");
    context.progress.start(&image.name, &format!("{which}: listing tests: `{list}`"));
    let run = run_container(context, image, image_ref, &command, copy_out, Keep::Everything, &folder)?;
    let problem = |message: String| GateError::Shards { message };
    if run.outcome.timed_out {
        return Err(problem(format!("the list command `{list}` timed out (output: {})", run.log_file.display())));
    }
    if run.outcome.exit_code != Some(0) {
        return Err(problem(format!(
            "the list command `{list}` exited with {:?} (output: {})",
            run.outcome.exit_code,
            run.log_file.display()
        )));
    }
    let listed =
        run.copied_out.map(|folder| folder.join("ids.txt")).and_then(|path| std::fs::read_to_string(path).ok());
    let ids: BTreeSet<TestId> =
        listed.unwrap_or_default().lines().map(str::trim).filter(|line| !line.is_empty()).map(TestId::new).collect();
    context.progress.finish(&image.name, &format!("{which}: {} listed", imagegate_contract::plural(ids.len(), "test")));
    let summary = RunSummary {
        image: which.to_owned(),
        purpose: "list".to_owned(),
        exit_code: run.outcome.exit_code,
        timed_out: run.outcome.timed_out,
        duration_seconds: (run.outcome.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        tests: ids.len(),
        log: run.log_file.display().to_string(),
        output_tail: None,
        skipped: Vec::new(),
        reused: None,
        experiment: None,
    };
    if let Some(key) = key
        && !ids.is_empty()
        && run.skipped.is_empty()
        && run.stopped_at.is_none()
    {
        let stored =
            evidence::StoredRun { summary: summary.clone(), results: ResultSet::new(), listed: Some(ids.clone()) };
        evidence::keep(context, image, &key, &stored);
    }
    Ok((ids, summary))
}

/// Collects the evidence of one shard in both images.
pub fn run_shard(
    context: &Context<'_>,
    image: &ImageConfig,
    shard: Shard,
    commit: &str,
) -> Result<ShardRecord, GateError> {
    let subjects = resolve_subjects(context, image, false)?;
    let run_dir = context.state_dir.join("runs").join(&image.name).join(format!(
        "{}-shard-{}-of-{}",
        timestamp_for_files(),
        shard.index,
        shard.total
    ));
    let suite = &image.suite;
    let evidence = if subjects.up_to_date() {
        Evidence::default()
    } else {
        let selection = match (&suite.shard, &suite.list, &suite.rerun) {
            (Some(template), _, _) => Selection::Command(
                template.replace("{index}", &shard.index.to_string()).replace("{total}", &shard.total.to_string()),
            ),
            (None, Some(list), Some(_)) => {
                // Both images list, so a test that one image fails to collect is still run in
                // both (and shows up as missing where it is).
                // The engine lists in what it can run (in a registry, the pulled image), not in
                // the digest a verdict names.
                let runnable = subjects.runnable(context, image)?;
                let runner = context.runner();
                let (mut ids, _) = list_tests(&runner, image, &runnable.candidate, "candidate", list, &run_dir)?;
                if let Some(incumbent) = &runnable.incumbent {
                    ids.extend(list_tests(&runner, image, incumbent, "incumbent", list, &run_dir)?.0);
                }
                if ids.is_empty() {
                    return Err(GateError::Shards {
                        message: format!("the list command `{list}` printed no test ids"),
                    });
                }
                Selection::Ids(slice(&ids, shard))
            }
            _ => {
                return Err(GateError::Usage {
                    message: format!("image `{}` has no way to shard its suite", image.name),
                    hint: "set `shard` (a command with {index} and {total}) or both `list` and `rerun` in its [suite]"
                        .to_owned(),
                });
            }
        };
        collect_evidence(context, image, &subjects, &selection, &run_dir)?
    };
    Ok(ShardRecord {
        schema: SHARD_SCHEMA.to_owned(),
        image: image.name.clone(),
        stable_tag: image.stable_tag.clone(),
        engine: context.engine_name().to_owned(),
        commit: commit.to_owned(),
        shard,
        subjects,
        evidence,
    })
}

/// Merges the shards of one image into one verdict. Refuses (exit 3, no verdict) unless
/// shards 1 to N are all there exactly once and agree on candidate, incumbent and commit.
pub fn judge_shards(
    context: &Context<'_>,
    image: &ImageConfig,
    mut records: Vec<ShardRecord>,
    options: &GateOptions,
) -> Result<GateReport, GateError> {
    let problem = |message: String| GateError::Shards { message };
    records.sort_by_key(|record| record.shard);
    let Some(first) = records.first().cloned() else {
        return Err(problem(format!("no shard results for image `{}`", image.name)));
    };
    let total = first.shard.total;
    let indices: Vec<u32> = records.iter().map(|record| record.shard.index).collect();
    let expected: Vec<u32> = (1..=total).collect();
    if records.iter().any(|record| record.shard.total != total) {
        return Err(problem(format!("the shards of `{}` disagree on how many shards there are", image.name)));
    }
    if indices != expected {
        let missing: Vec<String> =
            expected.iter().filter(|index| !indices.contains(index)).map(|index| format!("{index}/{total}")).collect();
        return Err(problem(if missing.is_empty() {
            format!("a shard of `{}` appears more than once", image.name)
        } else {
            format!(
                "{} {} of `{}` {} missing; no verdict on partial results",
                imagegate_contract::plural_word(missing.len(), "shard"),
                missing.join(", "),
                image.name,
                if missing.len() == 1 { "is" } else { "are" }
            )
        }));
    }
    for record in &records {
        if record.subjects != first.subjects {
            return Err(problem(format!(
                "shard {} of `{}` tested other images (candidate {} against {:?}) than shard {} ({} against {:?}); \
                 all shards must use one candidate",
                record.shard,
                image.name,
                record.subjects.candidate.digest,
                record.subjects.incumbent,
                first.shard,
                first.subjects.candidate.digest,
                first.subjects.incumbent
            )));
        }
        if record.commit != first.commit {
            return Err(problem(format!(
                "shard {} of `{}` ran at commit {} but shard {} at {}",
                record.shard, image.name, record.commit, first.shard, first.commit
            )));
        }
        if record.engine != context.engine_name() {
            return Err(problem(format!(
                "shard {} of `{}` ran on {}, not {}",
                record.shard,
                image.name,
                record.engine,
                context.engine_name()
            )));
        }
    }
    let subjects = first.subjects.clone();
    let mut options = options.clone();
    options.project.commit = first.commit.clone();
    if subjects.up_to_date() {
        return Ok(up_to_date(context, image, &subjects, &options));
    }
    let mut merged =
        Evidence { incumbent: subjects.incumbent.as_ref().map(|_| ResultSet::new()), ..Evidence::default() };
    for record in records {
        merged.candidate.merge(record.evidence.candidate);
        if let (Some(into), Some(from)) = (merged.incumbent.as_mut(), record.evidence.incumbent) {
            into.merge(from);
        }
        if let Some(from) = record.evidence.confirmation {
            merged.confirmation.get_or_insert_with(ResultSet::new).merge(from);
        }
        merged.runs.extend(record.evidence.runs);
        merged
            .warnings
            .extend(record.evidence.warnings.into_iter().map(|warning| format!("shard {}: {warning}", record.shard)));
    }
    judge(context, image, &subjects, merged, &options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_reject_nonsense() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, total: 3 }));
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert!("1/0".parse::<Shard>().is_err());
        assert!("x/3".parse::<Shard>().is_err());
        assert!("3".parse::<Shard>().is_err());
    }

    #[test]
    fn slices_partition_the_ids() {
        let ids: BTreeSet<TestId> = (0..200).map(|index| TestId::new(format!("pkg.test_{index}"))).collect();
        let mut seen = BTreeSet::new();
        for index in 1..=3 {
            for id in slice(&ids, Shard { index, total: 3 }) {
                assert!(seen.insert(id), "an id landed in two shards");
            }
        }
        assert_eq!(seen, ids);
        assert_eq!(slice(&ids, Shard { index: 1, total: 1 }).len(), 200);
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // Reference values of 64-bit FNV-1a.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
