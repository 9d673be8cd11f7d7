//! Real services for tests and benchmarks.
