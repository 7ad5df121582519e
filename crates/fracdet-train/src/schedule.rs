//! Learning-rate schedule: linear warm-up, then cosine decay to a floor.
//!
//! A pure function of the global step so that a resumed run recomputes exactly the rate an
//! uninterrupted run would have used; the only state to checkpoint is the step counter.

use serde::{Deserialize, Serialize};

/// Linear warm-up from `base_lr / warmup_steps` to `base_lr` over `warmup_steps` optimiser
/// steps, then half a cosine from `base_lr` down to `min_lr` at `total_steps`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WarmupCosine {
    pub base_lr: f64,
    pub min_lr: f64,
    pub warmup_steps: u64,
    pub total_steps: u64,
}

impl WarmupCosine {
    /// The schedule of a run of `epochs` epochs of `steps_per_epoch` steps, warming up over
    /// the first `warmup_epochs`.
    pub fn planned(
        base_lr: f64,
        min_lr: f64,
        warmup_epochs: u64,
        epochs: u64,
        steps_per_epoch: u64,
    ) -> Self {
        Self {
            base_lr,
            min_lr,
            warmup_steps: warmup_epochs * steps_per_epoch,
            total_steps: epochs * steps_per_epoch,
        }
    }

    /// Learning rate for optimiser step `step` (0-based). Steps past the end stay at `min_lr`.
    pub fn lr(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.base_lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let decay_steps = self.total_steps.saturating_sub(self.warmup_steps);
        if decay_steps == 0 {
            return self.base_lr;
        }
        let t = ((step - self.warmup_steps) as f64 / decay_steps as f64).min(1.0);
        self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_rises_linearly_then_cosine_falls_to_floor() {
        let s = WarmupCosine {
            base_lr: 1.0,
            min_lr: 0.1,
            warmup_steps: 4,
            total_steps: 14,
        };
        assert!((s.lr(0) - 0.25).abs() < 1e-12);
        assert!((s.lr(3) - 1.0).abs() < 1e-12);
        assert!((s.lr(4) - 1.0).abs() < 1e-12);
        // Half-way through the decay: the mid-point between base and floor.
        assert!((s.lr(9) - 0.55).abs() < 1e-12);
        assert!((s.lr(14) - 0.1).abs() < 1e-12);
        assert!((s.lr(100) - 0.1).abs() < 1e-12);
        for step in 4..14 {
            assert!(s.lr(step + 1) <= s.lr(step));
        }
    }

    #[test]
    fn no_warmup_starts_at_base() {
        let s = WarmupCosine {
            base_lr: 0.5,
            min_lr: 0.0,
            warmup_steps: 0,
            total_steps: 10,
        };
        assert!((s.lr(0) - 0.5).abs() < 1e-12);
    }
}
