//! `fracdet train inpainter`: train, or resume training, the MPR healthy-bone inpainter.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use fracdet_io::dataset::Split;
use fracdet_train::inpainter::{Critics, InpainterTrainConfig, normal_indices, train_inpainter};
use fracdet_train::{DatasetSource, StopFlag, StopReason};

use super::inpainter_progress::InpainterProgress;
use super::{
    install_ctrl_c, open_dataset, plan_start, report_interrupted, report_skipped, set_workers,
};

#[derive(Debug, Args)]
pub struct InpainterArgs {
    /// Dataset root with train and val splits (FracAtlas layout or <split>/<class>/ folders);
    /// only the non-fractured images are used.
    #[arg(long, required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Working size: images are letterboxed to size x size grey canvases (multiple of 16).
    #[arg(long, default_value_t = 256)]
    pub size: u32,
    /// Sides of the masked squares in pixels, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "32,64")]
    pub scales: Vec<usize>,
    /// Epochs to train (default 20). With --resume only the run's own count is accepted:
    /// the count fixes the learning-rate schedule, so a run is neither extended nor cut.
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Images per optimiser step.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Run directory to create, e.g. runs/inpainter-256.
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Weight of the adversarial (GAN) term beside the masked L1; 0 trains without critics.
    #[arg(long, default_value_t = 0.02)]
    pub adv_weight: f32,
    /// Peak learning rate of the generator (Adam, cosine decay).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Peak learning rate of the critics.
    #[arg(long, default_value_t = 2e-4)]
    pub lr_d: f64,
    /// Channels of the generator's body (inference cost grows about with its square).
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Validate on at most this many non-fractured val images (default: all).
    #[arg(long)]
    pub val_limit: Option<usize>,
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
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["data", "out", "size", "scales", "batch", "adv_weight", "lr", "lr_d", "width", "val_limit", "no_augment", "seed"])]
    pub resume: Option<PathBuf>,
}

fn config_from_args(args: &InpainterArgs) -> anyhow::Result<InpainterTrainConfig> {
    let mut c = InpainterTrainConfig::new(args.size);
    c.scales = args.scales.clone();
    c.data = args.data.clone();
    c.epochs = args.epochs.unwrap_or(20);
    c.batch_size = args.batch;
    c.adv_weight = args.adv_weight;
    c.lr_g = args.lr;
    c.lr_d = args.lr_d;
    c.width = args.width;
    c.val_limit = args.val_limit;
    if args.no_augment {
        c.augment = None;
    }
    c.seed = args.seed;
    c.validate()?;
    Ok(c)
}

pub fn run(args: InpainterArgs, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    set_workers(args.workers)?;
    let (config, run_dir, start) = plan_start(
        args.resume.as_deref(),
        args.out.as_deref(),
        args.epochs,
        |dir| Ok(InpainterTrainConfig::load(dir)?),
        |config| config.epochs,
        || config_from_args(&args),
    )?;
    let (data, dataset) = open_dataset(&config.data)?;
    let train = DatasetSource::new(
        &dataset.split(Split::Train),
        config.size,
        config.augment.clone(),
    )?;
    let val = DatasetSource::new(&dataset.split(Split::Val), config.size, None)?;
    let (n_train, n_val) = (normal_indices(&train).len(), normal_indices(&val).len());
    if n_train == 0 || n_val == 0 {
        bail!(
            "{} needs non-fractured images in train and val (found {n_train} and {n_val})",
            data.display()
        );
    }
    eprintln!(
        "train: {n_train} non-fractured images, val: {} of {n_val} non-fractured images; \
         squares {:?} px at {}x{}, adversarial weight {}",
        config.val_limit.map_or(n_val, |l| l.min(n_val)),
        config.scales,
        config.size,
        config.size,
        config.adv_weight
    );

    let device = &crate::device::select(device)?;
    let g = config.generator().init(device)?;
    let critics = Critics::new(device)?;
    let stop = StopFlag::new();
    install_ctrl_c(&stop)?;
    let mut observer = InpainterProgress::new();
    let outcome = train_inpainter(
        g,
        critics,
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
    let best = match (state.best_val_l1, state.best_epoch) {
        (Some(l1), Some(e)) => format!("best val L1 {l1:.4} at epoch {}", e + 1),
        _ => "no validation score yet".to_string(),
    };
    match outcome.stop {
        StopReason::Interrupted => Ok(report_interrupted(
            state.epoch,
            state.partial.as_ref().map(|p| p.batches_done),
            &best,
            "inpainter",
            &run_dir,
        )),
        _ => {
            println!(
                "finished after {} epoch(s); {best}; inpainter in {}",
                state.epoch,
                run_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
