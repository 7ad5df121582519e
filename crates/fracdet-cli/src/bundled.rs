//! The default model, compiled into the binary so `fracdet detect samples/` works on a
//! fresh clone with nothing else: `models/default/` (see its MODEL_CARD.md).

use fracdet_detect::{Detector, Manifest};
use fracdet_train::Device;

const MANIFEST: &[u8] = include_bytes!("../../../models/default/model.json");
const WEIGHTS: &[u8] = include_bytes!("../../../models/default/model.safetensors");
/// Its typicality check (`fracdet typicality`), applied like a bundle directory's.
const TYPICALITY: &[u8] = include_bytes!("../../../models/default/typicality.json");
const ORIGIN: &str = "bundled model (models/default)";

pub fn detector(device: &Device) -> anyhow::Result<Detector> {
    let manifest = Manifest::from_json(MANIFEST, ORIGIN)?;
    let typicality = fracdet_detect::Typicality::from_json(TYPICALITY, ORIGIN)?;
    Ok(
        Detector::from_bundle(manifest, WEIGHTS.to_vec(), ORIGIN, device)?
            .with_typicality(Some(typicality))?,
    )
}
