//! Integration tests of imagegate-ci: detection over the fixture corpus of provider
//! environments and payloads, the trust properties over generated environments, round trips of
//! the output formats, and the generated CI workflows checked by real linters.

mod corpus;
mod formats;
mod linters;
mod support;
mod trust;
