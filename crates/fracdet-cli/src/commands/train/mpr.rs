//! `fracdet train mpr`: train, or resume training, the MPR grid detector (issue #5).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use fracdet_io::dataset::Split;
use fracdet_model::grid_detector::ImagePool;
use fracdet_train::mpr::{MprConfig, MprData, train_mpr};
use fracdet_train::{LabelledSource, Start, StopFlag};

use super::mpr_progress::{MprProgress, residual_maps};
use super::{
    Progress, check_splits, install_ctrl_c, open_dataset, plan_start, report_auroc_run,
    report_skipped, set_workers,
};

#[derive(Debug, Args)]
pub struct MprArgs {
    /// Dataset root with train and val splits and fracture boxes (FracAtlas layout).
    #[arg(long, required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Run directory of the trained inpainter (`fracdet train inpainter`) whose residual
    /// maps become the detector's extra input channels.
    #[arg(long, value_name = "RUN_DIR", required_unless_present_any = ["resume", "no_residuals"])]
    pub inpainter: Option<PathBuf>,
    /// Train without residual channels (the image-only ablation of the detector).
    #[arg(long, conflicts_with = "inpainter")]
    pub no_residuals: bool,
    /// Patch sides of the residual maps, one input channel each.
    #[arg(long, value_delimiter = ',', default_value = "32,64")]
    pub residual_scales: Vec<usize>,
    /// ImageNet MobileNetV2 weights (torchvision `mobilenet_v2-b0353104.pth`) for the trunk.
    #[arg(long)]
    pub pretrained: Option<PathBuf>,
    /// Start the network from a trained MPR detector run's weights instead (fine-tuning:
    /// on your own images, or with another loss); it must have the same architecture and
    /// inputs (--stride, --image-head, --box-head, residual channels).
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "pretrained")]
    pub init_from: Option<PathBuf>,
    /// Canvas side in pixels (images are letterboxed to size x size).
    #[arg(long, default_value_t = 256)]
    pub size: u32,
    /// Output stride of the cell grid: 16 (16x16 cells at 256), 8 (32x32 cells: finer boxes,
    /// a one-level feature pyramid) or 32.
    #[arg(long, default_value_t = 16)]
    pub stride: usize,
    /// Epochs to train (default 20). With --resume only the run's own count is accepted:
    /// the count fixes the learning-rate schedule, so a run is neither extended nor cut.
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Images per optimiser step.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Run directory to create, e.g. runs/mpr-256.
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Peak learning rate (AdamW).
    #[arg(long, default_value_t = 5e-4)]
    pub lr: f64,
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f32,
    /// Epochs of linear learning-rate warm-up before the cosine decay.
    #[arg(long, default_value_t = 1)]
    pub warmup_epochs: u64,
    /// Positive weight of the image term; default n_negative / n_positive images.
    #[arg(long)]
    pub image_pos_weight: Option<f32>,
    /// Positive weight of the cell term; default negative / positive training cells.
    #[arg(long)]
    pub cell_pos_weight: Option<f32>,
    /// λ in loss = cell term + λ · image term.
    #[arg(long, default_value_t = 1.0)]
    pub image_loss_weight: f32,
    /// Fraction of the smaller of cell and box a box must cover to make a cell positive.
    #[arg(long, default_value_t = 0.25)]
    pub min_cell_overlap: f32,
    /// Stop after this many epochs without a better validation AUROC (0 = never).
    #[arg(long, default_value_t = 6)]
    pub patience: u64,
    /// Add the box head: every cell regresses its fracture box, so drawn boxes fit the
    /// fracture instead of being unions of cells.
    #[arg(long)]
    pub box_head: bool,
    /// Weight of the box head's GIoU term.
    #[arg(long, default_value_t = 1.0)]
    pub box_loss_weight: f32,
    /// Score images with a head of their own on the trunk (max-pooled features) rather
    /// than the noisy-OR of the cells.
    #[arg(long)]
    pub image_head: bool,
    /// Train on random SIDE² crops of the canvas (one holding a whole fracture box on a
    /// fractured image); validation and prediction see whole canvases. A multiple of 16.
    #[arg(long, value_name = "SIDE")]
    pub train_crop: Option<u32>,
    /// Turn training augmentation off.
    #[arg(long)]
    pub no_augment: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads for decoding and compute (default: all cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Continue the run in this directory from its last.ckpt, with its saved configuration.
    /// Every setting comes from that configuration: a training flag given with it is refused
    /// (only --workers, and --epochs when it repeats the run's own count).
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["data", "out", "pretrained", "init_from", "inpainter", "no_residuals", "residual_scales", "size", "stride", "batch", "lr", "weight_decay", "warmup_epochs", "image_pos_weight", "cell_pos_weight", "image_loss_weight", "min_cell_overlap", "patience", "box_head", "box_loss_weight", "image_head", "train_crop", "no_augment", "seed"])]
    pub resume: Option<PathBuf>,
}

