//! `fracdet train classifier`: train, or resume training, a fracture classifier.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::Context;
use clap::Args;
use fracdet_io::dataset::{Split, without_region};
use fracdet_model::BackboneKind;
use fracdet_train::{
    ClassifierConfig, DatasetSource, InputSpec, LabelledSource, Start, StopFlag, train_classifier,
};

use super::{
    Progress, check_splits, install_ctrl_c, open_dataset, plan_start, report_auroc_run,
    report_skipped, set_workers,
};

#[derive(Debug, Args)]
pub struct ClassifierArgs {
    /// Dataset root with train and val splits (FracAtlas layout or <split>/<class>/ folders).
    #[arg(long, required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Backbone: resnet18, resnet34, resnet50, densenet121, densenet169, mobilenet_v2,
    /// efficientnet_lite0.
    #[arg(long, required_unless_present = "resume")]
    pub backbone: Option<String>,
    /// Pretrained weights (.pth or .safetensors) for the backbone; the head starts fresh.
    #[arg(long)]
    pub pretrained: Option<PathBuf>,
    /// Input side in pixels (images are letterboxed to size x size).
    #[arg(long, default_value_t = 224)]
    pub size: u32,
    /// Epochs to train (default 30). With --resume only the run's own count is accepted:
    /// the count fixes the learning-rate schedule, so a run is neither extended nor cut.
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Images per optimiser step.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Run directory to create, e.g. runs/resnet18-224.
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Peak learning rate (AdamW).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f32,
    /// Epochs of linear learning-rate warm-up before the cosine decay.
    #[arg(long, default_value_t = 1)]
    pub warmup_epochs: u64,
    /// Epochs at the start in which only the head trains.
    #[arg(long, default_value_t = 0)]
    pub freeze_epochs: u64,
    /// Weight of positive (fracture) samples in the loss; default n_negative / n_positive.
    #[arg(long)]
    pub pos_weight: Option<f32>,
    /// Stop after this many epochs without a better validation AUROC (0 = never).
    #[arg(long, default_value_t = 8)]
    pub patience: u64,
    /// Turn training augmentation off.
    #[arg(long)]
    pub no_augment: bool,
    /// Also augment with noise, blur and JPEG re-compression (what differs between
    /// hospitals; `fracdet evaluate --perturb` measures the model against them).
    #[arg(long, conflicts_with = "no_augment")]
    pub acquisition_augment: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Leave this region (hand, leg, hip, shoulder) out of train and of the val images that
    /// choose the checkpoint, mixed images showing it too: a network that never saw it, to
    /// test the scope check with `fracdet typicality --exclude-region`.
    #[arg(long, value_name = "REGION")]
    pub exclude_region: Option<String>,
    /// Threads for decoding and compute (default: all cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Continue the run in this directory from its last.ckpt, with its saved configuration.
    /// Every setting comes from that configuration: a training flag given with it is refused
    /// (only --workers, and --epochs when it repeats the run's own count).
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["data", "backbone", "out", "pretrained", "size", "batch", "lr", "weight_decay", "warmup_epochs", "freeze_epochs", "pos_weight", "patience", "no_augment", "acquisition_augment", "seed", "exclude_region"])]
    pub resume: Option<PathBuf>,
}

fn config_from_args(args: &ClassifierArgs) -> anyhow::Result<ClassifierConfig> {
    let backbone = args.backbone.as_deref().context("--backbone is required")?;
    let kind = BackboneKind::from_str(backbone)?;
    let mut c = ClassifierConfig::new(kind.name(), InputSpec::imagenet(args.size));
    c.pretrained = args.pretrained.clone();
    c.data = args.data.clone();
    c.epochs = args.epochs.unwrap_or(30);
    c.batch_size = args.batch;
    c.lr = args.lr;
    c.min_lr = args.lr * 1e-3;
    c.weight_decay = args.weight_decay;
    c.warmup_epochs = args.warmup_epochs;
    c.freeze_epochs = args.freeze_epochs;
    c.pos_weight = args.pos_weight;
    c.patience = (args.patience > 0).then_some(args.patience);
    if args.no_augment {
        c.augment = None;
    }
    if args.acquisition_augment
        && let Some(a) = c.augment.as_mut()
    {
        a.acquisition = Some(fracdet_io::augment::AcquisitionConfig::default());
    }
    c.seed = args.seed;
    c.exclude_region = args.exclude_region.clone();
    c.validate()?;
    Ok(c)
}

pub fn run(args: ClassifierArgs, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    set_workers(args.workers)?;
    let (config, run_dir, start) = plan_start(
        args.resume.as_deref(),
        args.out.as_deref(),
        args.epochs,
        |dir| Ok(ClassifierConfig::load(dir)?),
        |config| config.epochs,
        || config_from_args(&args),
    )?;
    let (data, dataset) = open_dataset(&config.data)?;
    let region = config.exclude_region.as_deref();
    let train = DatasetSource::new(
        &without_region(dataset.split(Split::Train), region),
        config.input.size,
        config.augment.clone(),
    )?;
    let val = DatasetSource::new(
        &without_region(dataset.split(Split::Val), region),
        config.input.size,
        None,
    )?;
    check_splits(
        &data,
        (train.len(), train.positives()),
        (val.len(), val.positives()),
    )?;

    let device = &crate::device::select(device)?;
    let kind = BackboneKind::from_str(&config.backbone)?;
    let model = match (&start, &config.pretrained) {
        (Start::Fresh, Some(weights)) => {
            let (model, report) = kind
                .init_pretrained(config.input.channels, weights, false, device)
                .with_context(|| format!("cannot load pretrained weights {}", weights.display()))?;
            tracing::info!("pretrained weights: {report:?}");
            model
        }
        _ => kind.init(config.input.channels, device)?,
    };

    let stop = StopFlag::new();
    install_ctrl_c(&stop)?;
    let mut observer = Progress::new(config.batch_size);
    let outcome = train_classifier(
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
    observer.finish();

    let state = &outcome.state;
    report_skipped(&outcome.skipped);
    Ok(report_auroc_run(
        outcome.stop,
        state.epoch,
        state.best_auroc.zip(state.best_epoch),
        state.partial.as_ref().map(|p| p.batches_done),
        "classifier",
        &run_dir,
    ))
}
