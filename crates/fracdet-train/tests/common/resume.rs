//! One check for every model kind: a run stopped (between steps, inside or at the end of
//! an epoch) and resumed, possibly several times, ends exactly where a straight run ends.

use std::path::{Path, PathBuf};

use fracdet_train::checkpoint::METRICS_FILE;
use fracdet_train::{Outcome, Start, StopFlag, StopReason, TrainObserver};

/// Requests a stop after `after` more training steps (never when `after` is 0).
pub struct StopAfterSteps {
    pub after: usize,
    pub flag: StopFlag,
}

impl StopAfterSteps {
    pub fn new(after: usize) -> Self {
        Self {
            after,
            flag: StopFlag::new(),
        }
    }
}

impl<L, R> TrainObserver<L, R> for StopAfterSteps {
    fn step_finished(&mut self, _losses: &L, _images: usize) {
        if self.after > 0 {
            self.after -= 1;
            if self.after == 0 {
                self.flag.request();
            }
        }
    }
}

/// The two runs of a stop-and-resume check.
pub struct Pieces<S> {
    pub straight: PathBuf,
    pub resumed: PathBuf,
    /// The straight run's outcome.
    pub straight_out: Outcome<S>,
    /// Each interrupted call's outcome, in order, then the final one.
    pub piece_outs: Vec<Outcome<S>>,
}

/// Trains `root/straight` in one call, and `root/resumed` stopped after each of `stops`
/// steps in turn (each stop a separate call, the first fresh, the rest resumed), then
/// resumed to the end. Asserts that every piece but the last was interrupted, that the
/// last and the straight run completed, and that their metrics.csv files are equal but for
/// the wall-clock columns.
///
/// `train(run_dir, start, first, observer)` is one call of a kind's training function:
/// with a network that has the straight run's initial weights when `first` (the first
/// call into a directory), a freshly initialised one otherwise (everything must then come
/// from the checkpoint), watched by `observer` and stopped by `observer.flag`.
pub fn straight_and_in_pieces<S>(
    root: &Path,
    stops: &[usize],
    mut train: impl FnMut(&Path, Start, bool, &mut StopAfterSteps) -> Outcome<S>,
) -> Pieces<S> {
    let straight = root.join("straight");
    let straight_out = train(&straight, Start::Fresh, true, &mut StopAfterSteps::new(0));
    assert_eq!(straight_out.stop, StopReason::Completed);

    let resumed = root.join("resumed");
    let mut piece_outs = Vec::new();
    for (k, &steps) in stops.iter().chain([&0]).enumerate() {
        let start = if k == 0 { Start::Fresh } else { Start::Resume };
        let mut observer = StopAfterSteps::new(steps);
        let out = train(&resumed, start, k == 0, &mut observer);
        let expected = if steps > 0 {
            StopReason::Interrupted
        } else {
            StopReason::Completed
        };
        assert_eq!(out.stop, expected, "call {k} (stop after {steps} steps)");
        piece_outs.push(out);
    }
    let rows = deterministic_rows(&straight);
    assert!(rows.len() > 1, "the straight run recorded epochs");
    assert_eq!(rows, deterministic_rows(&resumed), "metrics.csv differs");
    Pieces {
        straight,
        resumed,
        straight_out,
        piece_outs,
    }
}

/// The rows of `run`'s metrics.csv (header included) without the wall-clock columns.
pub fn deterministic_rows(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join(METRICS_FILE)).unwrap();
    let header = text.lines().next().unwrap();
    let keep: Vec<bool> = header
        .split(',')
        .map(|c| !matches!(c, "seconds" | "train_images_per_second"))
        .collect();
    text.lines()
        .map(|l| {
            l.split(',')
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(c, _)| c)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

/// Asserts that two checkpoints' burnpack sections (models and optimizer states, as a
/// kind's loader lists them, in the same order) hold the same tensors and scalars, and
/// that none of them is empty.
pub fn assert_same_sections(what: &[&str], a: &[Vec<u8>], b: &[Vec<u8>]) {
    assert_eq!(a.len(), what.len());
    assert_eq!(b.len(), what.len());
    for ((name, x), y) in what.iter().zip(a).zip(b) {
        assert!(!x.is_empty(), "{name} was saved");
        let (cx, cy) = (super::optimizer_contents(x), super::optimizer_contents(y));
        assert!(!cx.0.is_empty(), "{name} has tensors");
        assert!(
            cx == cy,
            "{name} differs between the straight and the resumed run"
        );
    }
}
