//! How one image's attempts at one test sum up: the only view of a test the rules look at.

use imagegate_results::TestResult;

/// One image's record for one test, from all its attempts. Order does not matter: a test that
/// both passed and failed in one image is flaky there, whichever came first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Not in the results at all.
    NotRun,
    /// Ok (passed or xfailed) on some attempt and never failed.
    Passed,
    /// Ok on some attempt and failed (or errored) on another.
    Flaky,
    /// Failed or errored, and never ok.
    Failed,
    /// Only skipped.
    Skipped,
}

impl Standing {
    pub(crate) fn of(result: Option<&TestResult>) -> Standing {
        let Some(result) = result.filter(|result| !result.attempts.is_empty()) else {
            return Standing::NotRun;
        };
        match (result.ever_ok(), result.ever_failed()) {
            (true, false) => Standing::Passed,
            (true, true) => Standing::Flaky,
            (false, true) => Standing::Failed,
            (false, false) => Standing::Skipped,
        }
    }

    /// Ok on some attempt: the image can pass this test.
    pub(crate) fn ever_ok(self) -> bool {
        matches!(self, Standing::Passed | Standing::Flaky)
    }

    /// Failed on some attempt.
    pub(crate) fn ever_failed(self) -> bool {
        matches!(self, Standing::Flaky | Standing::Failed)
    }
}

#[cfg(test)]
mod tests {
    use imagegate_results::{Attempt, Outcome, TestId};

    use super::*;

    fn standing(outcomes: &[Outcome]) -> Standing {
        let result = TestResult {
            id: TestId::new("t"),
            attempts: outcomes.iter().map(|&outcome| Attempt::new(outcome)).collect(),
        };
        Standing::of(Some(&result))
    }

    #[test]
    fn sums_up_attempts() {
        use Outcome::*;
        assert_eq!(Standing::of(None), Standing::NotRun);
        assert_eq!(standing(&[]), Standing::NotRun);
        assert_eq!(standing(&[Pass]), Standing::Passed);
        assert_eq!(standing(&[Xfail]), Standing::Passed);
        assert_eq!(standing(&[Skip, Pass]), Standing::Passed);
        assert_eq!(standing(&[Fail, Pass]), Standing::Flaky);
        assert_eq!(standing(&[Pass, Error]), Standing::Flaky);
        assert_eq!(standing(&[Fail, Error, Fail]), Standing::Failed);
        assert_eq!(standing(&[Skip, Fail]), Standing::Failed);
        assert_eq!(standing(&[Skip]), Standing::Skipped);
    }
}
