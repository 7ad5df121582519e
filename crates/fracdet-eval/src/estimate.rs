//! A point estimate with an optional confidence interval, or the reason it is undefined.
//!
//! Every metric in this crate is reported through [`Estimate`] so that degenerate data
//! (e.g. specificity with no negatives) yields `value: None` plus a human-readable reason
//! instead of a NaN. JSON output therefore never contains NaN or infinities.

use serde::{Deserialize, Serialize};

/// How an interval was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CiMethod {
    /// Percentile interval of a stratified bootstrap (see [`crate::BootstrapConfig`]).
    Bootstrap,
    /// Wilson score interval for a binomial proportion.
    Wilson,
}

/// A two-sided confidence interval `[lower, upper]` at `level` (e.g. 0.95).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
    pub level: f64,
    pub method: CiMethod,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }
    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }
}

/// A metric value. `value` is `None` exactly when the metric is undefined on this data, and
/// `note` then says why. `note` may also carry a caveat for a defined value (e.g. why the
/// interval fell back to Wilson).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Estimate {
    pub value: Option<f64>,
    pub ci: Option<Interval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Estimate {
    /// An undefined metric with the reason.
    pub fn undefined(reason: impl Into<String>) -> Self {
        Self {
            value: None,
            ci: None,
            note: Some(reason.into()),
        }
    }
    /// A defined value without interval. Non-finite values become undefined.
    pub fn point(value: f64) -> Self {
        if value.is_finite() {
            Self {
                value: Some(value),
                ci: None,
                note: None,
            }
        } else {
            Self::undefined("computation produced a non-finite value")
        }
    }
    pub fn with_ci(mut self, ci: Option<Interval>) -> Self {
        self.ci = ci.filter(|c| c.lower.is_finite() && c.upper.is_finite());
        self
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// A ratio `num / den`, or `None` when `den == 0`.
pub(crate) fn ratio(num: f64, den: f64) -> Option<f64> {
    if den > 0.0 { Some(num / den) } else { None }
}
