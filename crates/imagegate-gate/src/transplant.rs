//! Transplant images: the candidate with a set of changed packages put back to the
//! incumbent's versions.

use imagegate_config::ImageConfig;
use imagegate_packages::{PackageChange, PackageDiff};

use crate::{Context, GateError};

/// Makes transplant images of one candidate and incumbent.
pub struct Transplants {}

impl Transplants {
    pub fn prepare(
        _context: &Context<'_>,
        _image: &ImageConfig,
        _candidate: &str,
        _incumbent: &str,
        _diff: &PackageDiff,
    ) -> Result<Transplants, GateError> {
        Err(GateError::Transplant { message: "transplant images are not built yet".into() })
    }

    /// Loads into the engine the candidate with these packages put back to the incumbent's versions.
    pub fn make(&mut self, _context: &Context<'_>, _put_back: &[PackageChange]) -> Result<Transplant, GateError> {
        Err(GateError::Transplant { message: "transplant images are not built yet".into() })
    }

    pub fn remove(&mut self, _context: &Context<'_>, _transplant: &Transplant) -> Result<(), GateError> {
        Err(GateError::Transplant { message: "transplant images are not built yet".into() })
    }
}

#[derive(Debug, Clone)]
pub struct Transplant {
    pub reference: String,
    pub image_id: String,
    pub put_back: Vec<PackageChange>,
    pub layer_bytes: u64,
    pub elapsed: std::time::Duration,
}
