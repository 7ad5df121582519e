//! `fracdet train classifier`: train, or resume training, a fracture classifier.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use fracdet_io::dataset::{Dataset, Split};
use fracdet_model::BackboneKind;
use fracdet_train::{
    ClassifierConfig, DatasetSource, EpochMetrics, InputSpec, SampleSource, Skipped, Start,
    StopFlag, StopReason, TrainObserver, train_classifier,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Train a fracture / no-fracture image classifier. Writes config.json, metrics.csv,
    /// last.ckpt (resumable) and best.ckpt (best validation AUROC) to the output directory.
    /// Ctrl-C stops at the next step; `--resume DIR` continues exactly where it stopped.
    Classifier(ClassifierArgs),
    /// Train the MPR grid detector: image + the inpainter's residual maps in, a grid of
    /// fracture-cell probabilities and an image probability out (W-BCE on cells and image).
    /// Resumable like the classifier (`--resume DIR`).
    Mpr(super::train_mpr::MprArgs),
    /// Train the MPR healthy-bone inpainter on non-fractured images: masked squares re-drawn
    /// (masked L1 + local/global GAN); val L1/PSNR against a blur fill in metrics.csv, a
    /// sample grid per epoch. Resumable like the classifier (`--resume DIR`).
    Inpainter(super::train_inpainter::InpainterArgs),
}

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
    /// Threads for decoding and compute (default: all cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Continue the run in this directory from its last.ckpt, with its saved configuration.
    /// Every setting comes from that configuration: a training flag given with it is refused
    /// (only --workers, and --epochs when it repeats the run's own count).
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["data", "backbone", "out", "pretrained", "size", "batch", "lr", "weight_decay", "warmup_epochs", "freeze_epochs", "pos_weight", "patience", "no_augment", "acquisition_augment", "seed"])]
    pub resume: Option<PathBuf>,
}

pub fn run(cmd: TrainCommand, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    match cmd {
        TrainCommand::Classifier(args) => run_classifier(args, device),
        TrainCommand::Mpr(args) => super::train_mpr::run(args, device),
        TrainCommand::Inpainter(args) => super::train_inpainter::run(args, device),
    }
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
    c.validate()?;
    Ok(c)
}

