//! What every training progress display does with an epoch: a bar on a terminal, a plain
//! line at most once a minute in a log (nohup, CI), the images per second so far.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use fracdet_train::Skipped;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a background run writes a progress line to its log.
const LOG_LINE_EVERY: Duration = Duration::from_secs(60);

/// One epoch's bar and clock.
pub(super) struct EpochDisplay {
    bar: Option<ProgressBar>,
    interactive: bool,
    started: Instant,
    /// Non-interactive runs get a plain line at most every [`LOG_LINE_EVERY`] instead.
    last_line: Instant,
    images: usize,
    /// Steps done in this epoch.
    pub steps: usize,
    batches: usize,
    label: String,
}

impl EpochDisplay {
    pub fn new() -> Self {
        Self {
            bar: None,
            interactive: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_line: Instant::now(),
            images: 0,
            steps: 0,
            batches: 0,
            label: String::new(),
        }
    }

    /// A fresh bar for epoch `epoch` (0-based) of `epochs`.
    pub fn start(&mut self, epoch: u64, epochs: u64, batches: usize) -> &ProgressBar {
        self.finish();
        self.started = Instant::now();
        self.last_line = Instant::now();
        self.images = 0;
        self.steps = 0;
        self.batches = batches;
        self.label = format!("{}/{epochs}", epoch + 1);
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
        bar.set_prefix(self.label.clone());
        self.bar.insert(bar)
    }

    /// Counts a step of `images`; returns the images per second of the epoch so far.
    pub fn step(&mut self, images: usize) -> f64 {
        self.images += images;
        self.steps += 1;
        self.images as f64 / self.elapsed()
    }

    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64().max(1e-9)
    }

    /// Shows the step's `msg` on the bar and advances it; in a log, a line with it and the
    /// epoch's ETA at most once a minute.
    pub fn show_step(&mut self, msg: String) {
        if !self.interactive && self.last_line.elapsed() >= LOG_LINE_EVERY {
            self.last_line = Instant::now();
            let eta =
                self.elapsed() / self.steps as f64 * self.batches.saturating_sub(self.steps) as f64;
            eprintln!(
                "epoch {} step {}/{}: {msg}, epoch ETA {:.0} min",
                self.label,
                self.steps,
                self.batches,
                eta / 60.0
            );
        }
        if let Some(bar) = &self.bar {
            bar.set_message(msg);
            bar.inc(1);
        }
    }

    pub fn validating(&self, images: usize) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("validating {images} images"));
        }
    }

    /// An image the run could not read, above the bar so the bar stays whole.
    pub fn skipped(&self, s: &Skipped) {
        let line = format!("skipped {}: {}", s.name, s.reason);
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
