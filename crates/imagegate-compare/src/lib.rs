//! The gate's judgement: compares a candidate image's per-test results with the incumbent's, at
//! the same project commit, and decides whether the candidate does at least as well.
//!
//! Architecture invariant: this crate performs no I/O and knows nothing of engines, stores or
//! registries. It is a pure function of result sets, so every rule is unit-tested here.
//!
//! # The rules
//!
//! Each image's attempts at a test sum up to one standing: **passed** (ok on some attempt, where
//! ok is pass or xfail, and never failed), **flaky** (ok on one attempt, failed or errored on
//! another), **failed** (failed or errored, never ok), **skipped** (only skipped), or **not run**.
//!
//! ## Reruns
//!
//! - [`rerun_targets`]: the candidate's tests whose last attempt failed or errored. The gate
//!   reruns them in the candidate, merging each round in as further attempts, until none is
//!   left or the configured number of attempts is spent.
//! - [`incumbent_confirmation`]: the tests that failed on every candidate attempt but passed in
//!   the incumbent. The gate reruns them once in the incumbent: a test that fails there too is
//!   not the candidate's doing. Reruns are asymmetric, as Chromium's try-bots do: the incumbent
//!   is only rerun to clear a suspected regression, never to excuse a flaky candidate.
//!
//! - [`incumbent_targets`]: with a targeted incumbent run (the suite has `list` and `rerun`),
//!   what the incumbent runs besides its list: every test the candidate did not pass cleanly,
//!   and every listed test the candidate did not run. [`compare_targeted`] then applies the
//!   same table; only `fixed` cannot be told, for the candidate's passing tests were not run in
//!   the incumbent ([`Comparison::unmeasured`]).
//!
//! ## Per test
//!
//! For every test in either image ([`Class`]):
//!
//! | candidate | incumbent | class |
//! | --- | --- | --- |
//! | flaky | anything | flaky |
//! | failed | passed | **regression**; preexisting when the incumbent's confirmation rerun fails too |
//! | failed | flaky or failed | preexisting ("also fails in the incumbent") |
//! | failed | skipped or not run | preexisting ("not passing in the incumbent") |
//! | not run | passed or flaky | **regression** ("missing in candidate") |
//! | skipped | passed or flaky | **regression** |
//! | not run or skipped | failed | preexisting |
//! | passed | failed or skipped | fixed |
//! | passed or skipped | not run | new |
//! | passed | passed or flaky | not listed, only counted |
//! | not run or skipped | skipped (or not run) | not listed, only counted |
//!
//! Only a regression blocks.
//!
//! A test the candidate passed at least once is never a regression. The gate blocks only on a
//! test the incumbent can pass and the candidate never did: one that failed on every candidate
//! attempt, passed in the incumbent without failing there and did not fail in the incumbent's
//! confirmation rerun; or one the candidate skipped or did not run at all.
//!
//! Reruns stop at a test's first pass, so for the gate "failed on every attempt" and "failed on
//! its last attempt" are the same.
//!
//! ## Duplicates
//!
//! Attempts are runs: the candidate's first run and each rerun add attempts. An id a suite reports
//! more than once within **one** run is a duplicate, settled when the run's results are read
//! (`ResultSet::report`, `ResultSet::merge_file` in `imagegate-results`): reports that disagree
//! (one ok, another failed) become that run's one failed attempt — an error when one file
//! contradicts itself, a failure when two files of the run do — so the run never makes a test
//! flaky, and a candidate that "passes" a test only beside a failure of it is judged as failing
//! it. Reports that agree stay attempts, and retries a format marks itself (JUnit's
//! `<flakyFailure>`, nextest's `name#2`) stay retries.
//!
//! With no incumbent (bootstrap, before any image is stable), a test that failed on every
//! attempt is a regression ("fails with no incumbent to compare"), a flaky one is flaky, and
//! the rest is not listed.
//!
//! ## The decision
//!
//! - **error** (no judgement, never a pass) when the candidate's results are incomplete (a
//!   truncated file, a timed-out suite) or hold no test; or when the incumbent's results are
//!   incomplete or hold no test and the candidate has a failed test, which the incumbent then
//!   cannot clear. An incomplete or empty incumbent with a candidate that fails nothing is only a
//!   warning: the candidate does at least as well as anything. Each reason is in
//!   [`Comparison::errors`].
//! - otherwise **regression** when some test is a regression,
//! - otherwise **pass**.

mod classify;
mod comparison;
pub mod culprits;
mod entry;
mod reruns;
mod standing;

pub use comparison::{Comparison, Decision, compare, compare_targeted};
pub use entry::{Class, Entry, Evidence};
pub use reruns::{incumbent_confirmation, incumbent_targets, rerun_targets};
