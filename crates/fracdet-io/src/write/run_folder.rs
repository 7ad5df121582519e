//! The folder one `fracdet detect` run writes its results into, and the rule that a run
//! never silently replaces another's.
//!
//! Policy: a folder that already holds results is **refused**, unless the user asks for
//! `replace`, and then only when the folder carries fracdet's own marker, so that what is
//! removed is exactly what an earlier run wrote. Refusing (rather than a new timestamped
//! folder per run, or appending rows) keeps one run = one folder = one `results.csv`
//! whose rows and overlays agree, which is what a reader of the folder assumes; a clinic
//! that wants history names a folder per run.
//!
//! The marker ([`crate::walk::OUTPUT_MARKER`]) also says how the run ended (`running`,
//! `complete`, `interrupted`), so an interrupted run is never mistaken for a complete one,
//! and it keeps later walks over a parent folder out of the results.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::walk::{OUTPUT_MARKER, display_path};
use crate::write::write_file_atomic;

/// The results files and folders a run writes, and the only things `replace` removes.
pub const RESULT_FILES: [&str; 4] = [
    "results.csv",
    "results.jsonl",
    "studies.csv",
    "studies.jsonl",
];
/// Sub-folders a run writes.
pub const RESULT_FOLDERS: [&str; 2] = ["overlays", "dicom"];

/// How a run stands, as written in the marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Complete,
    Interrupted,
}

/// The marker's content: how the run ended and how far it got. No file names, so no
/// patient data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub tool: String,
    pub version: String,
    pub status: RunStatus,
    pub images_total: usize,
    pub images_done: usize,
    pub model: String,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
}

/// Why a run folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RunFolderError {
    #[error(
        "{path} already holds the results of an earlier run ({status}); choose another --out, or pass --replace to remove them first"
    )]
    EarlierRun { path: String, status: String },
    #[error(
        "{path} holds {file} that fracdet did not mark as its own; choose another --out (nothing was removed)"
    )]
    ForeignResults { path: String, file: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] crate::IoError),
}

fn io(path: &Path, source: std::io::Error) -> RunFolderError {
    RunFolderError::Io {
        path: display_path(path),
        source,
    }
}

/// A claimed results folder: created, cleared of an earlier run only when asked, marked.
#[derive(Debug)]
pub struct RunFolder {
    dir: PathBuf,
    record: RunRecord,
}

impl RunFolder {
    /// Claims `dir` for a new run: refuses a folder holding an earlier run's results
    /// unless `replace`, and removes them (only the files a run writes) when it is.
    pub fn claim(dir: &Path, replace: bool, record: RunRecord) -> Result<Self, RunFolderError> {
        let marker = dir.join(OUTPUT_MARKER);
        let earlier = fs::read(&marker)
            .ok()
            .map(|b| serde_json::from_slice::<RunRecord>(&b).ok());
        match earlier {
            Some(prior) if !replace => {
                let status = match prior {
                    Some(r) => format!(
                        "{}, {} of {} images",
                        status_word(r.status),
                        r.images_done,
                        r.images_total
                    ),
                    None => "marker unreadable".into(),
                };
                return Err(RunFolderError::EarlierRun {
                    path: display_path(dir),
                    status,
                });
            }
            Some(_) => clear(dir)?,
            None => {
                if let Some(file) = RESULT_FILES
                    .iter()
                    .chain(RESULT_FOLDERS.iter())
                    .find(|f| dir.join(f).exists())
                {
                    // Results without our marker: written by an older fracdet or by hand.
                    return Err(RunFolderError::ForeignResults {
                        path: display_path(dir),
                        file: (*file).to_string(),
                    });
                }
            }
        }
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let folder = Self {
            dir: dir.to_path_buf(),
            record,
        };
        folder.write()?;
        Ok(folder)
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records progress (`images_done`) and the status, atomically.
    pub fn update(&mut self, status: RunStatus, images_done: usize) -> Result<(), RunFolderError> {
        self.record.status = status;
        self.record.images_done = images_done;
        self.write()
    }

    fn write(&self) -> Result<(), RunFolderError> {
        let json = serde_json::to_vec_pretty(&self.record).map_err(|e| {
            io(
                &self.dir.join(OUTPUT_MARKER),
                std::io::Error::other(e.to_string()),
            )
        })?;
        write_file_atomic(&self.dir.join(OUTPUT_MARKER), &json, true)?;
        Ok(())
    }
}

fn status_word(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "running or killed",
        RunStatus::Complete => "complete",
        RunStatus::Interrupted => "interrupted",
    }
}

/// Removes what a run writes, and nothing else the user may have put there.
fn clear(dir: &Path) -> Result<(), RunFolderError> {
    for f in RESULT_FILES {
        let p = dir.join(f);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&p, e)),
            _ => {}
        }
    }
    for f in RESULT_FOLDERS {
        let p = dir.join(f);
        match fs::remove_dir_all(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&p, e)),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RunRecord {
        RunRecord {
            tool: "fracdet detect".into(),
            version: "test".into(),
            status: RunStatus::Running,
            images_total: 3,
            images_done: 0,
            model: "m".into(),
            started_unix: 0,
        }
    }

    #[test]
    fn a_second_run_is_refused_then_replaces_only_with_replace() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut first = RunFolder::claim(&out, false, record()).unwrap();
        fs::write(out.join("results.csv"), "a\nb\n").unwrap();
        fs::create_dir_all(out.join("overlays")).unwrap();
        fs::write(out.join("overlays/x.png"), "o").unwrap();
        fs::write(out.join("notes.txt"), "mine").unwrap();
        first.update(RunStatus::Complete, 3).unwrap();

        let err = RunFolder::claim(&out, false, record()).unwrap_err();
        assert!(matches!(err, RunFolderError::EarlierRun { .. }), "{err}");
        assert!(err.to_string().contains("complete, 3 of 3"), "{err}");
        assert_eq!(
            fs::read_to_string(out.join("results.csv")).unwrap(),
            "a\nb\n"
        );

        RunFolder::claim(&out, true, record()).unwrap();
        assert!(!out.join("results.csv").exists());
        assert!(!out.join("overlays").exists());
        assert_eq!(fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
        let marker: RunRecord =
            serde_json::from_slice(&fs::read(out.join(OUTPUT_MARKER)).unwrap()).unwrap();
        assert_eq!(marker.status, RunStatus::Running);
    }

    #[test]
    fn unmarked_results_are_never_removed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("results.jsonl"), "{}\n").unwrap();
        for replace in [false, true] {
            let err = RunFolder::claim(dir.path(), replace, record()).unwrap_err();
            assert!(
                matches!(err, RunFolderError::ForeignResults { .. }),
                "{err}"
            );
        }
        assert!(dir.path().join("results.jsonl").exists());
        assert!(!dir.path().join(OUTPUT_MARKER).exists());
    }
}
