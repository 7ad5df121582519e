//! Everything an MPR detector run is made of, saved as `config.json` in the run directory,
//! so that the run can be resumed and its model used for prediction with nothing else.

use std::path::{Path, PathBuf};

use fracdet_io::augment::AugmentConfig;
use fracdet_model::grid_detector::{GridDetectorConfig, ImagePool};
use serde::{Deserialize, Serialize};

use crate::error::{Result, RunError};

/// Bumped when the meaning of a saved field changes.
pub const MPR_CONFIG_VERSION: u32 = 1;

/// Hyper-parameters and model description of one MPR detector run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MprConfig {
    pub version: u32,
    /// Backbone name (only `mobilenet_v2` is supported).
    pub backbone: String,
    /// ImageNet weights the trunk started from, if any (informational once started).
    pub pretrained: Option<PathBuf>,
    /// Side of the square letterboxed canvas, pixels.
    pub size: u32,
    /// Grey normalisation of the image channel: `(v - mean) / std`. The defaults are the
    /// means of ImageNet's per-channel values, matching the summed-RGB stem kernel.
    pub image_mean: f32,
    pub image_std: f32,
    /// Patch sides of the inpainter's residual maps, one input channel each; empty for the
    /// detector without residual channels.
    pub residual_scales: Vec<usize>,
    /// Residual maps (|x - G(x)|, in [0, 1]) are divided by this before the network.
    pub residual_std: f32,
    /// Run directory of the trained inpainter the residual maps come from.
    pub inpainter: Option<PathBuf>,
    /// Dataset the run trained on (informational).
    pub data: Option<PathBuf>,
    /// Output stride of the cell grid (8, 16 or 32).
    pub stride: usize,
    /// Channels of the detector's context convolution.
    pub head_channels: usize,
    /// Cell-to-image pooling.
    pub image_pool: ImagePool,
    /// Initial residual stem kernel as a multiple of the summed RGB kernel (pretrained only).
    pub residual_stem_scale: f64,
    pub epochs: u64,
    pub batch_size: usize,
    /// Peak learning rate (AdamW).
    pub lr: f64,
    pub min_lr: f64,
    pub weight_decay: f32,
    pub warmup_epochs: u64,
    /// Positive weight of the image-level term; `None` = n_negative / n_positive images.
    pub image_pos_weight: Option<f32>,
    /// Positive weight of the cell term; `None` = negative / positive cells over the
    /// training images with cell targets (un-augmented boxes).
    pub cell_pos_weight: Option<f32>,
    /// λ in `loss = cell term + λ · image term`.
    pub image_loss_weight: f32,
    /// A cell is positive when a box covers at least this fraction of the smaller of the
    /// cell and the box (so a box smaller than a cell still marks it).
    pub min_cell_overlap: f32,
    /// Cell probability at or above which cells form predicted regions (validation boxes).
    pub region_threshold: f32,
    /// Stop after this many epochs without a better validation AUROC; `None` = never.
    pub patience: Option<u64>,
    /// Geometric + photometric augmentation; the same warp moves the residual maps and the
    /// boxes, photometric changes touch the image only. Random erasing is refused.
    pub augment: Option<AugmentConfig>,
    pub seed: u64,
    /// The box head: each cell regresses its fracture box (absent in older runs: off).
    #[serde(default)]
    pub box_head: bool,
    /// Weight of the box term (1 − GIoU over the cells that regress a box).
    #[serde(default = "default_box_loss_weight")]
    pub box_loss_weight: f32,
    /// Training only: each sample is a random `train_crop`² crop of its canvas (one that
    /// holds a whole fracture box, for a fractured image with boxes), so a large working
    /// size trains at a fraction of its cost; validation and prediction see whole canvases.
    /// The network is fully convolutional and the image head max-pools, so a crop is scored
    /// as a whole image is. Must be a multiple of 16 and at most `size`.
    #[serde(default)]
    pub train_crop: Option<u32>,
    /// Which cells regress a box (absent in runs made before the choice: `CentreInside`).
    #[serde(default = "BoxCells::centre_inside")]
    pub box_cells: BoxCells,
    /// How the box term weighs its cells (absent in runs made before the choice: `PerCell`).
    #[serde(default = "BoxWeighting::per_cell")]
    pub box_weighting: BoxWeighting,
    /// An MPR run whose network weights this run started from instead of ImageNet's
    /// (informational once started; the architecture must match).
    #[serde(default)]
    pub init_from: Option<PathBuf>,
}

