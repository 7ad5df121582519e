//! The rule behind `fracdet evaluate`'s thresholds: they are chosen on the validation split
//! and stored with the model; every other split reuses the stored ones unchanged; a split
//! that would have to pick its own thresholds is refused. Decided before any image is
//! scored, so a test-split run fails before minutes of inference, not after.
//!
//! The error messages name `evaluate`'s flags because that command is the only way a user
//! reaches this rule.

use std::path::{Path, PathBuf};

use fracdet_io::dataset::Split;
use thiserror::Error;

use crate::box_precision::BoxThreshold;
use crate::operating::{
    DEFAULT_FIXED_THRESHOLD, DEFAULT_TARGET_SENSITIVITY, OperatingPoint, OperatingPoints,
    choose_operating_points,
};
use crate::stored_points::{OPERATING_POINTS_FILE, StoredOperatingPoints};

/// Where the model's stored points live.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredPoints {
    /// A training run directory: `operating_points.json`, written by choosing.
    Run(Option<StoredOperatingPoints>),
    /// A bundle (`fracdet export`): points fixed at export, never written to.
    Bundle(Option<StoredOperatingPoints>),
}

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ThresholdRequest {
    /// Choose again on val and overwrite the stored points.
    pub reselect: bool,
    /// Fixed threshold, a probability; only when choosing.
    pub fixed_threshold: Option<f64>,
    /// Sensitivity the target-sensitivity point must reach; only when choosing.
    pub target_sensitivity: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum ThresholdPolicyError {
    #[error(
        "bundle {model} holds no operating points: evaluate the training run it was exported \
         from instead"
    )]
    BundleWithoutPoints { model: String },
    #[error("--reselect rewrites stored thresholds; a bundle's are fixed at export")]
    ReselectBundle,
    #[error(
        "{model} holds no operating_points.json: run `fracdet evaluate --split val` first; \
         thresholds are chosen on validation, never on the split being tested"
    )]
    NotChosenOnValidation { model: String },
    #[error("--reselect chooses thresholds and is only allowed with --split val")]
    ReselectOffValidation,
    #[error(
        "--threshold/--target-sensitivity only apply when operating points are chosen \
         (--split val, with --reselect if operating_points.json exists)"
    )]
    TuningWithoutChoosing,
}

/// How one evaluation gets its thresholds.
#[derive(Debug, Clone, PartialEq)]
pub enum ThresholdPolicy {
    /// Choose on this validation split and store the result in the run directory.
    Choose {
        /// A probability (the caller maps it onto the model's score).
        fixed_threshold: f64,
        target_sensitivity: f64,
    },
    /// Reuse stored points unchanged.
    Reuse {
        /// Boxed: a record is large beside the two numbers of `Choose`.
        stored: Box<StoredOperatingPoints>,
        /// The points come from a bundle, which is never written to.
        bundle: bool,
    },
}

impl ThresholdPolicy {
    /// The policy for evaluating `split` of a model at `model` (named in messages).
    pub fn decide(
        model: &Path,
        stored: StoredPoints,
        split: Split,
        request: ThresholdRequest,
    ) -> Result<Self, ThresholdPolicyError> {
        let (stored, bundle) = match stored {
            StoredPoints::Bundle(None) => {
                return Err(ThresholdPolicyError::BundleWithoutPoints {
                    model: model.display().to_string(),
                });
            }
            StoredPoints::Bundle(Some(_)) if request.reselect => {
                return Err(ThresholdPolicyError::ReselectBundle);
            }
            StoredPoints::Bundle(points) => (points, true),
            StoredPoints::Run(points) => (points, false),
        };
        let choose_here = match (&stored, split) {
            (None, Split::Val) => true,
            (Some(_), Split::Val) => request.reselect,
            (None, _) => {
                return Err(ThresholdPolicyError::NotChosenOnValidation {
                    model: model.display().to_string(),
                });
            }
            (Some(_), _) if request.reselect => {
                return Err(ThresholdPolicyError::ReselectOffValidation);
            }
            (Some(_), _) => false,
        };
        let tuned = request.fixed_threshold.is_some() || request.target_sensitivity.is_some();
        match stored {
            Some(stored) if !choose_here => {
                if tuned {
                    return Err(ThresholdPolicyError::TuningWithoutChoosing);
                }
                Ok(Self::Reuse {
                    stored: Box::new(stored),
                    bundle,
                })
            }
            _ => Ok(Self::Choose {
                fixed_threshold: request.fixed_threshold.unwrap_or(DEFAULT_FIXED_THRESHOLD),
                target_sensitivity: request
                    .target_sensitivity
                    .unwrap_or(DEFAULT_TARGET_SENSITIVITY),
            }),
        }
    }

