//! Package inventories of an image's files, the diff of two inventories, and the ranking of
//! changed packages as likely causes of test regressions. Pure: works on file contents handed
//! in by the caller, and performs no I/O.
//!
//! The flow: the image reader keeps the files [`is_inventory_path`] accepts; [`inventory`]
//! reads the package databases among them (dpkg, apk, rpm, Python, npm, gems); [`diff`]
//! compares two inventories, ordering versions by each ecosystem's rules
//! ([`compare_versions`]); [`suspects`] ranks the changes a regression's failure text points
//! at. [`PackageDiff::to_contract`] and the `From` conversions give the documents of
//! `imagegate-contract`.

mod apk;
mod berkeley_db;
mod contract;
mod diff;
mod dpkg;
mod gem;
mod inventory;
mod model;
mod ndb;
mod npm;
pub mod ownership;
mod paths;
mod python;
mod rpm;
mod suspects;
pub mod version;

pub use diff::{Direction, PackageChange, PackageDiff, diff};
pub use inventory::inventory;
pub use model::{Ecosystem, Inventory, Package};
pub use ownership::{
    APK_INSTALLED, DPKG_STATUS, Files, Owned, OwnershipError, RPM_SQLITE, apk_database_path, dependencies,
    is_ownership_path, owned_files, put_back_entry, put_back_rpm_entry, rpm_sqlite_path,
};
pub use paths::is_inventory_path;
pub use python::normalize_distribution_name;
pub use suspects::{Suspect, suspects};
pub use version::compare_versions;
