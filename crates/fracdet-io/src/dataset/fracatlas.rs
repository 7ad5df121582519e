//! The FracAtlas layout: `labels.csv`, optional `boxes.csv`, `images/`.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use super::{Issue, Sample, SampleMeta, Split, View, looks_like_image};
use crate::walk::{WalkOptions, walk};
use crate::{BBox, IoError, Result};

pub(crate) const LABELS: &str = "labels.csv";
pub(crate) const BOXES: &str = "boxes.csv";
pub(crate) const IMAGES: &str = "images";

/// The regions FracAtlas flags, in its column order.
pub const BODY_PARTS: [&str; 4] = ["hand", "leg", "hip", "shoulder"];

/// A CSV table with columns looked up by header name.
struct Table {
    path: PathBuf,
    reader: csv::Reader<std::fs::File>,
    columns: HashMap<String, usize>,
}

impl Table {
    fn open(path: PathBuf) -> Result<Table> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(false)
            .from_path(&path)
            .map_err(|e| csv_error(&path, e))?;
        let headers = reader.headers().map_err(|e| csv_error(&path, e))?;
        let columns = headers
            .iter()
            .enumerate()
            // A UTF-8 BOM (Excel exports) would otherwise hide the first column name.
            .map(|(i, h)| (h.trim_start_matches('\u{feff}').to_ascii_lowercase(), i))
            .collect();
        Ok(Table {
            path,
            reader,
            columns,
        })
    }

    fn require(&self, name: &str) -> Result<usize> {
        self.columns
            .get(name)
            .copied()
            .ok_or_else(|| IoError::Table {
                path: self.path.clone(),
                line: 1,
                reason: format!("missing column {name:?}"),
            })
    }

    fn rows(&mut self) -> impl Iterator<Item = Result<(u64, csv::StringRecord)>> + '_ {
        let path = self.path.clone();
        self.reader.records().map(move |r| {
            let rec = r.map_err(|e| csv_error(&path, e))?;
            let line = rec.position().map_or(0, |p| p.line());
            Ok((line, rec))
        })
    }
}

fn csv_error(path: &Path, e: csv::Error) -> IoError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => IoError::io(path, source),
        kind => IoError::Table {
            path: path.to_path_buf(),
            line,
            reason: format!("{kind:?}"),
        },
    }
}

fn bad(path: &Path, line: u64, reason: String) -> IoError {
    IoError::Table {
        path: path.to_path_buf(),
        line,
        reason,
    }
}

/// A 0/1 flag; empty means unknown.
fn flag(path: &Path, line: u64, column: &str, value: &str) -> Result<Option<bool>> {
    match value {
        "" => Ok(None),
        "0" | "false" | "False" | "FALSE" => Ok(Some(false)),
        "1" | "true" | "True" | "TRUE" => Ok(Some(true)),
        other => Err(bad(
            path,
            line,
            format!("column {column}: expected 0 or 1, got {other:?}"),
        )),
    }
}

/// An image name from the table must stay inside `images/`.
fn image_name(path: &Path, line: u64, name: &str) -> Result<PathBuf> {
    let p = PathBuf::from(name);
    let safe = !name.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if safe {
        Ok(p)
    } else {
        Err(bad(
            path,
            line,
            format!("image name {name:?} is empty or leaves images/"),
        ))
    }
}

