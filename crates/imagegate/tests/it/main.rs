//! Integration tests: the built `imagegate` binary against real docker and podman engines.
//!
//! Each test makes its own project (a Dockerfile on the busybox base image, and a suite that
//! writes JUnit XML) in a temporary folder, with its own stable tag and state folder, so tests
//! run in parallel without sharing anything but the engines. The engines and the base image
//! are set up by `scripts/engines.sh` (run by `make test`).

#![expect(clippy::unwrap_used, reason = "test helpers stop the test at the first surprise, which is what a test wants")]

mod ci;
mod containment;
mod context;
mod crashes;
mod culprits;
mod duplicates;
mod evidence;
mod faults;
mod first_day;
mod gate_cost;
mod gate_rules;
mod init;
mod init_ci;
mod json_errors;
mod lifecycle;
mod lockfile;
mod packages;
mod preflight;
mod registry;
mod results_limits;
mod robustness;
mod sharding;