/// How the box term (1 − GIoU) weighs the cells that regress a box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxWeighting {
    /// Every regressing cell alike (the first 512² runs). A box covering 100 cells then
    /// weighs 10× one covering 10, and the head learns the large fractures' sizes: on val
    /// its centre cells drew boxes a median 1.95× the true area.
    PerCell,
    /// Each box's cells share one unit of weight, so every fracture box counts once,
    /// whatever its size (the mean is over boxes).
    PerBox,
}

impl BoxWeighting {
    fn per_cell() -> Self {
        Self::PerCell
    }
}

/// Which cells the box head is trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxCells {
    /// Positive cells whose centre lies inside their box, plus each box's centre cell (the
    /// first 512² run). Positive cells at a box's edge are then trained to score high but
    /// never to draw a box.
    CentreInside,
    /// Every positive cell (and each box's centre cell): GIoU needs no positive distance, so
    /// an edge cell learns to draw the whole box too, and any warm cell's box is trained.
    AllPositive,
}

impl BoxCells {
    fn centre_inside() -> Self {
        Self::CentreInside
    }
}

fn default_box_loss_weight() -> f32 {
    1.0
}

impl MprConfig {
    /// Defaults for a run at `size` with residual maps at `residual_scales` (empty: none).
    pub fn new(size: u32, residual_scales: Vec<usize>) -> Self {
        Self {
            version: MPR_CONFIG_VERSION,
            backbone: "mobilenet_v2".to_string(),
            pretrained: None,
            size,
            image_mean: 0.449,
            image_std: 0.226,
            residual_scales,
            residual_std: 0.1,
            inpainter: None,
            data: None,
            stride: 16,
            head_channels: 128,
            image_pool: ImagePool::NoisyOr,
            residual_stem_scale: 0.0,
            epochs: 20,
            batch_size: 16,
            lr: 5e-4,
            min_lr: 5e-7,
            weight_decay: 1e-4,
            warmup_epochs: 1,
            image_pos_weight: None,
            cell_pos_weight: None,
            image_loss_weight: 1.0,
            min_cell_overlap: 0.25,
            region_threshold: 0.5,
            patience: Some(6),
            augment: Some(AugmentConfig::default()),
            seed: 0,
            box_head: false,
            box_loss_weight: default_box_loss_weight(),
            train_crop: None,
            box_cells: BoxCells::AllPositive,
            box_weighting: BoxWeighting::PerBox,
            init_from: None,
        }
    }

    /// Input channels of the detector: the image and one per residual scale.
    pub fn in_channels(&self) -> usize {
        1 + self.residual_scales.len()
    }

    /// The network this run trains.
    pub fn detector(&self) -> GridDetectorConfig {
        GridDetectorConfig::new()
            .with_in_channels(self.in_channels())
            .with_stride(self.stride)
            .with_head_channels(self.head_channels)
            .with_image_pool(self.image_pool)
            .with_residual_stem_scale(self.residual_stem_scale)
            .with_box_head(self.box_head)
    }

