//! Turning the paths on a command line into the image files to process.

use std::path::{Path, PathBuf};

use anyhow::Context;
use fracdet_io::walk::{SkipReason, Skipped, WalkOptions, display_path, walk};

/// What the command-line paths hold: the files to read, and what was passed over.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Files as given, then the image files under each folder given, each folder's sorted.
    pub files: Vec<PathBuf>,
    /// Links leaving an input folder, loops, pipes, devices, fracdet's own output folders.
    pub skipped: Vec<Skipped>,
}

impl Inputs {
    /// Skipped paths that may have held a radiograph (see [`SkipReason::loses_input`]).
    pub fn lost(&self) -> usize {
        self.skipped
            .iter()
            .filter(|s| s.reason.loses_input())
            .count()
    }

    /// Names each skipped path on stderr, one line each.
    pub fn report_skipped(&self) {
        for s in &self.skipped {
            let what = if s.reason.loses_input() {
                "not read"
            } else {
                "note"
            };
            eprintln!("{what}: {s}");
        }
    }
}

/// Files as given, and image files under the folders given (see [`fracdet_io::walk`]).
/// Anything under `exclude` (this run's output folder) is skipped as well as any folder an
/// earlier run wrote, so a run over `.` never reads overlays as radiographs.
pub fn collect_files(inputs: &[PathBuf], exclude: Option<&Path>) -> anyhow::Result<Inputs> {
    let exclude = exclude.and_then(|p| p.canonicalize().ok());
    let mut found = Inputs::default();
    for input in inputs {
        if input.is_dir() {
            let accept = |p: &Path| {
                is_image_name(p)
                    && !exclude
                        .as_deref()
                        .is_some_and(|x| p.canonicalize().is_ok_and(|c| c.starts_with(x)))
            };
            let w = walk(input, WalkOptions::default(), &accept)
                .with_context(|| format!("cannot list {}", display_path(input)))?;
            found.files.extend(w.files);
            found.skipped.extend(w.skipped);
        } else if let Some(reason) = SkipReason::of_named_path(input) {
            // A pipe named scan.dcm would block the reader forever.
            found.skipped.push(Skipped {
                path: input.clone(),
                reason,
            });
        } else {
            // Missing files stay in the list: they are reported as failed rows.
            found.files.push(input.clone());
        }
    }
    Ok(found)
}

fn is_image_name(path: &Path) -> bool {
    let Some(name) = path.file_name() else {
        return false;
    };
    match path.extension() {
        Some(ext) => ["png", "jpg", "jpeg", "dcm", "dicom"]
            .contains(&ext.to_string_lossy().to_ascii_lowercase().as_str()),
        // DICOM files often have no extension; hidden files (".DS_Store") are not images.
        None => !name.as_encoded_bytes().starts_with(b"."),
    }
}
