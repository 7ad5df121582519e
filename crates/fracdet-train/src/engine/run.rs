//! The epoch loop every model kind runs.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use super::EngineConfig;
use super::state::{Partial, RunState};
use super::{Batch, EpochTotals, Outcome, Plan, Slot, Start, TrainKind};
use crate::RunError;
use crate::atomic::write_atomic;
use crate::checkpoint::{BEST_FILE, LAST_FILE, METRICS_FILE, StopReason};
use crate::config::CONFIG_FILE;
use crate::control::{StopFlag, TrainObserver};
use crate::error::{Result, TrainError};
use crate::order::{derive_seed, epoch_order};
use crate::source::Skipped;

/// Train `kind` as the run in `run_dir` describes, saving `last.ckpt` every epoch and
/// `best.ckpt` on every better validation score. When `stop` is requested it finishes the
/// current step, saves a `last.ckpt` that records the position inside the epoch, and
/// returns; resuming from it gives the same result as never stopping.
pub fn train<K: TrainKind>(
    kind: &mut K,
    run_dir: &Path,
    start: Start,
    observer: &mut dyn TrainObserver<K::Losses, K::Row>,
    stop: &StopFlag,
) -> Result<Outcome<K::State>> {
    let plan = kind.plan();
    let last = run_dir.join(LAST_FILE);
    let mut run = match start {
        Start::Fresh => fresh(kind, plan.seed, run_dir, &last)?,
        Start::Resume => resume(kind, run_dir, &last)?,
    };
    let mut skips = Skips::default();
    let mut stopped = run.finished;
    let mut epoch = run.epoch;
    while stopped.is_none() && epoch < plan.epochs {
        stopped = run_epoch(
            kind, &plan, &mut run, epoch, run_dir, observer, stop, &mut skips,
        )?;
        epoch += 1;
    }
    Ok(Outcome {
        // Reached without a reason only when there was nothing to run.
        stop: stopped.unwrap_or(StopReason::Completed),
        state: kind.state(&run),
        skipped: skips.all,
    })
}

/// A new run: refuse an existing one, write `config.json`, an empty `metrics.csv` and a
/// `last.ckpt` before the first step (so that a run stopped in its first epoch resumes too).
fn fresh<K: TrainKind>(
    kind: &mut K,
    seed: u64,
    run_dir: &Path,
    last: &Path,
) -> Result<RunState<K::Row>> {
    if last.exists() {
        return Err(RunError::Config(format!(
            "{} already holds a run; resume it or choose another directory",
            run_dir.display()
        ))
        .into());
    }
    std::fs::create_dir_all(run_dir).map_err(|e| RunError::io(run_dir, e))?;
    kind.fresh()?;
    kind.config().save(run_dir)?;
    let run = RunState::new(seed);
    kind.save(&kind.state(&run), Slot::Initial, last)?;
    write_atomic(&run_dir.join(METRICS_FILE), K::metrics_csv(&[]).as_bytes())?;
    Ok(run)
}

/// Continue the run in `run_dir`, whose `config.json` must equal the kind's.
fn resume<K: TrainKind>(kind: &mut K, run_dir: &Path, last: &Path) -> Result<RunState<K::Row>> {
    let saved = K::Config::load(run_dir)?;
    if &saved != kind.config() {
        return Err(RunError::Config(format!(
            "the configuration differs from {}",
            run_dir.join(CONFIG_FILE).display()
        ))
        .into());
    }
    kind.restore(last)
}

/// Images left out: each reported once per call, for training and validation apart.
#[derive(Default)]
struct Skips {
    reported: BTreeSet<(bool, usize)>,
    all: Vec<Skipped>,
}

impl Skips {
    /// Count `skipped` into the epoch's total and report the ones not seen before.
    fn add<L, R>(
        &mut self,
        training: bool,
        skipped: Vec<Skipped>,
        partial: &mut Partial,
        observer: &mut dyn TrainObserver<L, R>,
    ) {
        for s in skipped {
            partial.skipped += 1;
            if self.reported.insert((training, s.index)) {
                observer.skipped(&s);
                self.all.push(s);
            }
        }
    }
}