    /// `Ok` when a network trained under `source` can start this run: same architecture
    /// and the same input recipe (channels, normalisation), so its weights mean the same
    /// here; the error names what differs. Sizes, schedule and losses may differ.
    pub fn check_warm_start(&self, source: &MprConfig) -> Result<()> {
        let differs: Vec<&str> = [
            ("backbone", self.backbone != source.backbone),
            (
                "residual_scales",
                self.residual_scales != source.residual_scales,
            ),
            ("stride", self.stride != source.stride),
            ("head_channels", self.head_channels != source.head_channels),
            ("image_pool", self.image_pool != source.image_pool),
            ("box_head", self.box_head != source.box_head),
            (
                "image normalisation",
                self.image_mean != source.image_mean || self.image_std != source.image_std,
            ),
            ("residual_std", self.residual_std != source.residual_std),
        ]
        .into_iter()
        .filter_map(|(name, d)| d.then_some(name))
        .collect();
        if differs.is_empty() {
            Ok(())
        } else {
            Err(RunError::Config(format!(
                "cannot start from that run's weights: its {} differ(s) from this run's",
                differs.join(", ")
            )))
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(RunError::Config(m));
        if self.version != MPR_CONFIG_VERSION {
            return bad(format!(
                "MPR config version {} is not the supported {MPR_CONFIG_VERSION}",
                self.version
            ));
        }
        if self.backbone != "mobilenet_v2" {
            return bad(format!(
                "backbone {:?}: the MPR detector supports mobilenet_v2 only",
                self.backbone
            ));
        }
        if self.size == 0 || self.epochs == 0 || self.batch_size == 0 {
            return bad("size, epochs and batch size must be positive".into());
        }
        if self.residual_scales.contains(&0) {
            return bad("residual scales must be positive".into());
        }
        let positive = |v: f32| v.is_finite() && v > 0.0;
        if !positive(self.image_std) || !positive(self.residual_std) {
            return bad("image_std and residual_std must be finite and > 0".into());
        }
        if !self.image_mean.is_finite() {
            return bad("image_mean must be finite".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.min_lr.is_finite() && self.min_lr >= 0.0)
        {
            return bad("learning rates must be finite, lr > 0 and min_lr >= 0".into());
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight decay must be finite and >= 0".into());
        }
        for w in [self.image_pos_weight, self.cell_pos_weight]
            .into_iter()
            .flatten()
        {
            if !positive(w) {
                return bad("positive weights must be finite and > 0".into());
            }
        }
        if !(self.image_loss_weight.is_finite() && self.image_loss_weight >= 0.0) {
            return bad("image_loss_weight must be finite and >= 0".into());
        }
        if !(self.box_loss_weight.is_finite() && self.box_loss_weight >= 0.0) {
            return bad("box_loss_weight must be finite and >= 0".into());
        }
        if let Some(crop) = self.train_crop
            && (crop == 0 || !crop.is_multiple_of(16) || crop > self.size)
        {
            return bad(format!(
                "train_crop {crop} must be a positive multiple of 16 and at most size {}",
                self.size
            ));
        }
        if !(0.0..=1.0).contains(&self.min_cell_overlap) {
            return bad("min_cell_overlap must be in [0, 1]".into());
        }
        if !(0.0..=1.0).contains(&self.region_threshold) {
            return bad("region_threshold must be in [0, 1]".into());
        }
        if self.augment.as_ref().is_some_and(|a| a.erasing.is_some()) {
            return bad(
                "random erasing would blank the image but not its residual maps; turn it off"
                    .into(),
            );
        }
        self.detector().validate()?;
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
    fn round_trips_and_rejects_bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let c = MprConfig::new(256, vec![32, 64]);
        assert_eq!(c.in_channels(), 3);
        c.save(dir.path()).unwrap();
        assert_eq!(MprConfig::load(dir.path()).unwrap(), c);
        assert_eq!(
            crate::run_config::RunKind::of(dir.path()),
            Some(crate::run_config::RunKind::Mpr)
        );
        let mut bad = c.clone();
        bad.stride = 4;
        assert!(bad.validate().is_err());
        let mut fine = c.clone();
        fine.stride = 8;
        assert!(fine.validate().is_ok());
        let mut bad = c.clone();
        bad.augment = Some(AugmentConfig {
            erasing: Some(Default::default()),
            ..AugmentConfig::default()
        });
        assert!(bad.validate().is_err());
        let mut bad = c.clone();
        bad.residual_scales = vec![0];
        assert!(bad.validate().is_err());
        for crop in [0, 100, 512] {
            let mut bad = c.clone();
            bad.train_crop = Some(crop);
            assert!(bad.validate().is_err(), "crop {crop}");
        }
        // A config written before the box head loads with it off.
        let mut old: serde_json::Value = serde_json::to_value(&c).unwrap();
        for key in [
            "box_head",
            "box_loss_weight",
            "train_crop",
            "box_cells",
            "box_weighting",
            "init_from",
        ] {
            old.as_object_mut().unwrap().remove(key);
        }
        let old: MprConfig = serde_json::from_value(old).unwrap();
        assert!(!old.box_head && old.train_crop.is_none() && old.box_loss_weight == 1.0);
        assert_eq!(old.box_cells, BoxCells::CentreInside);
        assert_eq!(c.box_cells, BoxCells::AllPositive);
        assert_eq!(old.box_weighting, BoxWeighting::PerCell);
        assert_eq!(c.box_weighting, BoxWeighting::PerBox);
        assert_eq!(old.init_from, None);
    }
}