    /// Whether the thresholds are chosen on the split being evaluated (its threshold
    /// metrics are then optimistic).
    pub fn chooses(&self) -> bool {
        matches!(self, Self::Choose { .. })
    }

    /// Whether the model is a bundle (its stored record is never rewritten).
    pub fn is_bundle(&self) -> bool {
        match self {
            // Only a run directory can be chosen for: a bundle's points are fixed.
            Self::Choose { .. } => false,
            Self::Reuse { bundle, .. } => *bundle,
        }
    }

    /// The points for this evaluation. Choosing uses `labels`/`scores` of the validation
    /// split at `data`, with `to_score` mapping the fixed threshold (a probability) onto the
    /// model's score; reusing ignores them.
    pub fn settle(
        self,
        data: &Path,
        labels: &[bool],
        scores: &[f32],
        to_score: impl Fn(f64) -> f64,
    ) -> crate::Result<Settled> {
        match self {
            Self::Choose {
                fixed_threshold,
                target_sensitivity,
            } => {
                let points = choose_operating_points(
                    labels,
                    scores,
                    to_score(fixed_threshold),
                    target_sensitivity,
                )?;
                let origin = format!(
                    "Thresholds were chosen on this validation split ({} images) and stored \
                     with the model; on this split the threshold metrics are therefore \
                     optimistic.",
                    points.n_validation
                );
                Ok(Settled {
                    record: StoredOperatingPoints::new(
                        data.to_path_buf(),
                        Split::Val.to_string(),
                        points,
                    ),
                    origin,
                    chosen_here: true,
                    bundle: false,
                    box_threshold_chosen: false,
                })
            }
            Self::Reuse { stored, bundle } => Ok(Settled {
                origin: format!(
                    "Thresholds were chosen on the {} split of {} ({} images) and stored with \
                     the model; they were not tuned on the data shown here.",
                    stored.split,
                    stored.data.display(),
                    stored.points.n_validation
                ),
                record: *stored,
                chosen_here: false,
                bundle,
                box_threshold_chosen: false,
            }),
        }
    }
}

/// The thresholds one evaluation uses, and the record that holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    /// What `operating_points.json` holds (or will, once [`Settled::save`]d).
    pub record: StoredOperatingPoints,
    /// Where and how the thresholds were chosen, in words, for the report.
    pub origin: String,
    pub chosen_here: bool,
    bundle: bool,
    /// Whether [`Settled::choose_box_threshold`] changed the record.
    box_threshold_chosen: bool,
}

/// What [`Settled::calibrate`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum CalibrationFit {
    /// The stored calibration (or none) is used as it is.
    Kept,
    /// Fitted on this split.
    Fitted,
    /// A fit was due but failed; the record now has none (why, for a warning).
    Failed(String),
}

impl Settled {
    pub fn points(&self) -> &OperatingPoints {
        &self.record.points
    }

    /// Fits the calibration (Platt scaling, or a temperature alone when that cannot be
    /// fitted) on `split`'s logits when thresholds were chosen here, or on a val split whose
    /// record has none yet (runs evaluated before calibration existed); otherwise keeps the
    /// stored one. A residual score (`logits` `None`) or a one-class split gets none.
    pub fn calibrate(
        &mut self,
        split: Split,
        logits: Option<&[f64]>,
        labels: &[bool],
    ) -> CalibrationFit {
        let refit = self.chosen_here || (split == Split::Val && self.record.calibration.is_none());
        let Some(logits) = logits.filter(|_| refit) else {
            return CalibrationFit::Kept;
        };
        let record = self.record.clone();
        match crate::fit_calibration(labels, logits, &split.to_string()) {
            Ok(t) => {
                self.record = record.with_calibration(Some(t));
                CalibrationFit::Fitted
            }
            Err(e) => {
                self.record = record.with_calibration(None);
                CalibrationFit::Failed(e.to_string())
            }
        }
    }

