//! Building a result set beside the parser that reads it.
//!
//! Reading a large results file is two kinds of work: scanning the text, and making the model
//! (an allocated id and attempt list per test, then one sort). A [`CaseQueue`] takes the
//! parser's test cases in order and, once a file turns out to be large, hands them in batches
//! to a second thread that makes the model while the parser reads on. A passing test case
//! crosses as its class and name copied into the batch's text, so the parser allocates
//! nothing for it; any other case crosses already made. The set built is the same whichever
//! thread builds it, and small files (fewer than one batch of cases) never start a thread.

use std::ops::Range;
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::model::ResultSetBuilder;
use crate::{Attempt, Incomplete, Outcome, ResultSet, TestId};

/// Test cases per batch: enough that handing a batch over costs little beside making it, few
/// enough that the first batch of a small file is made without a thread.
const BATCH_CASES: usize = 2048;

/// Batches the parser may be ahead of the builder by.
const BATCHES_IN_FLIGHT: usize = 4;

/// Whether this machine runs two threads at once (asked once: the answer reads cgroup files).
pub(crate) fn parallel() -> bool {
    static PARALLEL: OnceLock<bool> = OnceLock::new();
    *PARALLEL.get_or_init(|| std::thread::available_parallelism().is_ok_and(|threads| threads.get() > 1))
}

/// One test case on its way to the builder.
enum Case {
    /// A case that passed in one attempt: its class and name as ranges of the batch's text.
    Passed { class: Option<Range<usize>>, name: Range<usize>, duration: Option<Duration> },
    /// Any other case, made by the parser.
    Made { id: TestId, prefix_length: usize, attempts: Vec<Attempt> },
}

#[derive(Default)]
struct Batch {
    text: String,
    cases: Vec<Case>,
}

impl Batch {
    fn record_into(&mut self, builder: &mut ResultSetBuilder) {
        for case in self.cases.drain(..) {
            match case {
                Case::Passed { class, name, duration } => {
                    let class = class.and_then(|class| self.text.get(class));
                    let name = self.text.get(name).unwrap_or_default();
                    let (id, prefix_length) = TestId::from_class_and_name_with_prefix(class, name);
                    let attempt = Attempt { duration, ..Attempt::new(Outcome::Pass) };
                    builder.record_attempts(id, prefix_length, vec![attempt]);
                }
                Case::Made { id, prefix_length, attempts } => builder.record_attempts(id, prefix_length, attempts),
            }
        }
        self.text.clear();
    }
}

/// The thread making the model, and the channels to it.
struct Worker {
    batches: Option<SyncSender<Batch>>,
    /// Batches the worker is done with, to be filled again.
    recycled: Receiver<Batch>,
    handle: Option<JoinHandle<ResultSetBuilder>>,
}

impl Worker {
    fn start() -> Option<Worker> {
        let (batches, incoming) = std::sync::mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (give_back, recycled) = std::sync::mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT + 1);
        let handle = std::thread::Builder::new()
            .name("imagegate-results".to_owned())
            .spawn(move || {
                let mut builder = ResultSetBuilder::default();
                for mut batch in incoming {
                    batch.record_into(&mut builder);
                    // The parser may have finished and gone: the batch is then dropped here.
                    let _ = give_back.try_send(batch);
                }
                builder
            })
            .ok()?;
        Some(Worker { batches: Some(batches), recycled, handle: Some(handle) })
    }

    /// Waits for the worker to make every batch sent, and takes its builder.
    fn finish(mut self) -> ResultSetBuilder {
        self.batches = None;
        let handle = self.handle.take();
        match handle.map(JoinHandle::join) {
            Some(Ok(builder)) => builder,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => ResultSetBuilder::default(),
        }
    }
}

