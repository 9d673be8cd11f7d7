//! What changed between two images: both are streamed out of the engine (`save`), only their
//! package databases are kept, and the inventories are diffed. Nothing is run or extracted.

use imagegate_engine::Engine;
use imagegate_packages::{Inventory, PackageDiff};

use crate::GateError;

/// The package inventory of `reference`, read from the engine's save stream.
pub fn image_inventory(engine: &dyn Engine, reference: &str) -> Result<Inventory, GateError> {
    let mut inventory = None;
    engine.save_image(reference, &mut |archive| {
        // `save` of one reference yields one image; saved by id it carries no name to match.
        let image = imagegate_image::ArchiveReader::new()
            .read(archive, &imagegate_packages::is_inventory_path)
            .map_err(|error| error.to_string())?;
        let mut found = imagegate_packages::inventory(&image.contents.files);
        found.warnings.extend(image.contents.warnings.iter().map(|warning| warning.to_string()));
        inventory = Some(found);
        Ok(())
    })?;
    inventory.ok_or_else(|| GateError::Usage {
        message: format!("the {} engine produced no archive for `{reference}`", engine.program()),
        hint: "check that the image exists: `imagegate plan` shows the candidate and the stable image".to_owned(),
    })
}

/// The package diff from image `from` to image `to`.
pub fn package_diff(engine: &dyn Engine, from: &str, to: &str) -> Result<PackageDiff, GateError> {
    let before = image_inventory(engine, from)?;
    let after = image_inventory(engine, to)?;
    Ok(imagegate_packages::diff(&before, &after))
}
