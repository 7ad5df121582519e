//! Everything an inpainter run is made of, saved as `config.json` in the run directory so
//! that the run can be resumed, and its generator rebuilt, with nothing else.

use std::path::{Path, PathBuf};

use fracdet_io::augment::AugmentConfig;
use fracdet_model::mpr::InpainterConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Result, RunError};

/// Bumped when the meaning of a saved field changes.
pub const INPAINTER_CONFIG_VERSION: u32 = 1;

/// Hyper-parameters of one inpainter (MPR generator) run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InpainterTrainConfig {
    pub version: u32,
    /// Side of the square letterboxed grey canvas, pixels (a multiple of 16).
    pub size: u32,
    /// Sides of the masked squares, pixels (e.g. 32 and 64 at 256).
    pub scales: Vec<usize>,
    /// Channels of the generator's /16 body.
    pub width: usize,
    /// Dilations of the generator's residual body convolutions.
    pub dilations: Vec<usize>,
    /// Dataset the run trained on (informational; the CLI reopens it on resume).
    pub data: Option<PathBuf>,
    pub epochs: u64,
    pub batch_size: usize,
    /// Peak learning rate of the generator (Adam), cosine-decayed to 1% over the run.
    pub lr_g: f64,
    /// Peak learning rate of the critics (Adam), same schedule.
    pub lr_d: f64,
    /// Weight of the adversarial term beside the masked L1 (which has weight 1); 0 turns the
    /// critics off entirely (the ablation without GAN).
    pub adv_weight: f32,
    /// Masked squares per training image and step.
    pub patches_per_image: usize,
    /// Side the local critic sees: the crop twice the square's side, resized to this.
    pub local_side: usize,
    /// Side the global critic sees: the whole canvas, downscaled to this.
    pub global_side: usize,
    /// Training augmentation; `None` trains on plain canvases.
    pub augment: Option<AugmentConfig>,
    /// Validate on at most this many non-fractured val images (`None` = all).
    pub val_limit: Option<usize>,
    /// Rows of the per-epoch sample grid (0 = none).
    pub sample_rows: usize,
    pub seed: u64,
}

/// Light augmentation: the inpainter must learn anatomy, not invariances, so geometry and
/// intensity move a little only.
pub fn light_augment() -> AugmentConfig {
    AugmentConfig {
        hflip_prob: 0.5,
        rotate_deg: 5.0,
        scale_range: (0.95, 1.05),
        translate_frac: 0.03,
        brightness: 0.05,
        contrast: 0.1,
        gamma_range: (0.9, 1.1),
        erasing: None,
        acquisition: None,
        min_box_visible: 0.4,
    }
}

impl InpainterTrainConfig {
    /// Defaults for a `size` canvas: squares of size/8 and size/4 (32 and 64 at 256); the
    /// critics see size/4 and size/2 (64 and 128 at 256, the most), at least 16 px.
    pub fn new(size: u32) -> Self {
        let g = InpainterConfig::new();
        let s = size as usize;
        Self {
            version: INPAINTER_CONFIG_VERSION,
            size,
            scales: vec![(s / 8).max(1), (s / 4).max(1)],
            width: g.width,
            dilations: g.dilations,
            data: None,
            epochs: 20,
            batch_size: 8,
            lr_g: 1e-3,
            lr_d: 2e-4,
            adv_weight: 0.02,
            patches_per_image: 1,
            local_side: (s / 4).clamp(16, 64),
            global_side: (s / 2).clamp(16, 128).min(s.max(1)),
            augment: Some(light_augment()),
            val_limit: None,
            sample_rows: 4,
            seed: 0,
        }
    }

    /// The generator's architecture.
    pub fn generator(&self) -> InpainterConfig {
        InpainterConfig::new()
            .with_width(self.width)
            .with_dilations(self.dilations.clone())
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(RunError::Config(m));
        if self.version != INPAINTER_CONFIG_VERSION {
            return bad(format!(
                "config version {} is not the supported {INPAINTER_CONFIG_VERSION}",
                self.version
            ));
        }
        let size = self.size as usize;
        let align = fracdet_model::mpr::Inpainter::ALIGN;
        if size == 0 || !size.is_multiple_of(align) {
            return bad(format!(
                "size must be a positive multiple of {align}, got {size}"
            ));
        }
        if self.scales.is_empty() || self.scales.iter().any(|&s| s == 0 || 2 * s > size) {
            return bad(format!(
                "scales must be 1..={} pixels (half the size), got {:?}",
                size / 2,
                self.scales
            ));
        }
        if self.epochs == 0 || self.batch_size == 0 || self.patches_per_image == 0 {
            return bad("epochs, batch size and patches per image must be at least 1".into());
        }
        if self.local_side == 0 || self.global_side == 0 || self.global_side > size {
            return bad(format!(
                "critic sides must be positive and the global one at most {size}"
            ));
        }
        let lr_ok = |lr: f64| lr.is_finite() && lr > 0.0;
        if !(lr_ok(self.lr_g) && lr_ok(self.lr_d)) {
            return bad("learning rates must be finite and > 0".into());
        }
        if !(self.adv_weight.is_finite() && self.adv_weight >= 0.0) {
            return bad("adversarial weight must be finite and >= 0".into());
        }
        self.generator()
            .init(&burn::tensor::Device::flex())
            .map(|_| ())?;
        Ok(())
    }

    pub fn save(&self, run_dir: &Path) -> Result<()> {
        crate::run_config::save_as(run_dir, self)
    }

    pub fn load(run_dir: &Path) -> Result<Self> {
        crate::run_config::load_as(run_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_and_rejects_bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let c = InpainterTrainConfig::new(256);
        assert_eq!(c.scales, vec![32, 64]);
        assert_eq!((c.local_side, c.global_side), (64, 128));
        // Small canvases get critics that fit them, so the defaults always validate.
        for size in [32, 64, 128, 512] {
            let small = InpainterTrainConfig::new(size);
            assert!(small.validate().is_ok(), "{small:?}");
        }
        c.save(dir.path()).unwrap();
        assert_eq!(InpainterTrainConfig::load(dir.path()).unwrap(), c);
        for bad in [
            InpainterTrainConfig {
                size: 250,
                ..c.clone()
            },
            InpainterTrainConfig {
                scales: vec![],
                ..c.clone()
            },
            InpainterTrainConfig {
                scales: vec![200],
                ..c.clone()
            },
            InpainterTrainConfig {
                adv_weight: -1.0,
                ..c.clone()
            },
            InpainterTrainConfig {
                width: 0,
                ..c.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
