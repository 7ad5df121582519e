//! Temperature scaling (Guo et al. 2017): one scalar `T` divides the model's logit,
//! `p = sigmoid(z / T)`, with `T` chosen to minimise the negative log-likelihood on the
//! validation split. `T > 1` softens an over-confident model, `T < 1` sharpens an
//! under-confident one; `T = 1` is the model as trained ("uncalibrated").
//!
//! Platt scaling (Platt 1999) adds a bias, `p = sigmoid(z / T + b)`, both fitted the same
//! way. A model trained with a positive-class weight `w` in its BCE has logits shifted by
//! about `ln w` (every probability too high); a temperature alone cannot undo a shift, the
//! bias can. [`fit_calibration`] fits Platt and falls back to the temperature alone.
//!
//! Dividing by a positive constant is strictly monotone, so rankings (AUROC, ROC, PR) and
//! every threshold decision are unchanged; only the probability numbers and the numbers a
//! threshold is stated as change. ECE and the reliability diagram are
//! [`crate::calibration`]'s, computed before and after.

use serde::{Deserialize, Serialize};

use crate::calibration::{Calibration, calibration};
use crate::error::{EvalError, Result};

/// Probabilities are clamped this far from 0 and 1 before taking the logit: an f32
/// probability of exactly 1.0 has no finite logit (its logit then is about ±16.1).
pub const PROBABILITY_EPS: f64 = 1e-7;
/// Search range of `T`: far beyond any sensible calibration, and it keeps a fit on
/// separable data (NLL falling forever as `T -> 0`) finite.
pub const T_MIN: f64 = 0.01;
pub const T_MAX: f64 = 100.0;

/// A fitted temperature and where it came from. Stored with a model's operating points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Temperature {
    /// "temperature": `p = sigmoid(logit / temperature)`; "platt": `p = sigmoid(logit /
    /// temperature + bias)`.
    pub method: String,
    pub temperature: f64,
    /// Added to the scaled logit (0 for "temperature").
    #[serde(default)]
    pub bias: f64,
    /// Split it was fitted on: always "val" for a stored one.
    pub split: String,
    /// Images it was fitted on.
    pub n: usize,
    /// Mean validation NLL at `T = 1` and at the fitted `T`.
    pub nll_before: f64,
    pub nll_after: f64,
    /// Validation ECE at `T = 1` and at the fitted `T` (`None` when undefined).
    pub ece_before: Option<f64>,
    pub ece_after: Option<f64>,
}

/// The logit of a probability, clamped to [`PROBABILITY_EPS`] from 0 and 1.
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(PROBABILITY_EPS, 1.0 - PROBABILITY_EPS);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `-log p(y)` for a logit `z`, computed stably (no log of a rounded-to-zero probability).
fn nll_one(y: bool, z: f64) -> f64 {
    // -log sigmoid(s) = softplus(-s), with s = z for a positive and -z for a negative.
    let s = if y { z } else { -z };
    if s > 0.0 {
        (-s).exp().ln_1p()
    } else {
        -s + s.exp().ln_1p()
    }
}

/// Mean negative log-likelihood of `labels` under `sigmoid(logits / t)`.
pub fn nll(labels: &[bool], logits: &[f64], t: f64) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    labels
        .iter()
        .zip(logits)
        .map(|(&y, &z)| nll_one(y, z / t))
        .sum::<f64>()
        / labels.len() as f64
}

impl Temperature {
    /// The probability for logit `z`.
    pub fn probability_of_logit(&self, z: f64) -> f64 {
        sigmoid(z / self.temperature + self.bias)
    }

    /// The calibrated value of an uncalibrated probability `p`.
    pub fn calibrate(&self, p: f64) -> f64 {
        self.probability_of_logit(logit(p))
    }

    /// One line for reports, e.g. "temperature 1.52, fitted on val (488 images)".
    pub fn describe(&self) -> String {
        let bias = if self.method == "platt" {
            format!(" and bias {:+.3} (Platt scaling)", self.bias)
        } else {
            String::new()
        };
        format!(
            "temperature {:.3}{bias}, fitted on {} ({} images)",
            self.temperature, self.split, self.n
        )
    }
}