fn run_classifier(
    args: ClassifierArgs,
    device: crate::device::DeviceChoice,
) -> anyhow::Result<ExitCode> {
    set_workers(args.workers)?;
    let (config, run_dir, start) = match &args.resume {
        Some(dir) => {
            let config = ClassifierConfig::load(dir)?;
            check_resume_epochs(args.epochs, config.epochs, dir)?;
            (config, dir.clone(), Start::Resume)
        }
        None => {
            let out = args.out.clone().context("--out is required")?;
            (config_from_args(&args)?, out, Start::Fresh)
        }
    };
    let (data, dataset) = open_dataset(&config.data)?;
    let train = DatasetSource::new(
        &dataset.split(Split::Train),
        config.input.size,
        config.augment.clone(),
    )?;
    let val = DatasetSource::new(&dataset.split(Split::Val), config.input.size, None)?;
    if train.is_empty() || val.is_empty() {
        bail!(
            "{} needs labelled train and val splits (found {} train, {} val images)",
            data.display(),
            train.len(),
            val.len()
        );
    }
    eprintln!(
        "train: {} images ({} fractured), val: {} images ({} fractured)",
        train.len(),
        train.positives(),
        val.len(),
        val.positives()
    );

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

/// `--workers N`: the size of rayon's global pool (image loading and CPU kernels).
pub(crate) fn set_workers(workers: Option<usize>) -> anyhow::Result<()> {
    if let Some(n) = workers {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .context("cannot set up worker threads")?;
    }
    Ok(())
}

/// The dataset a run's config names, indexed.
pub(crate) fn open_dataset(data: &Option<PathBuf>) -> anyhow::Result<(PathBuf, Dataset)> {
    let data = data
        .clone()
        .context("the run's config names no dataset (config.json field `data`)")?;
    let dataset =
        Dataset::open(&data).with_context(|| format!("cannot index dataset {}", data.display()))?;
    Ok((data, dataset))
}

/// `--epochs N` with `--resume`: the run's epoch count fixes its learning-rate schedule
/// (the cosine ends at the last epoch), so only that count is accepted; any other is refused
/// with one line rather than ignored.
pub(crate) fn check_resume_epochs(
    given: Option<u64>,
    planned: u64,
    run_dir: &Path,
) -> anyhow::Result<()> {
    match given {
        Some(n) if n != planned => bail!(
            "--epochs {n}: {} was planned for {planned} epoch(s) and its learning-rate \
             schedule ends there; a run cannot be extended or cut short, start a new run instead",
            run_dir.display()
        ),
        _ => Ok(()),
    }
}

/// Lists the images a run could not read.
pub(crate) fn report_skipped(skipped: &[Skipped]) {
    if !skipped.is_empty() {
        eprintln!(
            "{} image(s) could not be read and were skipped:",
            skipped.len()
        );
        for s in skipped {
            eprintln!("  {}: {}", s.name, s.reason);
        }
    }
}

/// The closing lines of a run judged by validation AUROC (classifier, MPR): how it ended,
/// its best epoch, and how to continue it when it was interrupted.
pub(crate) fn report_auroc_run(
    stop: StopReason,
    epoch: u64,
    best: Option<(f64, u64)>,
    batches_done: Option<u64>,
    command: &str,
    run_dir: &Path,
) -> ExitCode {
    let best = match best {
        Some((a, e)) => format!("best val AUROC {a:.4} at epoch {}", e + 1),
        None => "no validation score yet".to_string(),
    };
    match stop {
        StopReason::Completed | StopReason::EarlyStopped => {
            let how = if stop == StopReason::Completed {
                "finished"
            } else {
                "stopped early (no better val AUROC)"
            };
            println!(
                "{how} after {epoch} epoch(s); {best}; model in {}",
                run_dir.display()
            );
            ExitCode::SUCCESS
        }
        StopReason::Interrupted => report_interrupted(epoch, batches_done, &best, command, run_dir),
    }
}

/// Says where an interrupted run stopped (`epoch` complete epochs, and `batches_done` of the
/// next when it stopped inside one) and how to continue it with `fracdet train <command>`.
pub(crate) fn report_interrupted(
    epoch: u64,
    batches_done: Option<u64>,
    best: &str,
    command: &str,
    run_dir: &Path,
) -> ExitCode {
    let at = match batches_done {
        Some(b) => format!("in epoch {} after {b} batch(es)", epoch + 1),
        None => format!("after {epoch} complete epoch(s)"),
    };
    eprintln!(
        "interrupted {at}; checkpoint saved; {best}. Continue with:\n  fracdet train {command} --resume {}",
        shell_path(run_dir)
    );
    ExitCode::FAILURE
}

pub(crate) fn shell_path(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// First Ctrl-C (or SIGTERM): finish the current step and stop with a resumable checkpoint.
/// Second: exit at once (last.ckpt from the previous epoch is still whole on disk).
pub(crate) fn install_ctrl_c(stop: &StopFlag) -> anyhow::Result<()> {
    let stop = stop.clone();
    ctrlc::set_handler(move || {
        if stop.is_requested() {
            eprintln!("\nstopping now");
            std::process::exit(130);
        }
        eprintln!("\nstopping after this step (Ctrl-C again to quit at once)");
        stop.request();
    })
    .context("cannot install the Ctrl-C handler")
}

/// Progress bar on stderr (loss, img/s, ETA) and one summary line per epoch.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    interactive: bool,
    batch_size: usize,
    epoch_started: Instant,
    images: usize,
    loss_sum: f64,
    steps: usize,
    /// Non-interactive runs (logs, nohup) get a plain line at most this often instead of a bar.
    last_line: Instant,
    batches: usize,
    epoch_label: String,
}

/// How often a background run writes a progress line to its log.
const LOG_LINE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

impl Progress {
    pub(crate) fn new(batch_size: usize) -> Self {
        Self {
            bar: None,
            interactive: std::io::stderr().is_terminal(),
            batch_size,
            epoch_started: Instant::now(),
            images: 0,
            loss_sum: 0.0,
            steps: 0,
            last_line: Instant::now(),
            batches: 0,
            epoch_label: String::new(),
        }
    }

    pub(crate) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl TrainObserver for Progress {
    fn epoch_started(&mut self, epoch: u64, epochs: u64, batches: usize) {
        self.finish();
        self.epoch_started = Instant::now();
        self.images = 0;
        self.loss_sum = 0.0;
        self.steps = 0;
        self.last_line = Instant::now();
        self.batches = batches;
        self.epoch_label = format!("{}/{epochs}", epoch + 1);
        let bar = if self.interactive {
            ProgressBar::with_draw_target(Some(batches as u64), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) =
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(format!("{}/{epochs}", epoch + 1));
        bar.set_message(format!("batch {}", self.batch_size));
        self.bar = Some(bar);
    }

    fn step_finished(&mut self, loss: &f64, images: usize) {
        let loss = *loss;
        self.images += images;
        self.loss_sum += loss;
        self.steps += 1;
        let elapsed = self.epoch_started.elapsed().as_secs_f64().max(1e-9);
        let rate = self.images as f64 / elapsed;
        let loss = self.loss_sum / self.steps as f64;
        if let Some(bar) = &self.bar {
            bar.set_message(format!("loss {loss:.4} {rate:.1} img/s"));
            bar.inc(1);
        }
        if !self.interactive && self.last_line.elapsed() >= LOG_LINE_EVERY {
            self.last_line = Instant::now();
            let eta = elapsed / self.steps as f64 * self.batches.saturating_sub(self.steps) as f64;
            eprintln!(
                "epoch {} step {}/{}: loss {loss:.4} {rate:.1} img/s, epoch ETA {:.0} min",
                self.epoch_label,
                self.steps,
                self.batches,
                eta / 60.0
            );
        }
    }

    fn validating(&mut self, images: usize) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("validating {images} images"));
        }
    }

    fn skipped(&mut self, s: &Skipped) {
        let line = format!("skipped {}: {}", s.name, s.reason);
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn epoch_finished(&mut self, m: &EpochMetrics, improved: bool) {
        self.finish();
        let auroc = m
            .val_auroc
            .map(|a| format!("{a:.4}"))
            .unwrap_or_else(|| "-".into());
        eprintln!(
            "epoch {:>3}: lr {:.2e} train_loss {:.4} val_loss {:.4} val_auroc {auroc}{} ({:.0}s, {:.1} img/s{})",
            m.epoch + 1,
            m.lr,
            m.train_loss,
            m.val_loss,
            if improved { " *best*" } else { "" },
            m.seconds,
            m.train_images_per_second,
            if m.frozen { ", backbone frozen" } else { "" }
        );
    }
}
