//! Turning the paths on a command line into the image files to process.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Files as given, and image files under the folders given (recursively, each folder's
/// sorted by path). Anything under `exclude` (the output folder) is skipped, so a second
/// run over `.` does not read the first run's overlays as radiographs.
pub fn collect_files(inputs: &[PathBuf], exclude: Option<&Path>) -> anyhow::Result<Vec<PathBuf>> {
    let exclude = exclude.and_then(|p| p.canonicalize().ok());
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found = Vec::new();
            walk(input, exclude.as_deref(), &mut found)?;
            found.sort();
            files.extend(found);
        } else {
            // Missing files stay in the list: they are reported as failed rows.
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, exclude: Option<&Path>, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if exclude.is_some_and(|x| dir.canonicalize().is_ok_and(|d| d == x)) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if path.is_dir() {
            walk(&path, exclude, out)?;
        } else if is_image_name(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn is_image_name(path: &Path) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => {
            ["png", "jpg", "jpeg", "dcm", "dicom"].contains(&ext.to_ascii_lowercase().as_str())
        }
        // DICOM files often have no extension; hidden files (".DS_Store") are not images.
        None => !path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.')),
    }
}

/// A CSV field, quoted when it must be.
pub fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}
