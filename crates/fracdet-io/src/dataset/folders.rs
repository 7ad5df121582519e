//! The folder-per-class layout: `ROOT/<split>/<class>/…`.

use std::path::{Path, PathBuf};

use super::{Issue, Sample, SampleMeta, Split, looks_like_image};
use crate::walk::{WalkOptions, walk};
use crate::{IoError, Result};

/// The label a class folder name stands for, case-insensitively, with `_` and `-` read as
/// spaces: `fractured`/`positive`/`abnormal` -> true, `not fractured`/`normal`/`negative`
/// -> false.
pub(crate) fn class_label(name: &str) -> Option<bool> {
    let norm: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == '_' || c == '-' { ' ' } else { c })
        .collect();
    match norm
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .as_str()
    {
        "fractured" | "fracture" | "positive" | "abnormal" => Some(true),
        "not fractured" | "non fractured" | "nonfractured" | "normal" | "negative" => Some(false),
        _ => None,
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<(PathBuf, std::fs::FileType)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| IoError::io(dir, e))? {
        let entry = entry.map_err(|e| IoError::io(dir, e))?;
        // Follow symlinks for the type, so linked files and folders count.
        let path = entry.path();
        let ft = match std::fs::metadata(&path) {
            Ok(m) => m.file_type(),
            Err(_) => entry.file_type().map_err(|e| IoError::io(&path, e))?,
        };
        out.push((path, ft));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Every image file under `dir`, recursively, sorted; whatever the walk passed over (links
/// leaving the class folder, loops, pipes) becomes an issue.
fn images_under(dir: &Path, out: &mut Vec<PathBuf>, issues: &mut Vec<Issue>) -> Result<()> {
    let found =
        walk(dir, WalkOptions::default(), &looks_like_image).map_err(|e| IoError::io(dir, e))?;
    out.extend(found.files);
    issues.extend(found.skipped.into_iter().map(Issue::from));
    Ok(())
}

pub(crate) fn load(root: &Path) -> Result<(Vec<Sample>, Vec<Issue>)> {
    let mut samples = Vec::new();
    let mut issues = Vec::new();
    for (split_dir, ft) in read_dir_sorted(root)? {
        let Some(split) = split_dir
            .file_name()
            .and_then(|n| Split::parse(&n.to_string_lossy()))
        else {
            continue;
        };
        if !ft.is_dir() {
            continue;
        }
        for (entry, ft) in read_dir_sorted(&split_dir)? {
            if ft.is_dir() {
                let name = entry
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                match class_label(&name) {
                    Some(label) => {
                        let mut files = Vec::new();
                        images_under(&entry, &mut files, &mut issues)?;
                        samples.extend(files.into_iter().map(|image| Sample {
                            image,
                            split,
                            label: Some(label),
                            boxes: Vec::new(),
                            meta: SampleMeta::default(),
                        }));
                    }
                    None => issues.push(Issue::UnknownClassFolder { folder: entry }),
                }
            } else if ft.is_file() && looks_like_image(&entry) {
                issues.push(Issue::UnlabelledImage { image: entry });
            }
        }
    }
    Ok((samples, issues))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names() {
        for n in [
            "fractured",
            "Fractured",
            "POSITIVE",
            "abnormal",
            " Fracture ",
        ] {
            assert_eq!(class_label(n), Some(true), "{n}");
        }
        for n in [
            "not fractured",
            "Not_Fractured",
            "not-fractured",
            "NORMAL",
            "negative",
            "not  fractured",
        ] {
            assert_eq!(class_label(n), Some(false), "{n}");
        }
        for n in ["unknown", "fractures?", "", "images"] {
            assert_eq!(class_label(n), None, "{n}");
        }
    }
}
