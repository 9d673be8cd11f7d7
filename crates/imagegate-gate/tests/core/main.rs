//! The gate's core in milliseconds: every comparison rule and every pointer move through the
//! library's public API (`gate_image`, `promote`, `rollback`), with the real embedded store and
//! an in-memory engine, and (in `home_moves.rs`) with the pointer kept in an in-memory home
//! behind the `Backend` interface. The CLI's integration tests (`crates/imagegate/tests/it/`) check the
//! same rules against real engines; tests here are named after the same rules.

mod context;
mod copies;
mod engine;
mod evidence;
mod home;
mod home_moves;
mod lifecycle;
mod rounds;
mod rules;
mod targeted;
