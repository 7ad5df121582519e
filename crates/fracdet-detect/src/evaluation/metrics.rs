//! metrics.json's content for a scored split: ranking, threshold and calibration metrics,
//! subgroups, localisation and box detection, and the images not assessed.

use fracdet_eval::threshold_policy::headline_point;
use fracdet_eval::{
    BootstrapConfig, CalibratedReport, MetricsReport, StoredOperatingPoints, calibration,
};
use fracdet_io::dataset::Split;

use super::cases::{detection, localisation};
use super::error::Result;
use super::scoring::SplitScores;
use super::subgroups::subgroups;
use crate::scorer::{ScoreKind, Scorer};

/// Every metric of `split`'s scores at the points (and calibration) of `record`.
pub fn metrics_report(
    scores: &SplitScores,
    scorer: &Scorer,
    record: &StoredOperatingPoints,
    split: Split,
    cfg: &BootstrapConfig,
) -> Result<MetricsReport> {
    let kind = scorer.score_kind();
    let labels = scores.labels();
    let ranked = scores.scores();
    let points = &record.points;
    let mut report = MetricsReport::compute(&labels, &ranked, points, cfg)?;
    if kind == ScoreKind::Logit {
        // Calibration is about probabilities, not logits (ranking metrics are unchanged by
        // the monotone map, so only this part is recomputed).
        report.calibration = calibration(&labels, &scores.probabilities())?;
    }
    if let (Some(t), Some(z)) = (&record.calibration, scores.logits(kind)) {
        // Fitted on a val split: evaluating val is then in-sample for the "after" figures.
        let in_sample = split == Split::Val;
        report.calibrated = Some(CalibratedReport::compute(&labels, &z, t, in_sample)?);
    }
    let primary = headline_point(points);
    report.subgroups = subgroups(&scores.scored, primary.1.threshold, cfg)?;
    report.localisation = localisation(&scores.scored, scorer, cfg.level)?;
    report.detection = detection(&scores.scored, scorer, points);
    report.not_assessed = scores.not_assessed.clone();
    Ok(report)
}