fn config_from_args(args: &MprArgs) -> anyhow::Result<MprConfig> {
    let scales = if args.no_residuals {
        Vec::new()
    } else {
        args.residual_scales.clone()
    };
    let mut c = MprConfig::new(args.size, scales);
    c.pretrained = args.pretrained.clone();
    c.init_from = args.init_from.clone();
    c.inpainter = args.inpainter.clone();
    c.data = args.data.clone();
    c.stride = args.stride;
    c.epochs = args.epochs.unwrap_or(20);
    c.batch_size = args.batch;
    c.lr = args.lr;
    c.min_lr = args.lr * 1e-3;
    c.weight_decay = args.weight_decay;
    c.warmup_epochs = args.warmup_epochs;
    c.image_pos_weight = args.image_pos_weight;
    c.cell_pos_weight = args.cell_pos_weight;
    c.image_loss_weight = args.image_loss_weight;
    c.min_cell_overlap = args.min_cell_overlap;
    c.patience = (args.patience > 0).then_some(args.patience);
    c.box_head = args.box_head;
    c.box_loss_weight = args.box_loss_weight;
    if args.image_head {
        c.image_pool = ImagePool::Head;
    }
    c.train_crop = args.train_crop;
    if args.no_augment {
        c.augment = None;
    }
    c.seed = args.seed;
    c.validate()?;
    Ok(c)
}

pub fn run(args: MprArgs, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    set_workers(args.workers)?;
    let (config, run_dir, start) = plan_start(
        args.resume.as_deref(),
        args.out.as_deref(),
        args.epochs,
        |dir| Ok(MprConfig::load(dir)?),
        |config| config.epochs,
        || {
            let out = args.out.as_deref().unwrap_or(Path::new(""));
            if out.join(fracdet_train::checkpoint::LAST_FILE).exists() {
                bail!(
                    "{} already holds a run; resume it with --resume or choose another --out",
                    out.display()
                );
            }
            config_from_args(&args)
        },
    )?;
    let (data, dataset) = open_dataset(&config.data)?;
    let mut train = MprData::new(
        &dataset.split(Split::Train),
        config.size,
        config.augment.clone(),
    )?;
    let mut val = MprData::new(&dataset.split(Split::Val), config.size, None)?;
    check_splits(
        &data,
        (train.len(), train.positives()),
        (val.len(), val.positives()),
    )?;

    let device = &crate::device::select(device)?;
    residual_maps(&config, &run_dir, &mut train, &mut val, device)?;

    let detector = config.detector();
    let model = match (&start, &config.pretrained, &config.init_from) {
        (Start::Fresh, _, Some(source)) => {
            fracdet_run::mpr::warm_start(detector.init(device)?, &config, source)
                .with_context(|| format!("cannot start from {}", source.display()))?
        }
        (Start::Fresh, Some(weights), None) => {
            let (model, report) = detector
                .init_pretrained(weights, device)
                .with_context(|| format!("cannot load pretrained weights {}", weights.display()))?;
            tracing::info!("pretrained weights: {report:?}");
            model
        }
        _ => detector.init(device)?,
    };

    let stop = StopFlag::new();
    install_ctrl_c(&stop)?;
    let mut observer = MprProgress(Progress::new(config.batch_size));
    let outcome = train_mpr(
        model,
        &config,
        &train,
        &val,
        &run_dir,
        start,
        device,
        &mut observer,
        &stop,
    )?;
    observer.0.finish();

    let state = &outcome.state;
    report_skipped(&outcome.skipped);
    Ok(report_auroc_run(
        outcome.stop,
        state.epoch,
        state.best_auroc.zip(state.best_epoch),
        state.partial.as_ref().map(|p| p.batches_done),
        "mpr",
        &run_dir,
    ))
}