/// Fits `T` by minimising [`nll`] over `T` in [[`T_MIN`], [`T_MAX`]] (golden-section search
/// on `ln T`: the NLL is convex in `1/T`, hence unimodal in `ln T`). `logits` are the
/// model's logits (see [`logit`] for a classifier's probabilities). Needs both classes.
pub fn fit_temperature(labels: &[bool], logits: &[f64], split: &str) -> Result<Temperature> {
    if labels.len() != logits.len() {
        return Err(EvalError::LengthMismatch {
            what: "logits",
            expected: labels.len(),
            got: logits.len(),
        });
    }
    if let Some((index, &z)) = logits.iter().enumerate().find(|(_, z)| !z.is_finite()) {
        return Err(EvalError::NonFiniteScore { index, value: z });
    }
    let positives = labels.iter().filter(|&&y| y).count();
    if positives == 0 || positives == labels.len() {
        return Err(EvalError::InvalidParameter(
            "a temperature needs positive and negative samples to fit".into(),
        ));
    }
    let f = |u: f64| nll(labels, logits, u.exp());
    let (mut a, mut b) = (T_MIN.ln(), T_MAX.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    // 80 steps shrink the interval by 0.618^80 ~ 2e-17 of its width: well under f64 noise.
    for _ in 0..80 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    let t = ((a + b) / 2.0).exp();
    finish(labels, logits, split, "temperature", t, 0.0)
}

fn finish(
    labels: &[bool],
    logits: &[f64],
    split: &str,
    method: &str,
    t: f64,
    bias: f64,
) -> Result<Temperature> {
    let before = probabilities(logits, 1.0, 0.0);
    let after = probabilities(logits, t, bias);
    Ok(Temperature {
        method: method.into(),
        temperature: t,
        bias,
        split: split.into(),
        n: labels.len(),
        nll_before: nll_platt(labels, logits, 1.0, 0.0),
        nll_after: nll_platt(labels, logits, 1.0 / t, bias),
        ece_before: calibration(labels, &before)?.ece.value,
        ece_after: calibration(labels, &after)?.ece.value,
    })
}

/// Mean NLL of `labels` under `sigmoid(a * z + b)`.
fn nll_platt(labels: &[bool], logits: &[f64], a: f64, b: f64) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    labels
        .iter()
        .zip(logits)
        .map(|(&y, &z)| nll_one(y, a * z + b))
        .sum::<f64>()
        / labels.len() as f64
}

/// Platt scaling: `sigmoid(a * z + b)` by Newton's method on the (convex) NLL, from the
/// identity, with a halving line search. Reported as `T = 1 / a`, bias `b`. `None` when the
/// fit leaves `T` in [[`T_MIN`], [`T_MAX`]] (separable data) or does not converge.
pub fn fit_platt(labels: &[bool], logits: &[f64], split: &str) -> Result<Option<Temperature>> {
    // Same input checks as the temperature fit.
    fit_temperature(labels, logits, split)?;
    let (mut a, mut b) = (1.0f64, 0.0f64);
    let mut f = nll_platt(labels, logits, a, b);
    let n = labels.len() as f64;
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&y, &z) in labels.iter().zip(logits) {
            let p = sigmoid(a * z + b);
            let r = p - if y { 1.0 } else { 0.0 };
            let w = p * (1.0 - p);
            ga += r * z / n;
            gb += r / n;
            haa += w * z * z / n;
            hab += w * z / n;
            hbb += w / n;
        }
        let det = haa * hbb - hab * hab;
        if !(det.is_finite() && det > 1e-300) {
            return Ok(None);
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        let mut step = 1.0;
        let mut improved = false;
        for _ in 0..40 {
            let (na, nb) = (a - step * da, b - step * db);
            let nf = nll_platt(labels, logits, na, nb);
            if nf <= f {
                (a, b, f) = (na, nb, nf);
                improved = true;
                break;
            }
            step /= 2.0;
        }
        if !improved || (da.abs() + db.abs()) * step < 1e-12 {
            break;
        }
    }
    let t = 1.0 / a;
    if !(a.is_finite() && b.is_finite() && (T_MIN..=T_MAX).contains(&t)) {
        return Ok(None);
    }
    finish(labels, logits, split, "platt", t, b).map(Some)
}

/// What `fracdet evaluate` stores: Platt scaling, or the temperature alone when Platt
/// cannot be fitted (see [`fit_platt`]).
pub fn fit_calibration(labels: &[bool], logits: &[f64], split: &str) -> Result<Temperature> {
    match fit_platt(labels, logits, split)? {
        Some(p) => Ok(p),
        None => fit_temperature(labels, logits, split),
    }
}

/// `sigmoid(z / t + bias)` of each logit, as the f32 probabilities [`calibration`] takes.
pub fn probabilities(logits: &[f64], t: f64, bias: f64) -> Vec<f32> {
    logits
        .iter()
        .map(|&z| sigmoid(z / t + bias) as f32)
        .collect()
}

/// What an evaluation reports about a temperature: which one, and ECE / reliability
/// after it (before is [`crate::MetricsReport::calibration`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibratedReport {
    pub temperature: Temperature,
    /// True when the split evaluated is the one the temperature was fitted on: the
    /// "after" figures are then in-sample (optimistic).
    pub in_sample: bool,
    pub after: Calibration,
}