    /// Whether [`Settled::save`] writes: after choosing, or after fitting a calibration or
    /// a box threshold for a run directory (a bundle is fixed at export).
    pub fn needs_saving(&self, fit: &CalibrationFit) -> bool {
        self.chosen_here
            || self.box_threshold_chosen
            || (*fit == CalibrationFit::Fitted && !self.bundle)
    }

    /// Sets the box head's drawing threshold from `choose` (run on this split's scores)
    /// when thresholds were chosen here, or on a val split of a run directory whose record
    /// has none yet (runs evaluated before box thresholds existed); otherwise keeps the
    /// stored one. Returns the threshold in use.
    pub fn choose_box_threshold(
        &mut self,
        split: Split,
        choose: impl FnOnce() -> Option<BoxThreshold>,
    ) -> Option<BoxThreshold> {
        let due = self.chosen_here
            || (split == Split::Val && !self.bundle && self.record.points.box_threshold.is_none());
        if due {
            let chosen = choose();
            self.box_threshold_chosen |= chosen != self.record.points.box_threshold;
            self.record.points.box_threshold = chosen;
        }
        self.record.points.box_threshold
    }

    /// What a new fit changed, for the user ("calibration: ...; validation ECE a -> b");
    /// `None` unless `fit` is [`CalibrationFit::Fitted`]. For a bundle it says the value is
    /// not written.
    pub fn fit_message(&self, fit: &CalibrationFit) -> Option<String> {
        let t = self
            .record
            .calibration
            .as_ref()
            .filter(|_| *fit == CalibrationFit::Fitted)?;
        let ece = |e: Option<f64>| e.map_or("n/a".into(), |e| format!("{e:.4}"));
        Some(format!(
            "calibration: {}; validation ECE {} -> {}{}",
            t.describe(),
            ece(t.ece_before),
            ece(t.ece_after),
            if self.bundle {
                " (not written: a bundle is fixed at export; this is the value to store)"
            } else {
                ""
            }
        ))
    }

    /// Writes the record into `model_dir` (atomically: a crash leaves the old file).
    pub fn save(&self, model_dir: &Path) -> crate::Result<PathBuf> {
        let path = model_dir.join(OPERATING_POINTS_FILE);
        fracdet_io::write::write_file_atomic(&path, &self.record.to_json()?, true).map_err(
            |e| match e {
                fracdet_io::IoError::Io { path, source } => crate::EvalError::Io {
                    path: path.display().to_string(),
                    source,
                },
                other => crate::EvalError::Io {
                    path: path.display().to_string(),
                    source: std::io::Error::other(other.to_string()),
                },
            },
        )?;
        Ok(path)
    }
}

