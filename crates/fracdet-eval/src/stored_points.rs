//! `operating_points.json`: the thresholds a model ships with, plus where they were chosen.
//!
//! `fracdet evaluate --split val` writes it into the model directory; `evaluate` on other
//! splits, `detect` and `serve` read it, so a test set never picks its own threshold.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};
use crate::operating::OperatingPoints;
use crate::temperature::Temperature;

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
    /// Temperature fitted on the same validation split; the thresholds in `points` stay on
    /// the uncalibrated score (the decisions are the same either way). Absent from files
    /// written before calibration existed: such a model is shown as uncalibrated (T = 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Temperature>,
}

impl StoredOperatingPoints {
    pub fn new(data: PathBuf, split: impl Into<String>, points: OperatingPoints) -> Self {
        Self {
            version: OPERATING_POINTS_VERSION,
            data,
            split: split.into(),
            points,
            calibration: None,
        }
    }

    /// The same record with `temperature` stored beside the points.
    pub fn with_calibration(mut self, temperature: Option<Temperature>) -> Self {
        self.calibration = temperature;
        self
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
        // Older files have no calibration; a fitted temperature round-trips.
        assert_eq!(stored.calibration, None);
        assert!(!String::from_utf8_lossy(&json).contains("calibration"));
        let labels = [true, false, true, false];
        let t = crate::fit_temperature(&labels, &[2.0, -1.0, 0.5, 1.0], "val").unwrap();
        let calibrated = stored.clone().with_calibration(Some(t.clone()));
        let back = StoredOperatingPoints::from_json(&calibrated.to_json().unwrap()).unwrap();
        // serde_json's float parsing may differ in the last bit.
        let got = back.calibration.unwrap();
        assert!((got.temperature - t.temperature).abs() < 1e-12 * t.temperature);
        assert_eq!((got.n, got.split.as_str()), (4, "val"));
        assert_eq!(back.points, stored.points);
        let dir = tempfile::tempdir().unwrap();
        assert!(StoredOperatingPoints::load(dir.path()).unwrap().is_none());
        std::fs::write(dir.path().join(OPERATING_POINTS_FILE), b"{").unwrap();
        assert!(StoredOperatingPoints::load(dir.path()).is_err());
    }
}
