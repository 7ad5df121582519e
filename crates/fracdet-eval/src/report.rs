//! The machine-readable evaluation summary (`metrics.json`).

use serde::{Deserialize, Serialize};

use crate::auroc::auroc_with_ci;
use crate::binary::{BinaryMetrics, binary_metrics};
use crate::bootstrap::BootstrapConfig;
use crate::calibration::{Calibration, calibration};
use crate::curves::average_precision;
use crate::error::{EvalError, Result, validate};
use crate::estimate::Estimate;
use crate::localisation::LocalisationMetrics;
use crate::operating::OperatingPoints;
use crate::subgroup::SubgroupAnalysis;
use crate::temperature::CalibratedReport;

/// Bumped whenever a field changes meaning or is removed.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// Threshold metrics at one named operating point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtOperatingPoint {
    /// "fixed", "target_sensitivity", "youden" or "target_specificity".
    pub name: String,
    pub metrics: BinaryMetrics,
}

/// All image-level metrics of one evaluation. Every number is finite or absent
/// (`Estimate::value == None` with a reason), so the JSON never holds NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsReport {
    pub schema_version: u32,
    pub n: usize,
    pub n_positive: usize,
    pub n_negative: usize,
    pub bootstrap: BootstrapConfig,
    pub auroc: Estimate,
    pub average_precision: Estimate,
    pub calibration: Calibration,
    /// The thresholds (chosen on validation) at which the threshold metrics were computed.
    pub operating_points: OperatingPoints,
    pub at_operating_points: Vec<AtOperatingPoint>,
    #[serde(default)]
    pub subgroups: Vec<SubgroupAnalysis>,
    #[serde(default)]
    pub localisation: Option<LocalisationMetrics>,
    /// A box head's drawn boxes as detections (AP50, FROC recall, box size), over every
    /// image; `None` for models that draw no regressed boxes.
    #[serde(default)]
    pub detection: Option<crate::box_precision::DetectionMetrics>,
    /// ECE and reliability after the model's stored temperature (`calibration` above is
    /// before it); `None` for a model without one.
    #[serde(default)]
    pub calibrated: Option<CalibratedReport>,
    /// Images the applicability check refused (not radiographs fracdet reads): counted
    /// here beside the metrics, which do not include them, never dropped silently.
    /// Deserialized as empty from reports written before the check existed.
    #[serde(default, skip_deserializing)]
    pub not_assessed: Vec<NotAssessedImage>,
}

/// One image `evaluate` did not score because the applicability check refused it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotAssessedImage {
    /// Path relative to the dataset root.
    pub image: String,
    /// Its label: a fractured image refused is a fracture the tool would not have read.
    pub label: bool,
    #[serde(flatten)]
    pub reason: fracdet_io::applicability::NotAssessed,
    pub message: String,
}

impl MetricsReport {
    /// Computes the image-level part on (test) data at validation-chosen thresholds.
    /// Add subgroups and localisation by setting the public fields.
    pub fn compute(
        labels: &[bool],
        scores: &[f32],
        operating_points: &OperatingPoints,
        cfg: &BootstrapConfig,
    ) -> Result<Self> {
        validate(labels, scores)?;
        let mut at = vec![AtOperatingPoint {
            name: "fixed".into(),
            metrics: binary_metrics(labels, scores, operating_points.fixed.threshold, cfg)?,
        }];
        let named = [
            ("target_sensitivity", operating_points.at_target_sensitivity),
            ("youden", operating_points.youden),
            ("target_specificity", operating_points.at_target_specificity),
        ];
        for (name, point) in named {
            if let Some(p) = point {
                at.push(AtOperatingPoint {
                    name: name.into(),
                    metrics: binary_metrics(labels, scores, p.threshold, cfg)?,
                });
            }
        }
        let n_positive = labels.iter().filter(|&&y| y).count();
        Ok(Self {
            schema_version: REPORT_SCHEMA_VERSION,
            n: labels.len(),
            n_positive,
            n_negative: labels.len() - n_positive,
            bootstrap: *cfg,
            auroc: auroc_with_ci(labels, scores, cfg)?,
            average_precision: average_precision(labels, scores)?,
            calibration: calibration(labels, scores)?,
            operating_points: operating_points.clone(),
            at_operating_points: at,
            subgroups: Vec::new(),
            localisation: None,
            detection: None,
            calibrated: None,
            not_assessed: Vec::new(),
        })
    }

    /// Pretty JSON. Fails (rather than writing `null` silently) if a non-finite number
    /// slipped into a non-optional field.
    pub fn to_json(&self) -> Result<String> {
        let value = serde_json::to_value(self).map_err(|e| EvalError::Json(e.to_string()))?;
        if let Some(path) = find_null_number(&value, &mut String::new()) {
            return Err(EvalError::InvalidParameter(format!(
                "non-finite number at {path}"
            )));
        }
        serde_json::to_string_pretty(&value).map_err(|e| EvalError::Json(e.to_string()))
    }
}

/// serde_json writes NaN/inf as `null`. Legitimate `null`s here are only `Option` fields,
/// so a `null` under a key that is never optional betrays a non-finite number.
fn find_null_number(v: &serde_json::Value, path: &mut String) -> Option<String> {
    const REQUIRED: [&str; 5] = ["lower", "upper", "level", "threshold", "fp_per_image"];
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                if child.is_null() && REQUIRED.contains(&k.as_str()) {
                    return Some(format!("{path}.{k}"));
                }
                let len = path.len();
                path.push('.');
                path.push_str(k);
                if let Some(p) = find_null_number(child, path) {
                    return Some(p);
                }
                path.truncate(len);
            }
            None
        }
        serde_json::Value::Array(items) => items.iter().find_map(|c| find_null_number(c, path)),
        _ => None,
    }
}
