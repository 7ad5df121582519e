//! `operating_points.json`: the thresholds a model ships with, plus where they were chosen.
//!
//! `fracdet evaluate --split val` writes it into the model directory; `evaluate` on other
//! splits, `detect` and `serve` read it, so a test set never picks its own threshold.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};
use crate::operating::OperatingPoints;

/// File in a model directory holding the validation-chosen thresholds.
pub const OPERATING_POINTS_FILE: &str = "operating_points.json";
/// Bumped when the meaning of a field changes (new optional fields do not bump it).
pub const OPERATING_POINTS_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOperatingPoints {
    pub version: u32,
    /// Dataset the points were chosen on (informational).
    pub data: PathBuf,
    /// Always "val": thresholds are never chosen on the split they are tested on.
    pub split: String,
    pub points: OperatingPoints,
}

impl StoredOperatingPoints {
    pub fn new(data: PathBuf, split: impl Into<String>, points: OperatingPoints) -> Self {
        Self {
            version: OPERATING_POINTS_VERSION,
            data,
            split: split.into(),
            points,
        }
    }

    /// The points stored in `model_dir`, `None` when it has none.
    pub fn load(model_dir: &Path) -> Result<Option<Self>> {
        let path = model_dir.join(OPERATING_POINTS_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&path).map_err(|source| EvalError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&bytes)
            .map(Some)
            .map_err(|e| EvalError::Json(format!("{}: {e}", path.display())))
    }

    /// Parses and checks the version.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let stored: Self = serde_json::from_slice(bytes)
            .map_err(|e| EvalError::Json(format!("not valid operating points: {e}")))?;
        if stored.version != OPERATING_POINTS_VERSION {
            return Err(EvalError::Json(format!(
                "operating points version {} is not the supported {OPERATING_POINTS_VERSION}",
                stored.version
            )));
        }
        Ok(stored)
    }

    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(self).map_err(|e| EvalError::Json(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choose_operating_points;

    #[test]
    fn round_trip_and_version_check() {
        let points =
            choose_operating_points(&[true, false, true], &[0.9, 0.2, 0.6], 0.5, 0.9).unwrap();
        let stored = StoredOperatingPoints::new("data".into(), "val", points);
        let json = stored.to_json().unwrap();
        assert_eq!(StoredOperatingPoints::from_json(&json).unwrap(), stored);
        let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        v["version"] = 7.into();
        let err = StoredOperatingPoints::from_json(v.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("version 7"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        assert!(StoredOperatingPoints::load(dir.path()).unwrap().is_none());
        std::fs::write(dir.path().join(OPERATING_POINTS_FILE), b"{").unwrap();
        assert!(StoredOperatingPoints::load(dir.path()).is_err());
    }
}