/// The headline operating point: the target-sensitivity one (a reading aid should miss
/// few fractures) when validation had positives, else the fixed threshold.
pub fn headline_point(points: &OperatingPoints) -> (&'static str, OperatingPoint) {
    match points.at_target_sensitivity {
        Some(p) => ("target_sensitivity", p),
        None => ("fixed", points.fixed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> StoredOperatingPoints {
        let points =
            choose_operating_points(&[true, false, true], &[0.9, 0.2, 0.6], 0.5, 0.9).unwrap();
        StoredOperatingPoints::new("data".into(), "val", points)
    }

    fn decide(
        stored: StoredPoints,
        split: Split,
        request: ThresholdRequest,
    ) -> Result<ThresholdPolicy, ThresholdPolicyError> {
        ThresholdPolicy::decide(Path::new("runs/m"), stored, split, request)
    }

    const RESELECT: ThresholdRequest = ThresholdRequest {
        reselect: true,
        fixed_threshold: None,
        target_sensitivity: None,
    };

    #[test]
    fn thresholds_are_chosen_on_val_and_reused_elsewhere() {
        let none = ThresholdRequest::default();
        let fresh = decide(StoredPoints::Run(None), Split::Val, none).unwrap();
        assert!(fresh.chooses() && !fresh.is_bundle());
        let again = decide(StoredPoints::Run(Some(stored())), Split::Val, none).unwrap();
        assert_eq!(
            again,
            ThresholdPolicy::Reuse {
                stored: Box::new(stored()),
                bundle: false
            }
        );
        assert!(
            decide(StoredPoints::Run(Some(stored())), Split::Val, RESELECT)
                .unwrap()
                .chooses()
        );
        for split in [Split::Test, Split::Train] {
            let reused = decide(StoredPoints::Run(Some(stored())), split, none).unwrap();
            assert!(!reused.chooses());
            let bundle = decide(StoredPoints::Bundle(Some(stored())), split, none).unwrap();
            assert!(!bundle.chooses() && bundle.is_bundle());
        }
    }

    #[test]
    fn a_split_never_picks_its_own_thresholds() {
        let none = ThresholdRequest::default();
        let err = decide(StoredPoints::Run(None), Split::Test, none).unwrap_err();
        assert_eq!(
            err,
            ThresholdPolicyError::NotChosenOnValidation {
                model: "runs/m".into()
            }
        );
        assert!(err.to_string().contains(OPERATING_POINTS_FILE), "{err}");
        let err = decide(StoredPoints::Run(Some(stored())), Split::Test, RESELECT);
        assert_eq!(err, Err(ThresholdPolicyError::ReselectOffValidation));
        let tuned = ThresholdRequest {
            fixed_threshold: Some(0.3),
            ..ThresholdRequest::default()
        };
        for split in [Split::Val, Split::Test] {
            let err = decide(StoredPoints::Run(Some(stored())), split, tuned);
            assert_eq!(err, Err(ThresholdPolicyError::TuningWithoutChoosing));
        }
        // A bundle's points are fixed at export; one without any cannot be evaluated.
        let err = decide(StoredPoints::Bundle(None), Split::Val, none);
        assert!(matches!(
            err,
            Err(ThresholdPolicyError::BundleWithoutPoints { .. })
        ));
        let err = decide(StoredPoints::Bundle(Some(stored())), Split::Val, RESELECT);
        assert_eq!(err, Err(ThresholdPolicyError::ReselectBundle));
    }

    #[test]
    fn choosing_uses_the_request_and_maps_the_fixed_threshold_onto_the_score() {
        let request = ThresholdRequest {
            fixed_threshold: Some(0.25),
            target_sensitivity: Some(1.0),
            reselect: false,
        };
        let policy = decide(StoredPoints::Run(None), Split::Val, request).unwrap();
        let labels = [true, true, false, false];
        let scores = [3.0, 1.0, 0.5, -2.0];
        // A logit-scored model: 0.25 as a probability is ln(1/3) on the score.
        let to_logit = |p: f64| (p / (1.0 - p)).ln();
        let settled = policy
            .settle(Path::new("d"), &labels, &scores, to_logit)
            .unwrap();
        assert!(settled.chosen_here);
        assert!((settled.points().fixed.threshold - (1.0f64 / 3.0).ln()).abs() < 1e-12);
        assert_eq!(settled.points().target_sensitivity, 1.0);
        assert_eq!(settled.record.split, "val");
        assert!(
            settled
                .origin
                .contains("chosen on this validation split (4 images)")
        );
        assert!(settled.needs_saving(&CalibrationFit::Kept));
    }

    #[test]
    fn reused_points_are_unchanged_and_saved_only_after_a_new_calibration() {
        let reuse = ThresholdPolicy::Reuse {
            stored: Box::new(stored()),
            bundle: false,
        };
        // Scores are ignored: a test split never moves the stored thresholds.
        let mut settled = reuse
            .settle(Path::new("other"), &[false], &[0.99], |p| p)
            .unwrap();
        assert_eq!(settled.record, stored());
        assert!(settled.origin.contains("val split of data (3 images)"));
        let logits = [2.0, -1.0, 0.5, 1.0, -0.5];
        let labels = [true, false, true, false, false];
        assert_eq!(
            settled.calibrate(Split::Test, Some(&logits), &labels),
            CalibrationFit::Kept
        );
        assert!(!settled.needs_saving(&CalibrationFit::Kept));
        // A val record from before calibration existed gets one fitted, and saved.
        let fit = settled.calibrate(Split::Val, Some(&logits), &labels);
        assert_eq!(fit, CalibrationFit::Fitted);
        assert!(settled.record.calibration.is_some() && settled.needs_saving(&fit));
        let dir = tempfile::tempdir().unwrap();
        let path = settled.save(dir.path()).unwrap();
        let back = StoredOperatingPoints::load(dir.path()).unwrap().unwrap();
        assert_eq!(
            (path, back.points),
            (dir.path().join(OPERATING_POINTS_FILE), stored().points)
        );
        // ... but never into a bundle.
        let mut bundle = ThresholdPolicy::Reuse {
            stored: Box::new(stored()),
            bundle: true,
        }
        .settle(Path::new("d"), &[], &[], |p| p)
        .unwrap();
        let fit = bundle.calibrate(Split::Val, Some(&logits), &labels);
        assert_eq!(fit, CalibrationFit::Fitted);
        assert!(!bundle.needs_saving(&fit));
        let message = bundle.fit_message(&fit).unwrap();
        assert!(
            message.starts_with("calibration: ") && message.contains("not written"),
            "{message}"
        );
        assert_eq!(bundle.fit_message(&CalibrationFit::Kept), None);
        // One class only: nothing can be fitted, and the record says so.
        let mut one_class = ThresholdPolicy::Reuse {
            stored: Box::new(stored()),
            bundle: false,
        }
        .settle(Path::new("d"), &[], &[], |p| p)
        .unwrap();
        let fit = one_class.calibrate(Split::Val, Some(&[1.0, 2.0]), &[true, true]);
        assert!(matches!(fit, CalibrationFit::Failed(_)), "{fit:?}");
        assert_eq!(one_class.record.calibration, None);
    }

    #[test]
    fn the_headline_is_the_target_sensitivity_point_when_there_is_one() {
        let points = stored().points;
        assert_eq!(headline_point(&points).0, "target_sensitivity");
        let none = OperatingPoints {
            at_target_sensitivity: None,
            ..points.clone()
        };
        assert_eq!(headline_point(&none), ("fixed", points.fixed));
    }

    #[test]
    fn a_box_threshold_is_chosen_on_val_once_and_never_for_a_bundle_or_a_test_split() {
        let t = BoxThreshold {
            score: 0.7,
            fp_per_image: 0.5,
            recall: 0.6,
        };
        let settle = |stored: StoredPoints, split: Split| {
            decide(stored, split, ThresholdRequest::default())
                .unwrap()
                .settle(Path::new("data"), &[true, false], &[0.9, 0.1], |p| p)
                .unwrap()
        };
        // A run evaluated before box thresholds existed gets one on val, and is saved.
        let mut old = settle(StoredPoints::Run(Some(stored())), Split::Val);
        assert!(!old.needs_saving(&CalibrationFit::Kept));
        assert_eq!(old.choose_box_threshold(Split::Val, || Some(t)), Some(t));
        assert!(old.needs_saving(&CalibrationFit::Kept));
        // Once stored, it is kept (not re-chosen) on a later val evaluation.
        let mut with = stored();
        with.points.box_threshold = Some(t);
        let mut again = settle(StoredPoints::Run(Some(with.clone())), Split::Val);
        assert_eq!(again.choose_box_threshold(Split::Val, || None), Some(t));
        assert!(!again.needs_saving(&CalibrationFit::Kept));
        // A test split and a bundle never choose.
        let mut test = settle(StoredPoints::Run(Some(stored())), Split::Test);
        assert_eq!(test.choose_box_threshold(Split::Test, || Some(t)), None);
        let mut bundle = settle(StoredPoints::Bundle(Some(stored())), Split::Val);
        assert_eq!(bundle.choose_box_threshold(Split::Val, || Some(t)), None);
        assert!(!bundle.needs_saving(&CalibrationFit::Kept));
    }
}
