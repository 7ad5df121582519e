//! What the reader saw in a radiograph file, as `fracdet inspect` reports it: technical
//! attributes only, never patient-identifying DICOM values (the reader does not keep them).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::read::transfer_syntax_name;
use crate::walk::display_path;
use crate::{Photometric, Radiograph, Window};

/// One file's line of the report, in the units the reader saw.
#[derive(Debug, Serialize)]
pub struct Seen {
    /// The path as given; bytes that are not UTF-8 as `\xNN`, so JSON can always hold it.
    pub file: String,
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub bit_depth: u8,
    pub photometric: &'static str,
    pub window: Option<Window>,
    /// Stored (PNG/JPEG) or modality (DICOM) value range before windowing.
    pub raw_range: (f64, f64),
    /// Range of the [0, 1] grey image handed to the rest of fracdet.
    pub value_range: (f32, f32),
    pub pixel_spacing_mm: Option<(f64, f64)>,
    pub body_part: Option<String>,
    pub transfer_syntax: Option<String>,
    pub transfer_syntax_name: Option<&'static str>,
    pub preview: Option<PathBuf>,
}

impl Seen {
    /// What the reader saw of `file`; no preview yet.
    pub fn new(file: &Path, r: &Radiograph) -> Self {
        let m = &r.meta;
        Self {
            file: display_path(file),
            format: m.format.to_string(),
            width: r.width,
            height: r.height,
            bit_depth: m.bit_depth,
            photometric: match m.photometric {
                Photometric::Monochrome1 => "MONOCHROME1",
                Photometric::Monochrome2 => "MONOCHROME2",
                Photometric::Rgb => "RGB",
            },
            window: m.window,
            raw_range: m.raw_range,
            value_range: r.value_range(),
            pixel_spacing_mm: m.pixel_spacing_mm,
            body_part: m.body_part.clone(),
            transfer_syntax: m.transfer_syntax.clone(),
            transfer_syntax_name: m.transfer_syntax.as_deref().and_then(transfer_syntax_name),
            preview: None,
        }
    }
}

/// The aligned table `fracdet inspect` prints: one row per file, `-` for what a file lacks.
pub fn seen_table(rows: &[&Seen]) -> String {
    let header = [
        "FILE",
        "FORMAT",
        "SIZE",
        "BITS",
        "PHOTOMETRIC",
        "WINDOW C/W",
        "RAW RANGE",
        "VALUE RANGE",
        "SPACING MM",
        "BODY PART",
        "TRANSFER SYNTAX",
    ];
    let dash = || "-".to_string();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|s| {
            vec![
                s.file.clone(),
                s.format.clone(),
                format!("{}x{}", s.width, s.height),
                s.bit_depth.to_string(),
                s.photometric.to_string(),
                s.window
                    .map_or_else(dash, |w| format!("{}/{}", num(w.center), num(w.width))),
                format!("{}..{}", num(s.raw_range.0), num(s.raw_range.1)),
                format!("{:.3}..{:.3}", s.value_range.0, s.value_range.1),
                s.pixel_spacing_mm
                    .map_or_else(dash, |(r, c)| format!("{}x{}", num(r), num(c))),
                s.body_part.clone().unwrap_or_else(dash),
                match (&s.transfer_syntax, s.transfer_syntax_name) {
                    (Some(uid), Some(name)) => format!("{uid} ({name})"),
                    (Some(uid), None) => uid.clone(),
                    (None, _) => dash(),
                },
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: Vec<&str>| {
        let last = cols.len() - 1;
        for (i, (cell, w)) in cols.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push('\n');
    };
    line(header.to_vec());
    for row in &cells {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// Numbers as short as they can be without lying: integers without decimals.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(4095.0), "4095");
        assert_eq!(num(-1.5), "-1.5");
        assert_eq!(num(0.143), "0.143");
    }

    #[test]
    fn table_aligns_columns_and_dashes_what_is_missing() {
        let seen = Seen {
            file: "a.png".into(),
            format: "PNG".into(),
            width: 640,
            height: 480,
            bit_depth: 8,
            photometric: "MONOCHROME2",
            window: None,
            raw_range: (0.0, 255.0),
            value_range: (0.0, 1.0),
            pixel_spacing_mm: None,
            body_part: None,
            transfer_syntax: None,
            transfer_syntax_name: None,
            preview: None,
        };
        let table = seen_table(&[&seen]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("FILE   FORMAT  SIZE     BITS  PHOTOMETRIC"));
        assert!(lines[1].starts_with("a.png  PNG     640x480  8     MONOCHROME2"));
        assert!(lines[1].ends_with("0..255     0.000..1.000  -           -          -"));
    }
}
