//! One file per command.

pub mod build;
pub mod ci;
pub mod compare;
pub mod diff;
pub mod gate;
pub mod history;
pub mod init;
pub mod plan;
pub mod promote;
pub mod prune;
pub mod results;
pub mod rollback;
pub mod test;
