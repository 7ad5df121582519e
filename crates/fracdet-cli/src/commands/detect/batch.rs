//! One batch of `detect`: read the files in parallel, refuse what the applicability check
//! refuses (unless `--assess-anyway`), and run the model once on the rest.

use std::path::{Path, PathBuf};

use fracdet_detect::results::Scope;
use fracdet_detect::{Detection, Detector};
use fracdet_io::applicability::{self, Thresholds};
use fracdet_io::{Radiograph, ReadOptions, read_radiograph};
use rayon::prelude::*;

/// One input after reading and inference: its image and findings (with the reason it is
/// out of scope, when it was assessed anyway), the reason it was not assessed, or why it
/// could not be read.
pub enum Item<'a> {
    Found(&'a Radiograph, Box<Detection>, Option<Scope>),
    /// Refused by the scope check: the image (for its DICOM result) and why.
    NotAssessed(&'a Radiograph, Scope),
    Failed(String),
}

/// The files of a batch, read; kept apart from [`items`] because the items borrow them.
pub fn read(chunk: &[PathBuf]) -> Vec<Result<Radiograph, String>> {
    let read = ReadOptions::default();
    chunk
        .par_iter()
        .map(|f| read_radiograph(f, &read).map_err(|e| e.to_string()))
        .collect()
}

/// Each file of the batch paired with what became of it, in input order.
pub fn items<'a>(
    chunk: &'a [PathBuf],
    loaded: &'a [Result<Radiograph, String>],
    detector: &Detector,
    device: &fracdet_run::Device,
    assess_anyway: bool,
) -> anyhow::Result<Vec<(&'a Path, Item<'a>)>> {
    // Is each image a radiograph at all? Refused ones get no finding (unless
    // --assess-anyway) and never reach the model.
    let scopes: Vec<Option<Scope>> = loaded
        .iter()
        .map(|r| {
            let image = r.as_ref().ok()?;
            let reason = applicability::check(image, &Thresholds::default()).err()?;
            Some(Scope::new(reason, assess_anyway))
        })
        .collect();
    let good: Vec<&Radiograph> = loaded
        .iter()
        .zip(&scopes)
        .filter(|(_, scope)| scope.is_none() || assess_anyway)
        .filter_map(|(r, _)| r.as_ref().ok())
        .collect();
    let mut detections = detector.detect_batch(&good, device)?.into_iter();
    let mut batch = Vec::with_capacity(chunk.len());
    for ((file, result), scope) in chunk.iter().zip(loaded).zip(scopes) {
        let item = match (result, scope) {
            (Err(e), _) => Item::Failed(e.clone()),
            (Ok(r), Some(scope)) if !assess_anyway => Item::NotAssessed(r, scope),
            (Ok(r), scope) => match detections.next() {
                Some(d) => match scope.or_else(|| Scope::atypical(&d, assess_anyway)) {
                    Some(scope) if !assess_anyway => Item::NotAssessed(r, scope),
                    scope => Item::Found(r, Box::new(d), scope),
                },
                None => Item::Failed("no detection returned".to_string()),
            },
        };
        batch.push((file.as_path(), item));
    }
    Ok(batch)
}