impl Drop for Worker {
    /// A parser that stops early (a malformed file) does not leave the worker running.
    fn drop(&mut self) {
        self.batches = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The test cases of one file, in the order read, on their way into a [`ResultSet`].
pub(crate) struct CaseQueue {
    batch: Batch,
    /// Cases per batch, and whether a worker may be started ([`BATCH_CASES`] and [`parallel`],
    /// except in tests).
    batch_cases: usize,
    threaded: bool,
    /// Cases made on the parser's thread, when no worker runs (on one core).
    inline: ResultSetBuilder,
    worker: Option<Worker>,
    /// Whether a worker was asked for (once, with the first full batch).
    tried_worker: bool,
    incomplete: Vec<Incomplete>,
}

impl Default for CaseQueue {
    fn default() -> Self {
        CaseQueue::with(BATCH_CASES, parallel())
    }
}

impl CaseQueue {
    fn with(batch_cases: usize, threaded: bool) -> Self {
        CaseQueue {
            batch: Batch::default(),
            batch_cases,
            threaded,
            inline: ResultSetBuilder::default(),
            worker: None,
            tried_worker: false,
            incomplete: Vec::new(),
        }
    }

    /// Queues a case that passed in one attempt, from its `classname` and `name` as
    /// [`TestId::from_class_and_name`] takes them.
    pub(crate) fn passed(&mut self, classname: Option<&str>, name: &str, duration: Option<Duration>) {
        let text = &mut self.batch.text;
        let class = classname.map(|class| {
            let start = text.len();
            text.push_str(class);
            start..text.len()
        });
        let start = text.len();
        text.push_str(name);
        let name = start..text.len();
        self.batch.cases.push(Case::Passed { class, name, duration });
        self.maybe_send();
    }

    /// Queues a case as a parser made it: see [`ResultSetBuilder::record_attempts`].
    pub(crate) fn made(&mut self, id: TestId, prefix_length: usize, attempts: Vec<Attempt>) {
        self.batch.cases.push(Case::Made { id, prefix_length, attempts });
        self.maybe_send();
    }

    fn maybe_send(&mut self) {
        if self.batch.cases.len() < self.batch_cases {
            return;
        }
        if !self.tried_worker {
            self.tried_worker = true;
            if self.threaded {
                self.worker = Worker::start();
            }
        }
        let Some(worker) = self.worker.as_mut() else {
            self.batch.record_into(&mut self.inline);
            return;
        };
        let empty = match worker.recycled.try_recv() {
            Ok(batch) => batch,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Batch {
                text: String::with_capacity(self.batch.text.capacity()),
                cases: Vec::with_capacity(self.batch_cases),
            },
        };
        let full = std::mem::replace(&mut self.batch, empty);
        // A send fails only when the worker is gone, which it is only after a panic: that
        // panic surfaces when the worker is joined, and the batch is not needed.
        if let Some(batches) = worker.batches.as_ref() {
            let _ = batches.send(full);
        }
    }

    pub(crate) fn mark_incomplete(&mut self, source: impl Into<String>, reason: impl Into<String>) {
        self.incomplete.push(Incomplete { source: source.into(), reason: reason.into() });
    }

    /// Every case queued, in the order queued, and the incomplete marks.
    pub(crate) fn build(mut self) -> ResultSet {
        // With a worker, every full batch went to it (it starts with the first); the last,
        // partial batch is made here. A worker that panicked panics here too.
        let mut builder = self.worker.take().map_or_else(|| std::mem::take(&mut self.inline), Worker::finish);
        self.batch.record_into(&mut builder);
        for Incomplete { source, reason } in self.incomplete.drain(..) {
            builder.mark_incomplete(source, reason);
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What a parser may hand over for one case: passed with a class or not, or made.
    #[derive(Debug, Clone)]
    enum Given {
        Passed(Option<String>, String, Option<u64>),
        Made(String, usize, Vec<Outcome>),
    }

    fn given_strategy() -> impl Strategy<Value = Given> {
        // A small alphabet, so that ids repeat and classes begin one another.
        let class = proptest::option::of("[ab]{0,3}");
        let name = "[ab.]{0,4}";
        let outcome = prop_oneof![Just(Outcome::Pass), Just(Outcome::Fail), Just(Outcome::Error)];
        prop_oneof![
            3 => (class, name, proptest::option::of(0..5_u64)).prop_map(|(class, name, millis)| Given::Passed(class, name, millis)),
            1 => ("[ab.]{1,6}", any::<proptest::sample::Index>(), proptest::collection::vec(outcome, 1..3))
                .prop_map(|(id, prefix, outcomes)| {
                    let prefix = prefix.index(id.len() + 1);
                    Given::Made(id, prefix, outcomes)
                }),
        ]
    }

    /// The set reported one case at a time, as `ResultSet::report_attempts` keeps it.
    fn recorded(cases: &[Given]) -> ResultSet {
        let mut set = ResultSet::new();
        for case in cases {
            match case {
                Given::Passed(class, name, millis) => {
                    let id = TestId::from_class_and_name(class.as_deref(), name);
                    let duration = millis.map(Duration::from_millis);
                    set.report(id, Attempt { duration, ..Attempt::new(Outcome::Pass) });
                }
                Given::Made(id, _, outcomes) => {
                    let attempts = outcomes.iter().map(|&outcome| Attempt::new(outcome)).collect();
                    set.report_attempts(TestId::new(id.as_str()), attempts);
                }
            }
        }
        set.mark_incomplete("r.xml", "cut");
        set
    }

    fn queued(cases: &[Given], batch_cases: usize, threaded: bool) -> ResultSet {
        let mut queue = CaseQueue::with(batch_cases, threaded);
        for case in cases {
            match case {
                Given::Passed(class, name, millis) => {
                    queue.passed(class.as_deref(), name, millis.map(Duration::from_millis))
                }
                Given::Made(id, prefix, outcomes) => {
                    queue.made(
                        TestId::new(id.as_str()),
                        *prefix,
                        outcomes.iter().map(|&outcome| Attempt::new(outcome)).collect(),
                    );
                }
            }
        }
        queue.mark_incomplete("r.xml", "cut");
        queue.build()
    }

    proptest! {
        #[test]
        fn a_queued_set_equals_the_set_recorded_one_attempt_at_a_time(
            cases in proptest::collection::vec(given_strategy(), 0..60),
            batch_cases in 1..8_usize,
        ) {
            let mut expected = recorded(&cases);
            let mut threaded = queued(&cases, batch_cases, true);
            prop_assert_eq!(&threaded, &expected);
            prop_assert_eq!(&queued(&cases, batch_cases, false), &expected);

            // Looked up and added to, a built set (in segments) is the same set still.
            for id in ["a.a", "b", "ab.b", "zz"] {
                let id = TestId::new(id);
                prop_assert_eq!(threaded.get(&id), expected.get(&id));
                threaded.record(id.clone(), Attempt::new(Outcome::Skip));
                expected.record(id, Attempt::new(Outcome::Skip));
            }
            prop_assert_eq!(&threaded, &expected);
        }
    }

    #[test]
    fn a_large_queue_is_made_by_a_worker_and_comes_out_the_same() {
        // Many batches, classes in runs that come back, and one id passed three times.
        let cases: Vec<Given> = (0..20_000)
            .map(|index| {
                let class = format!("tests.m{}.C{}", index % 7, index / 500 % 5);
                if index % 1000 == 999 {
                    // Twenty attempts of one id, in runs of its class far apart.
                    let outcome = if index % 2000 == 999 { Outcome::Fail } else { Outcome::Error };
                    Given::Made("tests.m0.C0.repeated".to_owned(), "tests.m0.C0".len(), vec![outcome])
                } else {
                    Given::Passed(Some(class), format!("test_{}", index % 3000), Some(1))
                }
            })
            .collect();
        let expected = recorded(&cases);
        let mut queue = CaseQueue::with(BATCH_CASES, true);
        for index in 0..BATCH_CASES {
            assert!(queue.worker.is_none(), "no worker before a batch is full");
            queue.passed(Some("a"), &index.to_string(), None);
        }
        assert!(queue.worker.is_some(), "a full batch starts the worker");
        // Dropped unbuilt, as when a parser meets an error: the worker is joined, not left.
        drop(queue);

        let built = queued(&cases, BATCH_CASES, true);
        assert_eq!(built, expected);
        let repeated = built.get(&TestId::new("tests.m0.C0.repeated")).expect("recorded");
        let outcomes: Vec<Outcome> = repeated.outcomes().collect();
        assert_eq!(outcomes.len(), 20);
        assert_eq!(outcomes[..3], [Outcome::Fail, Outcome::Error, Outcome::Fail]);
    }
}
