//! The closing lines of a training run: what it could not read, how it ended, and how
//! to continue it when it was interrupted.

use std::path::Path;
use std::process::ExitCode;

use fracdet_train::{Skipped, StopReason};

/// Lists the images a run could not read.
pub(super) fn report_skipped(skipped: &[Skipped]) {
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
pub(super) fn report_auroc_run(
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
pub(super) fn report_interrupted(
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

pub(super) fn shell_path(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