impl CalibratedReport {
    /// ECE/reliability of `logits` under `temperature`, on data labelled `labels`.
    pub fn compute(
        labels: &[bool],
        logits: &[f64],
        temperature: &Temperature,
        in_sample: bool,
    ) -> Result<Self> {
        Ok(Self {
            temperature: temperature.clone(),
            in_sample,
            after: calibration(
                labels,
                &probabilities(logits, temperature.temperature, temperature.bias),
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Calibrated logits (label drawn with probability sigmoid(z)) times `scale`.
    fn synthetic(n: usize, scale: f64, seed: u64) -> (Vec<bool>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let z: f64 = rng.random_range(-4.0..4.0);
                let y = rng.random::<f64>() < sigmoid(z);
                (y, z * scale)
            })
            .unzip()
    }

    #[test]
    fn recovers_the_over_confidence_factor_and_ece_falls() {
        let (labels, logits) = synthetic(20_000, 3.0, 1);
        let t = fit_temperature(&labels, &logits, "val").unwrap();
        assert!((t.temperature - 3.0).abs() < 0.15, "{t:?}");
        assert!(t.nll_after < t.nll_before);
        let (before, after) = (t.ece_before.unwrap(), t.ece_after.unwrap());
        assert!(before > 0.08, "{before}");
        assert!(after < 0.02, "{after}");
        assert!(after < before / 4.0);
    }

    #[test]
    fn calibrated_logits_stay_at_one_and_under_confident_ones_sharpen() {
        let (labels, logits) = synthetic(20_000, 1.0, 2);
        let t = fit_temperature(&labels, &logits, "val").unwrap();
        assert!((t.temperature - 1.0).abs() < 0.06, "{t:?}");
        let (labels, logits) = synthetic(20_000, 0.5, 3);
        let t = fit_temperature(&labels, &logits, "val").unwrap();
        assert!((t.temperature - 0.5).abs() < 0.03, "{t:?}");
    }

    #[test]
    fn the_fit_is_the_nll_minimum() {
        let (labels, logits) = synthetic(2_000, 2.0, 4);
        let t = fit_temperature(&labels, &logits, "val").unwrap();
        let best = nll(&labels, &logits, t.temperature);
        for factor in [0.97, 1.03] {
            assert!(nll(&labels, &logits, t.temperature * factor) > best);
        }
        assert_eq!(t.nll_after, best);
    }

    #[test]
    fn monotone_so_order_is_kept() {
        let t = Temperature {
            method: "temperature".into(),
            temperature: 2.5,
            bias: 0.0,
            split: "val".into(),
            n: 0,
            nll_before: 0.0,
            nll_after: 0.0,
            ece_before: None,
            ece_after: None,
        };
        let ps = [1e-9, 0.01, 0.2, 0.5, 0.7, 0.99, 1.0];
        let cal: Vec<f64> = ps.iter().map(|&p| t.calibrate(p)).collect();
        assert!(cal.windows(2).all(|w| w[0] < w[1]), "{cal:?}");
        assert!((t.calibrate(0.5) - 0.5).abs() < 1e-12);
        // Softened: below 0.5 rises, above falls.
        assert!(cal[2] > 0.2 && cal[4] < 0.7);
        let one = Temperature {
            temperature: 1.0,
            ..t
        };
        assert!((one.calibrate(0.3) - 0.3).abs() < 1e-12);
    }

    #[test]
    fn platt_undoes_a_shift_that_a_temperature_cannot() {
        // Over-confident and shifted, as a positive-class weight of e^1.5 ~ 4.5 makes it.
        let (labels, logits) = synthetic(20_000, 1.0, 5);
        let shifted: Vec<f64> = logits.iter().map(|z| 2.0 * z + 1.5).collect();
        let p = fit_platt(&labels, &shifted, "val").unwrap().unwrap();
        // sigmoid(z) = sigmoid((2z + 1.5) / 2 - 0.75)
        assert!((p.temperature - 2.0).abs() < 0.1, "{p:?}");
        assert!((p.bias + 0.75).abs() < 0.06, "{p:?}");
        let t = fit_temperature(&labels, &shifted, "val").unwrap();
        assert!(p.nll_after < t.nll_after);
        assert!(p.ece_after.unwrap() < 0.02, "{p:?}");
        assert!(
            t.ece_after.unwrap() > p.ece_after.unwrap() + 0.02,
            "{t:?} {p:?}"
        );
        assert_eq!(fit_calibration(&labels, &shifted, "val").unwrap(), p);
        // Still strictly increasing in the logit.
        assert!(p.probability_of_logit(-1.0) < p.probability_of_logit(1.0));
        // Separable data: no Platt fit, the temperature alone stands in.
        assert_eq!(
            fit_platt(&[true, false], &[5.0, -5.0], "val").unwrap(),
            None
        );
        let fallback = fit_calibration(&[true, false], &[5.0, -5.0], "val").unwrap();
        assert_eq!(
            (fallback.method.as_str(), fallback.bias),
            ("temperature", 0.0)
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(fit_temperature(&[true, true], &[1.0, 2.0], "val").is_err());
        assert!(fit_temperature(&[true], &[1.0, 2.0], "val").is_err());
        assert!(fit_temperature(&[true, false], &[f64::NAN, 2.0], "val").is_err());
        // Separable data: the fit stops at the edge of the range rather than at 0.
        let t = fit_temperature(&[true, false], &[5.0, -5.0], "val").unwrap();
        assert!(t.temperature <= T_MIN * 1.01, "{t:?}");
        assert!(nll_one(true, 800.0).is_finite() && nll_one(false, 800.0) > 799.0);
    }
}
