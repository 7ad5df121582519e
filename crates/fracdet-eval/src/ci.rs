//! Interval primitives: Wilson score interval, percentile quantiles, normal quantile.

use crate::estimate::{CiMethod, Interval};

/// Standard normal quantile `z` with `P(Z <= z) = p`, for `0 < p < 1` (Acklam's rational
/// approximation, relative error < 1.2e-9, more than enough for interval bounds).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let p_low = 0.02425;
    if p < p_low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - p_low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// Wilson score interval for `successes` out of `trials` at confidence `level`.
/// `None` when `trials == 0`. Unlike the Wald interval it stays inside [0, 1] and has a
/// non-zero width at proportions 0 and 1, which is why it is the fallback for degenerate
/// bootstraps.
pub fn wilson(successes: f64, trials: f64, level: f64) -> Option<Interval> {
    if trials <= 0.0 || !(0.0..=trials).contains(&successes) {
        return None;
    }
    let z = normal_quantile(0.5 + level / 2.0);
    let p = successes / trials;
    let z2 = z * z;
    let denom = 1.0 + z2 / trials;
    let centre = (p + z2 / (2.0 * trials)) / denom;
    let half = z * (p * (1.0 - p) / trials + z2 / (4.0 * trials * trials)).sqrt() / denom;
    Some(Interval {
        lower: (centre - half).max(0.0),
        upper: (centre + half).min(1.0),
        level,
        method: CiMethod::Wilson,
    })
}

/// Quantile of already **sorted** finite values with linear interpolation between order
/// statistics (Hyndman–Fan type 7, the default of R and NumPy). `None` for an empty slice.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    match sorted.len() {
        0 => None,
        1 => Some(sorted[0]),
        n => {
            let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
        }
    }
}

/// Percentile bootstrap interval from the replicate values (any order, non-finite ignored).
pub fn percentile_interval(replicates: &mut [f64], level: f64) -> Option<Interval> {
    replicates.sort_by(f64::total_cmp);
    let alpha = 1.0 - level;
    let lower = quantile_sorted(replicates, alpha / 2.0)?;
    let upper = quantile_sorted(replicates, 1.0 - alpha / 2.0)?;
    Some(Interval {
        lower,
        upper,
        level,
        method: CiMethod::Bootstrap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_known_values() {
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.01) + 2.326_347_874).abs() < 1e-8);
    }

    #[test]
    fn wilson_matches_hand_computation() {
        // 8/10, z = 1.959964: centre = (0.8 + 0.19207)/1.38415 = 0.716740,
        // half = 1.959964*sqrt(0.016 + 0.0096037)/1.38415 = 0.226640 -> [0.4902, 0.9435].
        let ci = wilson(8.0, 10.0, 0.95).unwrap();
        assert!((ci.lower - 0.4902).abs() < 1e-3, "{ci:?}");
        assert!((ci.upper - 0.9433).abs() < 1e-3, "{ci:?}");
        // 0/10: upper bound z^2/(n+z^2) = 3.8415/13.8415 = 0.2775.
        let zero = wilson(0.0, 10.0, 0.95).unwrap();
        assert_eq!(zero.lower, 0.0);
        assert!((zero.upper - 0.2775).abs() < 1e-3);
        let one = wilson(10.0, 10.0, 0.95).unwrap();
        assert!((one.lower - 0.7225).abs() < 1e-3);
        assert_eq!(one.upper, 1.0);
        assert!(wilson(0.0, 0.0, 0.95).is_none());
    }

    #[test]
    fn quantile_type7() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&v, 0.5), Some(2.5));
        assert_eq!(quantile_sorted(&v, 0.0), Some(1.0));
        assert_eq!(quantile_sorted(&v, 1.0), Some(4.0));
        assert_eq!(quantile_sorted(&[], 0.5), None);
    }
}
