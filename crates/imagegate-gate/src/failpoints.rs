//! Failpoints for tests (the `failpoints` feature only): the steps of build, run, record and
//! move at which a test stops or kills the process, to prove that a crash at any of them
//! leaves history, rollback and the engine in order.

/// Announces on stderr that the step `name` is reached, when `FAILPOINTS` configures it: a test
/// that reads this line knows the process is now at that step (and, with a `sleep` action,
/// stays there until it is killed).
pub fn reached(name: &str) {
    let configured = std::env::var("FAILPOINTS")
        .is_ok_and(|points| points.split(';').any(|point| point.split('=').next().map(str::trim) == Some(name)));
    if configured {
        eprintln!("imagegate: failpoint {name} reached (pid {})", std::process::id());
    }
}
