//! fracdet-eval: clinical metrics with confidence intervals, operating points, subgroup
//! and localisation analysis, and PNG plots.
//!
//! Inputs are plain slices: `labels[i]` (true = fracture) and `scores[i]` (the model's
//! probability, `f32`). Metrics are returned as [`Estimate`]s: a value with an optional
//! 95% interval, or `None` with a reason when the data make the metric undefined — no NaN
//! ever reaches an output. The core depends only on `rand`/`serde`, so the training loop
//! can call [`auroc`] each epoch cheaply (O(n log n)).

pub mod auroc;
pub mod binary;
pub mod bootstrap;
pub mod box_precision;
pub mod calibration;
pub mod cell_regions;
pub mod ci;
pub mod confusion;
pub mod curves;
pub mod density;
pub mod error;
pub mod estimate;
pub mod html;
pub mod localisation;
pub mod operating;
pub mod paired;
pub mod predictions;
mod ranking;
pub mod region_probe;
pub mod report;
pub mod report_figures;
pub mod stored_points;
pub mod subgroup;
pub mod temperature;
pub mod threshold_policy;
pub mod training_log;

pub use auroc::{auroc, auroc_with_ci};
pub use binary::{BinaryMetrics, binary_metrics};
pub use bootstrap::BootstrapConfig;
pub use box_precision::{
    BOX_FP_BUDGET, BoxThreshold, DetectionMetrics, average_precision_at, choose_box_threshold,
    detection_metrics, median_area_ratio,
};
pub use calibration::{Calibration, ReliabilityBin, brier_score, calibration};
pub use confusion::{ConfusionMatrix, RatioMetric};
pub use curves::{PrCurve, RocBand, RocCurve, average_precision, pr_curve, roc_band, roc_curve};
pub use error::{EvalError, Result};
pub use estimate::{CiMethod, Estimate, Interval};
pub use localisation::{
    FrocPoint, LocalisationCase, LocalisationMetrics, ScoredBox, froc_curve, localisation_metrics,
};
pub use operating::{OperatingPoint, OperatingPoints, choose_operating_points};
pub use paired::{AurocComparison, compare_auroc};
pub use predictions::{Prediction, PredictionsError, read_predictions, write_predictions};
pub use report::{AtOperatingPoint, MetricsReport, NotAssessedImage};
pub use stored_points::{OPERATING_POINTS_FILE, StoredOperatingPoints};
pub use subgroup::{SubgroupAnalysis, SubgroupMetrics, subgroup_analysis};
pub use temperature::{CalibratedReport, Temperature, fit_calibration, fit_platt, fit_temperature};
pub use threshold_policy::{
    CalibrationFit, Settled, StoredPoints, ThresholdPolicy, ThresholdPolicyError, ThresholdRequest,
};
pub use training_log::TrainingLog;
pub mod plot;