/// One epoch (or its rest, after a stop inside it): steps, validation, checkpoints.
/// Returns why the run stops after it, if it does.
#[allow(clippy::too_many_arguments)]
fn run_epoch<K: TrainKind>(
    kind: &mut K,
    plan: &Plan,
    run: &mut RunState<K::Row>,
    epoch: u64,
    run_dir: &Path,
    observer: &mut dyn TrainObserver<K::Losses, K::Row>,
    stop: &StopFlag,
    skips: &mut Skips,
) -> Result<Option<StopReason>> {
    let started = Instant::now();
    let steps_per_epoch = plan.train.len().div_ceil(plan.batch_size) as u64;
    kind.begin_epoch(epoch);
    let order: Vec<usize> = epoch_order(plan.seed, epoch, plan.train.len())
        .into_iter()
        .map(|k| plan.train[k])
        .collect();
    observer.epoch_started(epoch, plan.epochs, steps_per_epoch as usize);
    // A run stopped inside this epoch continues from its next batch with its totals.
    let resumed = run.partial.take().unwrap_or_default();
    let earlier_seconds = resumed.seconds;
    let mut p = resumed.clone();
    let mut lr = kind.lr(epoch * steps_per_epoch);
    for (b, chunk) in order
        .chunks(plan.batch_size)
        .enumerate()
        .skip(resumed.batches_done as usize)
    {
        if stop.is_requested() {
            // Save between steps: models, optimizers and where in the epoch we are.
            p.batches_done = b as u64;
            p.seconds = earlier_seconds + started.elapsed().as_secs_f64();
            run.partial = Some(p);
            kind.save(&kind.state(run), Slot::Last, &run_dir.join(LAST_FILE))?;
            return Ok(Some(StopReason::Interrupted));
        }
        let step = epoch * steps_per_epoch + b as u64;
        plan.device.seed(derive_seed(
            plan.seed,
            &[plan.device_purpose, epoch, b as u64],
        ));
        let step_started = Instant::now();
        let batch = Batch {
            epoch,
            step,
            indices: chunk,
            seed: plan.seed,
            augment: plan.augment,
        };
        let stepped = kind.step(&batch)?;
        skips.add(true, stepped.skipped, &mut p, observer);
        lr = kind.lr(step);
        run.global_step = step + 1;
        let Some(done) = stepped.done else { continue };
        if p.sums.len() < done.means.len() {
            p.sums.resize(done.means.len(), 0.0);
        }
        for (sum, mean) in p.sums.iter_mut().zip(&done.means) {
            *sum += mean * done.images as f64;
        }
        p.images += done.images as u64;
        p.train_seconds += step_started.elapsed().as_secs_f64();
        observer.step_finished(&done.report, done.images);
    }
    if p.images == 0 {
        return Err(TrainError::Data(format!(
            "no training image of epoch {} could be used ({} skipped)",
            epoch + 1,
            p.skipped
        )));
    }

    observer.validating(plan.val_images);
    let valid = kind.validate(epoch, run_dir)?;
    skips.add(false, valid.skipped, &mut p, observer);
    let improved = valid
        .score
        .is_some_and(|s| run.best_score.is_none_or(|best| s > best));
    if improved {
        run.best_score = valid.score;
        run.best_epoch = Some(epoch);
        run.epochs_without_improvement = 0;
    } else {
        run.epochs_without_improvement += 1;
    }
    let images = p.images as f64;
    let row = kind.row(
        EpochTotals {
            epoch,
            lr,
            means: p.sums.iter().map(|s| s / images).collect(),
            seconds: earlier_seconds + started.elapsed().as_secs_f64(),
            images_per_second: if p.train_seconds > 0.0 {
                images / p.train_seconds
            } else {
                0.0
            },
            skipped: p.skipped,
        },
        valid.measured,
    );
    run.history.push(row.clone());
    run.epoch = epoch + 1;
    if plan
        .patience
        .is_some_and(|limit| run.epochs_without_improvement >= limit)
    {
        run.finished = Some(StopReason::EarlyStopped);
    } else if run.epoch >= plan.epochs {
        run.finished = Some(StopReason::Completed);
    }

    // best before last: a crash in between redoes this epoch and rewrites the same best.
    let state = kind.state(run);
    if improved {
        kind.save(&state, Slot::Best, &run_dir.join(BEST_FILE))?;
    }
    kind.save(&state, Slot::Last, &run_dir.join(LAST_FILE))?;
    write_atomic(
        &run_dir.join(METRICS_FILE),
        K::metrics_csv(&run.history).as_bytes(),
    )?;
    observer.epoch_finished(&row, improved);
    Ok(run
        .finished
        .or_else(|| stop.is_requested().then_some(StopReason::Interrupted)))
}
