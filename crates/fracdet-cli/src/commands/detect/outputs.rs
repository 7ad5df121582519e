//! The files `detect` writes under `--out`: results.jsonl and results.csv, an overlay PNG
//! per image, and with `--dicom-out` the DICOM result set of each DICOM input.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use fracdet_detect::results::{ResultRecord, ResultsCsv, Scope};
use fracdet_detect::{encode_png, render_overlay};
use fracdet_io::walk::{display_path, escape_os_str};
use fracdet_io::{Format, Radiograph};

use super::batch::Item;

/// The files `detect` writes, and the names already handed out in them.
pub struct Outputs {
    dir: PathBuf,
    jsonl: BufWriter<File>,
    csv: ResultsCsv<BufWriter<File>>,
    overlays: Option<PathBuf>,
    /// The DICOM results' folder, with `--dicom-out`.
    pub dicom: Option<PathBuf>,
    /// Named in the DICOM results.
    model: String,
    names: std::sync::Mutex<HashSet<String>>,
}

impl Outputs {
    pub fn create(dir: &Path, overlays: bool, dicom: bool, model: &str) -> anyhow::Result<Self> {
        let open = |name: &str| -> anyhow::Result<BufWriter<File>> {
            let path = dir.join(name);
            Ok(BufWriter::new(File::create(&path).with_context(|| {
                format!("cannot write {}", path.display())
            })?))
        };
        let sub = |on: bool, name: &str| -> anyhow::Result<Option<PathBuf>> {
            if !on {
                return Ok(None);
            }
            let p = dir.join(name);
            std::fs::create_dir_all(&p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            Ok(Some(p))
        };
        let csv = ResultsCsv::new(open("results.csv")?)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            jsonl: open("results.jsonl")?,
            csv,
            overlays: sub(overlays, "overlays")?,
            dicom: sub(dicom, "dicom")?,
            model: model.to_string(),
            names: Default::default(),
        })
    }

    /// An output file name from the input's stem, unique within this run.
    fn unique_name(&self, file: &Path, ext: &str) -> String {
        // Non-UTF-8 bytes as \xNN, then `_` for the backslash: distinct names stay distinct.
        let stem = file
            .file_stem()
            .map(|s| escape_os_str(s).replace('\\', "_"))
            .unwrap_or_else(|| "image".into());
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        let mut name = format!("{stem}.{ext}");
        let mut k = 2;
        while !names.insert(name.clone()) {
            name = format!("{stem}-{k}.{ext}");
            k += 1;
        }
        name
    }

    /// Writes the overlay (and Secondary Capture) of one image and returns its record.
    pub fn record(&self, file: &Path, item: Item) -> ResultRecord {
        let name = display_path(file);
        let (image, d, scope) = match item {
            Item::Found(image, d, scope) => (image, d, scope),
            Item::NotAssessed(image, scope) => return self.not_assessed(file, image, scope),
            Item::Failed(e) => return ResultRecord::failed(name, e),
        };
        let study = (image.meta.format == Format::Dicom)
            .then(|| study_of(file))
            .flatten();
        let mut record = ResultRecord::found(name.clone(), &d, scope, study);
        let wants_dicom = self.dicom.is_some() && image.meta.format == Format::Dicom;
        if self.overlays.is_none() && !wants_dicom {
            return record;
        }
        let overlay = match render_overlay(image, &d) {
            Ok(o) => o,
            Err(e) => {
                let why = format!("{name}: cannot draw overlay: {e}");
                return ResultRecord::failed(name, why);
            }
        };
        if let Some(dir) = &self.overlays {
            let path = dir.join(self.unique_name(file, "png"));
            match encode_png(&overlay)
                .map_err(anyhow::Error::from)
                .and_then(|png| {
                    fracdet_io::write::write_file_atomic(&path, &png, false)
                        .map_err(anyhow::Error::from)
                }) {
                Ok(()) => record.overlay = Some(self.relative(&path)),
                Err(e) => record.error = Some(format!("{name}: cannot write overlay: {e:#}")),
            }
        }
        if let (Some(dir), true) = (&self.dicom, wants_dicom) {
            let paths =
                ["dcm", "sr.dcm", "pr.dcm"].map(|ext| dir.join(self.unique_name(file, ext)));
            let out_of_scope = record.not_assessed.as_ref().map(|s| s.message.clone());
            match super::dicom::write(file, image, &d, &overlay, out_of_scope, &self.model, paths) {
                Ok(w) => {
                    record.dicom = Some(self.relative(&w.secondary_capture));
                    record.dicom_sr = Some(self.relative(&w.structured_report));
                    record.dicom_gsps = Some(self.relative(&w.presentation_state));
                    record.dicom_findings = Some((file.to_path_buf(), w.findings));
                }
                Err(e) => record.error = Some(format!("{name}: cannot write DICOM result: {e:#}")),
            }
        }
        record
    }

    /// The record of an image the scope check refused; with `--dicom-out` a DICOM input
    /// also gets its one result, an SR saying "not assessed" and why (no finding).
    fn not_assessed(&self, file: &Path, image: &Radiograph, scope: Scope) -> ResultRecord {
        let name = display_path(file);
        let dir = match &self.dicom {
            Some(dir) if image.meta.format == Format::Dicom => dir,
            _ => return ResultRecord::not_assessed(name, scope),
        };
        let path = dir.join(self.unique_name(file, "sr.dcm"));
        let written = super::dicom::write_not_assessed(file, &scope.message, &self.model, &path);
        let mut record = ResultRecord::not_assessed(name.clone(), scope);
        match written {
            Ok(()) => record.dicom_sr = Some(self.relative(&path)),
            Err(e) => record.error = Some(format!("{name}: cannot write DICOM result: {e:#}")),
        }
        record
    }

    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.dir)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Appends one record to both files and flushes: results already computed survive a
    /// crash or Ctrl-C later in the run.
    pub fn append(&mut self, r: &ResultRecord) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.jsonl, r)?;
        self.jsonl.write_all(b"\n")?;
        self.csv.append(r)?;
        self.jsonl.flush()?;
        Ok(())
    }

    pub fn finish(&mut self) -> anyhow::Result<()> {
        self.jsonl.flush()?;
        self.csv.flush()?;
        Ok(())
    }
}

/// The Study Instance UID of a DICOM input, for the study grouping.
fn study_of(file: &Path) -> Option<String> {
    let bytes = std::fs::read(file).ok()?;
    fracdet_io::write::source_image(&bytes, file)
        .ok()
        .map(|i| i.study_instance_uid)
}
