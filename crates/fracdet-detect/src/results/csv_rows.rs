//! results.csv and studies.csv through the `csv` crate (quoting a field only when it holds
//! a comma, quote or line break). Numbers go through `Display` rather than the `csv`
//! serializer's float format, so 1.0 stays `1` and small values never turn into `1e-7`.

use std::io::Write;

use super::{ResultRecord, StudyRecord};
use crate::Decision;

const RESULTS_HEADER: [&str; 10] = [
    "file",
    "probability",
    "finding",
    "high_sensitivity",
    "high_specificity",
    "boxes",
    "overlay",
    "dicom",
    "error",
    "not_assessed",
];

const STUDIES_HEADER: [&str; 6] = [
    "study_instance_uid",
    "images",
    "finding",
    "probability",
    "decided_by",
    "dicom_sr",
];

/// results.csv, one row per record, flushed after each so rows already written survive a
/// crash or Ctrl-C later in the run.
pub struct ResultsCsv<W: Write> {
    out: csv::Writer<W>,
}

impl<W: Write> ResultsCsv<W> {
    /// Writes the header.
    pub fn new(out: W) -> csv::Result<Self> {
        let mut out = csv::Writer::from_writer(out);
        out.write_record(RESULTS_HEADER)?;
        Ok(Self { out })
    }

    pub fn append(&mut self, r: &ResultRecord) -> csv::Result<()> {
        let decision = |d: Option<Decision>| d.map(|d| d.positive.to_string()).unwrap_or_default();
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        self.out.write_record([
            r.file.clone(),
            r.probability.map(|p| p.to_string()).unwrap_or_default(),
            r.finding.unwrap_or("").to_string(),
            decision(r.decisions.and_then(|d| d.high_sensitivity)),
            decision(r.decisions.and_then(|d| d.high_specificity)),
            r.boxes.len().to_string(),
            opt(&r.overlay),
            opt(&r.dicom),
            opt(&r.error),
            r.not_assessed
                .as_ref()
                .map_or(String::new(), super::Scope::csv_note),
        ])?;
        self.out.flush()?;
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The whole of studies.csv.
pub fn studies_csv(rows: &[StudyRecord]) -> csv::Result<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(STUDIES_HEADER)?;
    for r in rows {
        out.write_record([
            r.study_instance_uid.to_string(),
            r.images.to_string(),
            r.finding.to_string(),
            r.probability.to_string(),
            r.decided_by.to_string(),
            r.dicom_sr.clone().unwrap_or_default(),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use fracdet_io::applicability::NotAssessed;

    use super::*;
    use crate::results::Scope;

    fn csv_of(records: &[ResultRecord]) -> String {
        let mut w = ResultsCsv::new(Vec::new()).unwrap();
        for r in records {
            w.append(r).unwrap();
        }
        String::from_utf8(w.out.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn results_rows_quote_only_what_needs_it() {
        let failed = ResultRecord::failed("a,b.png".into(), "a,b.png: said \"no\"".into());
        let text = csv_of(&[failed]);
        assert_eq!(
            text,
            "file,probability,finding,high_sensitivity,high_specificity,boxes,overlay,dicom,\
             error,not_assessed\n\"a,b.png\",,,,,0,,,\"a,b.png: said \"\"no\"\"\",\n"
        );
    }

    #[test]
    fn not_assessed_rows_say_so_and_whether_assessed_anyway() {
        let reason = NotAssessed::Atypical {
            score: 2.0,
            threshold: 1.0,
        };
        let refused = ResultRecord::not_assessed("x.png".into(), Scope::new(reason.clone(), false));
        let anyway = ResultRecord::not_assessed("y.png".into(), Scope::new(reason.clone(), true));
        let text = csv_of(&[refused, anyway]);
        let rows: Vec<&str> = text.lines().skip(1).collect();
        let message = reason.describe();
        let field = |m: String| {
            if m.contains([',', '"']) {
                format!("\"{}\"", m.replace('"', "\"\""))
            } else {
                m
            }
        };
        assert_eq!(
            rows[0],
            format!("x.png,,not_assessed,,,0,,,,{}", field(message.clone()))
        );
        assert_eq!(
            rows[1],
            format!(
                "y.png,,not_assessed,,,0,,,,{}",
                field(format!("assessed anyway: {message}"))
            )
        );
    }

    #[test]
    fn studies_rows_write_probability_with_display() {
        let rows = [StudyRecord {
            study_instance_uid: "1.2.3",
            images: 2,
            finding: "likely",
            probability: 0.25,
            decided_by: "dir/a b.dcm",
            dicom_sr: None,
        }];
        let text = String::from_utf8(studies_csv(&rows).unwrap()).unwrap();
        assert_eq!(
            text,
            "study_instance_uid,images,finding,probability,decided_by,dicom_sr\n\
             1.2.3,2,likely,0.25,dir/a b.dcm,\n"
        );
    }
}
