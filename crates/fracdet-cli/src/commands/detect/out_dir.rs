//! Which `--out` folders `detect` accepts, and claiming one for a run.

use std::path::{Path, PathBuf};

use fracdet_io::write::run_folder::{RunFolder, RunFolderError, RunRecord, RunStatus};

use crate::usage::usage;

/// Claims `out` for this run: refused when it holds an earlier run's results, unless
/// `replace` (see `fracdet_io::write::run_folder` for why refusing is the policy).
pub fn claim(out: &Path, replace: bool, total: usize, model: &str) -> anyhow::Result<RunFolder> {
    let record = RunRecord {
        tool: "fracdet detect".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        status: RunStatus::Running,
        images_total: total,
        images_done: 0,
        model: model.to_string(),
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    match RunFolder::claim(out, replace, record) {
        Ok(f) => Ok(f),
        Err(e @ (RunFolderError::EarlierRun { .. } | RunFolderError::ForeignResults { .. })) => {
            usage(e.to_string())
        }
        Err(e) => Err(e.into()),
    }
}

/// Refuses an output folder that holds inputs: results go beside a study's files only when
/// asked for by name, never by default and never over them. An `--out` further down an
/// input folder is accepted: this run skips it, and its marker keeps later runs out too.
pub fn check(out: &Path, inputs: &[PathBuf]) -> anyhow::Result<()> {
    let Ok(out) = out.canonicalize() else {
        return Ok(()); // does not exist yet, so holds nothing
    };
    for input in inputs {
        let Ok(input) = input.canonicalize() else {
            continue;
        };
        let folder = if input.is_dir() {
            Some(input.as_path())
        } else {
            input.parent()
        };
        if folder == Some(out.as_path()) {
            return usage(format!(
                "--out {} holds input files; choose a separate output folder",
                out.display()
            ));
        }
    }
    Ok(())
}
