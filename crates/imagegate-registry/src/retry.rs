//! The one retry policy for requests to a registry: a bounded number of attempts, exponential
//! backoff with full jitter, and only for failures that may pass by themselves. imagegate's
//! own client uses it for its idempotent requests, and the gate for the engine's pushes and
//! pulls (which the engines do not retry themselves at every step: docker retries layer
//! uploads but not the manifest that ends a push).

use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// The first backoff; doubled on each retry, with full jitter.
    pub backoff: Duration,
}

impl Default for Retry {
    /// Four attempts, from 200 ms: what [`crate::Connection::new`] uses.
    fn default() -> Retry {
        Retry { attempts: 4, backoff: Duration::from_millis(200) }
    }
}

impl Retry {
    /// Runs `call` until it succeeds, fails with an error `is_transient` does not accept, or
    /// has been tried [`Retry::attempts`] times; `before_retry` hears of each retry (attempt
    /// number and the error) before the wait. The error comes back with the attempts made.
    pub fn run<T, E>(
        &self,
        mut call: impl FnMut() -> Result<T, E>,
        is_transient: impl Fn(&E) -> bool,
        mut before_retry: impl FnMut(u32, &E),
    ) -> Result<T, (E, u32)> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match call() {
                Ok(value) => return Ok(value),
                Err(error) if is_transient(&error) && attempt < self.attempts => {
                    before_retry(attempt, &error);
                    std::thread::sleep(backoff(self.backoff, attempt));
                }
                Err(error) => return Err((error, attempt)),
            }
        }
    }
}

/// The wait before retry `attempt` (1-based): full jitter over an exponential ceiling.
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(1 << attempt.min(6));
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(fastrand::u64(millis / 2..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_within_its_ceiling() {
        let base = Duration::from_millis(100);
        for attempt in 1..=8 {
            let wait = backoff(base, attempt);
            let ceiling = base * (1 << attempt.min(6));
            assert!(wait <= ceiling, "attempt {attempt}: {wait:?} > {ceiling:?}");
            assert!(wait >= ceiling / 2, "attempt {attempt}: {wait:?} < half of {ceiling:?}");
        }
    }

    #[test]
    fn only_transient_failures_are_retried_and_only_so_often() {
        let retry = Retry { attempts: 3, backoff: Duration::from_millis(1) };
        let mut calls = 0;
        let result: Result<(), (&str, u32)> = retry.run(
            || {
                calls += 1;
                Err("busy")
            },
            |error| *error == "busy",
            |_, _| {},
        );
        assert_eq!((result, calls), (Err(("busy", 3)), 3));
        let mut calls = 0;
        let result: Result<(), (&str, u32)> = retry.run(
            || {
                calls += 1;
                Err("denied")
            },
            |error| *error == "busy",
            |_, _| {},
        );
        assert_eq!((result, calls), (Err(("denied", 1)), 1));
        let mut calls = 0;
        let mut heard = Vec::new();
        let result = retry.run(
            || {
                calls += 1;
                if calls < 2 { Err("busy") } else { Ok(calls) }
            },
            |error| *error == "busy",
            |attempt, _| heard.push(attempt),
        );
        assert_eq!((result, heard), (Ok(2), vec![1]));
    }
}