pub(crate) fn load(root: &Path) -> Result<(Vec<Sample>, Vec<Issue>)> {
    let mut issues = Vec::new();
    let images_dir = root.join(IMAGES);
    // The regular image files under images/, found once by the walk that refuses links out
    // of the tree, loops and pipes; a label row is matched against these, never opened blind.
    let (on_disk, skipped) = if images_dir.is_dir() {
        let w = walk(&images_dir, WalkOptions::default(), &looks_like_image)
            .map_err(|e| IoError::io(&images_dir, e))?;
        (w.files, w.skipped)
    } else {
        (Vec::new(), Vec::new())
    };
    let on_disk_set: HashSet<&Path> = on_disk.iter().map(PathBuf::as_path).collect();
    let skipped_set: HashSet<&Path> = skipped.iter().map(|s| s.path.as_path()).collect();
    let mut table = Table::open(root.join(LABELS))?;
    let image_col = table.require("image")?;
    let label_col = table.require("fractured")?;
    let split_col = table.require("split")?;
    let col = |t: &Table, name: &str| t.columns.get(name).copied();
    let part_cols: Vec<(&str, usize)> = BODY_PARTS
        .iter()
        .filter_map(|p| col(&table, p).map(|c| (*p, c)))
        .collect();
    let mixed_col = col(&table, "mixed");
    let hardware_col = col(&table, "hardware");
    let multiscan_col = col(&table, "multiscan");
    let view_cols: Vec<(View, usize)> = [
        ("frontal", View::Frontal),
        ("lateral", View::Lateral),
        ("oblique", View::Oblique),
    ]
    .into_iter()
    .filter_map(|(n, v)| col(&table, n).map(|c| (v, c)))
    .collect();
    let (width_col, height_col) = (col(&table, "width"), col(&table, "height"));
    let group_col = col(&table, "group");

    let mut samples: Vec<Sample> = Vec::new();
    // Image name -> index into `samples` (None when the file is missing).
    let mut by_name: HashMap<String, Option<usize>> = HashMap::new();
    let labels_path = table.path.clone();
    for row in table.rows() {
        let (line, rec) = row?;
        let get = |c: usize| rec.get(c).unwrap_or("");
        let name = get(image_col).to_string();
        let rel = image_name(&labels_path, line, &name)?;
        let label = flag(&labels_path, line, "fractured", get(label_col))?;
        let split = Split::parse(get(split_col)).ok_or_else(|| {
            bad(
                &labels_path,
                line,
                format!("unknown split {:?}", get(split_col)),
            )
        })?;
        let opt_flag = |c: Option<usize>, n: &str| -> Result<Option<bool>> {
            c.map_or(Ok(None), |c| flag(&labels_path, line, n, get(c)))
        };
        let mut parts = Vec::new();
        for &(p, c) in &part_cols {
            if flag(&labels_path, line, p, get(c))? == Some(true) {
                parts.push(p);
            }
        }
        let mixed = opt_flag(mixed_col, "mixed")? == Some(true);
        let body_part = match parts.as_slice() {
            _ if mixed || parts.len() > 1 => Some("mixed".to_string()),
            [one] => Some(one.to_string()),
            _ => None,
        };
        let mut views = Vec::new();
        for &(v, c) in &view_cols {
            if flag(&labels_path, line, "view", get(c))? == Some(true) {
                views.push(v);
            }
        }
        let dim = |c: Option<usize>, n: &str| -> Result<Option<u32>> {
            match c.map(get) {
                None | Some("") => Ok(None),
                Some(v) => v.parse::<u32>().map(Some).map_err(|_| {
                    bad(
                        &labels_path,
                        line,
                        format!("column {n}: not a pixel count: {v:?}"),
                    )
                }),
            }
        };
        let declared_size = match (dim(width_col, "width")?, dim(height_col, "height")?) {
            (Some(w), Some(h)) => Some((w, h)),
            _ => None,
        };
        let meta = SampleMeta {
            body_part,
            regions: parts.iter().map(|p| p.to_string()).collect(),
            hardware: opt_flag(hardware_col, "hardware")?,
            multiscan: opt_flag(multiscan_col, "multiscan")?,
            views,
            group: group_col
                .map(|c| get(c).to_string())
                .filter(|g| !g.is_empty()),
            declared_size,
        };
        if by_name.contains_key(&name) {
            issues.push(Issue::DuplicateLabel {
                table: labels_path.clone(),
                line,
                image: name,
            });
            continue;
        }
        let image = images_dir.join(&rel);
        if skipped_set.contains(image.as_path()) {
            // Reported below with the reason the walk gave.
            by_name.insert(name, None);
        } else if on_disk_set.contains(image.as_path()) {
            by_name.insert(name, Some(samples.len()));
            samples.push(Sample {
                image,
                split,
                label,
                boxes: Vec::new(),
                meta,
            });
        } else {
            by_name.insert(name, None);
            issues.push(Issue::MissingImage {
                table: labels_path.clone(),
                line,
                image,
            });
        }
    }

    let boxes_path = root.join(BOXES);
    if boxes_path.is_file() {
        let mut boxes = Table::open(boxes_path.clone())?;
        let cols = ["image", "x_min", "y_min", "x_max", "y_max"].map(|n| boxes.require(n));
        let [image_c, x0_c, y0_c, x1_c, y1_c] = cols;
        let (image_c, x0_c, y0_c, x1_c, y1_c) = (image_c?, x0_c?, y0_c?, x1_c?, y1_c?);
        for row in boxes.rows() {
            let (line, rec) = row?;
            let get = |c: usize| rec.get(c).unwrap_or("");
            let name = get(image_c).to_string();
            let num = |c: usize| -> Result<f32> {
                get(c)
                    .parse::<f32>()
                    .map_err(|_| bad(&boxes_path, line, format!("not a coordinate: {:?}", get(c))))
            };
            let bbox = BBox::new(num(x0_c)?, num(y0_c)?, num(x1_c)?, num(y1_c)?);
            match by_name.get(&name) {
                None => issues.push(Issue::BoxWithoutLabel {
                    table: boxes_path.clone(),
                    line,
                    image: name,
                }),
                Some(None) => {} // image missing: already reported
                Some(Some(i)) => {
                    if !bbox.is_valid() {
                        issues.push(Issue::InvalidBox {
                            table: boxes_path.clone(),
                            line,
                            image: name,
                            bbox,
                        });
                    } else if samples[*i].label == Some(false) {
                        issues.push(Issue::BoxOnNegative {
                            table: boxes_path.clone(),
                            line,
                            image: name,
                        });
                    } else {
                        samples[*i].boxes.push(bbox);
                    }
                }
            }
        }
    }

    // Images on disk that no row labels.
    let listed: HashSet<PathBuf> = samples.iter().map(|s| s.image.clone()).collect();
    let mut unlabelled: Vec<PathBuf> = on_disk
        .iter()
        .filter(|p| !listed.contains(*p))
        .filter(|p| {
            // A missing-image row whose file name differs only by our join is not "unlabelled".
            p.file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| !by_name.contains_key(n))
        })
        .cloned()
        .collect();
    unlabelled.sort();
    issues.extend(
        unlabelled
            .into_iter()
            .map(|image| Issue::UnlabelledImage { image }),
    );
    issues.extend(skipped.into_iter().map(Issue::from));
    Ok((samples, issues))
}
