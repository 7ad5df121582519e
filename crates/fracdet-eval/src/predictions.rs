//! predictions.csv: one row per scored image, written by `fracdet evaluate` and read back
//! by `fracdet compare`, so both sides go through one serde type and the `csv` crate.
//!
//! Columns, in this order: `image,label,probability,decision_fixed,
//! decision_target_sensitivity,decision_youden`, then `logit` for reports whose score is a
//! logit (MPR), then `calibrated_probability` when the model has a temperature. A decision
//! is 1 (flagged) / 0, empty where that operating point does not exist. Numbers keep the
//! text they always had (probabilities to six decimals, the logit as Rust prints an `f32`),
//! because tests and users' scripts read the file.

use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// The columns every predictions.csv starts with (also the header of an empty file).
pub const BASE_COLUMNS: [&str; 6] = [
    "image",
    "label",
    "probability",
    "decision_fixed",
    "decision_target_sensitivity",
    "decision_youden",
];

/// One row of predictions.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Path relative to the dataset root: the key `compare` pairs reports on.
    pub image: String,
    #[serde(with = "zero_one")]
    pub label: bool,
    /// The model's own probability (what a temperature is fitted on).
    #[serde(with = "six_decimals_f32")]
    pub probability: f32,
    #[serde(default, with = "decision")]
    pub decision_fixed: Option<bool>,
    #[serde(default, with = "decision")]
    pub decision_target_sensitivity: Option<bool>,
    #[serde(default, with = "decision")]
    pub decision_youden: Option<bool>,
    /// MPR reports: the image logit, which the decisions and the AUROC rank.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "logit")]
    pub logit: Option<f32>,
    /// With a temperature: the probability `detect` shows.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "six_decimals_f64"
    )]
    pub calibrated_probability: Option<f64>,
}

impl Prediction {
    /// What the report ranked: the logit where there is one (an MPR report's probabilities
    /// saturate at 1.0 and would tie), else the probability.
    pub fn score(&self) -> f32 {
        self.logit.unwrap_or(self.probability)
    }

    /// The name of the column [`Prediction::score`] comes from, for messages.
    fn score_column(&self) -> &'static str {
        if self.logit.is_some() {
            "logit"
        } else {
            "probability"
        }
    }
}

#[derive(Debug, Error)]
pub enum PredictionsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The header or a row is not a predictions.csv row; `line` is 1-based in the file.
    #[error("{path} line {line}: {message}")]
    Row {
        path: String,
        line: u64,
        message: String,
    },
    #[error("{path}: {message}")]
    Csv { path: String, message: String },
    #[error("cannot write predictions: {0}")]
    Write(String),
}

/// The file for `rows`. Line breaks in an image name become spaces (a name is one line of
/// text everywhere it is shown); a comma or quote in it is quoted as CSV requires.
pub fn write_predictions(rows: &[Prediction]) -> Result<Vec<u8>, PredictionsError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        w.write_record(BASE_COLUMNS)
            .map_err(|e| PredictionsError::Write(e.to_string()))?;
    }
    for row in rows {
        let result = if row.image.contains(['\n', '\r']) {
            let mut one_line = row.clone();
            one_line.image = row.image.replace(['\n', '\r'], " ");
            w.serialize(one_line)
        } else {
            w.serialize(row)
        };
        result.map_err(|e| PredictionsError::Write(e.to_string()))?;
    }
    w.into_inner()
        .map_err(|e| PredictionsError::Write(e.to_string()))
}

/// Reads `fracdet evaluate`'s predictions.csv. Every row's score (see
/// [`Prediction::score`]) must be finite.
pub fn read_predictions(path: &Path) -> Result<Vec<Prediction>, PredictionsError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| PredictionsError::Read {
        path: shown.clone(),
        source,
    })?;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let headers = reader.headers().map_err(|e| csv_error(&shown, &e))?.clone();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&shown, &e))?;
        let line = record.position().map_or(0, csv::Position::line);
        let bad = |message: String| PredictionsError::Row {
            path: shown.clone(),
            line,
            message,
        };
        let p: Prediction = record
            .deserialize(Some(&headers))
            .map_err(|e| bad(field_message(&e)))?;
        if !p.score().is_finite() {
            return Err(bad(format!("{} is not finite", p.score_column())));
        }
        out.push(p);
    }
    Ok(out)
}

fn csv_error(path: &str, e: &csv::Error) -> PredictionsError {
    PredictionsError::Csv {
        path: path.to_string(),
        message: e.to_string(),
    }
}

/// Our own message where a field was refused, not the csv crate's wrapping of it
/// ("CSV deserialize error: record 1 (line: 2, byte: 28): field 3: ...").
fn field_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.kind() {
            csv::DeserializeErrorKind::Message(m) => m.clone(),
            other => other.to_string(),
        },
        _ => e.to_string(),
    }
}

/// `label`: 1 fractured, 0 not.
mod zero_one {
    use super::*;

    pub fn serialize<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if *v { "1" } else { "0" })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match String::deserialize(d)?.as_str() {
            "1" => Ok(true),
            "0" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "label {other:?} is not 0 or 1"
            ))),
        }
    }
}

/// A decision column: 1 / 0, empty where the operating point does not exist.
mod decision {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(flagged) => s.serialize_str(if *flagged { "1" } else { "0" }),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match Option::<String>::deserialize(d)?.as_deref() {
            None | Some("") => Ok(None),
            Some("1") => Ok(Some(true)),
            Some("0") => Ok(Some(false)),
            Some(other) => Err(serde::de::Error::custom(format!(
                "decision {other:?} is not 0, 1 or empty"
            ))),
        }
    }
}

/// Parses a number field, naming the column in the message.
fn number<E: serde::de::Error>(text: &str, column: &str) -> Result<f64, E> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| E::custom(format!("{column} is not a number")))
}

mod six_decimals_f32 {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:.6}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        number(&String::deserialize(d)?, "probability").map(|v| v as f32)
    }
}

mod six_decimals_f64 {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&format!("{v:.6}")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<String>::deserialize(d)?
            .filter(|t| !t.is_empty())
            .map(|t| number(&t, "calibrated_probability"))
            .transpose()
    }
}

/// The logit as Rust prints an `f32` (shortest text that reads back to the same value).
mod logit {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<f32>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f32>, D::Error> {
        Option::<String>::deserialize(d)?
            .filter(|t| !t.is_empty())
            .map(|t| number(&t, "logit").map(|v| v as f32))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(image: &str, label: bool, probability: f32) -> Prediction {
        Prediction {
            image: image.into(),
            label,
            probability,
            decision_fixed: Some(label),
            decision_target_sensitivity: Some(true),
            decision_youden: None,
            logit: None,
            calibrated_probability: None,
        }
    }

    fn read_text(text: &str) -> Result<Vec<Prediction>, PredictionsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("predictions.csv");
        std::fs::write(&path, text).unwrap();
        read_predictions(&path)
    }

    #[test]
    fn columns_and_text_are_the_ones_evaluate_always_wrote() {
        let mut a = row("a,b.png", true, 0.25);
        a.logit = Some(18.0);
        a.calibrated_probability = Some(0.123_456_78);
        let mut b = row("q\"uote\nd.png", false, 1.0);
        b.logit = Some(-2.5);
        b.calibrated_probability = Some(0.5);
        let text = String::from_utf8(write_predictions(&[a, b]).unwrap()).unwrap();
        assert_eq!(
            text,
            "image,label,probability,decision_fixed,decision_target_sensitivity,decision_youden,logit,calibrated_probability\n\
             \"a,b.png\",1,0.250000,1,1,,18,0.123457\n\
             \"q\"\"uote d.png\",0,1.000000,0,1,,-2.5,0.500000\n"
        );
        // Optional columns are absent, not empty, when no row has them.
        let text = String::from_utf8(write_predictions(&[row("c.png", false, 0.5)]).unwrap());
        assert_eq!(
            text.unwrap(),
            "image,label,probability,decision_fixed,decision_target_sensitivity,decision_youden\n\
             c.png,0,0.500000,0,1,\n"
        );
        let empty = String::from_utf8(write_predictions(&[]).unwrap()).unwrap();
        assert_eq!(empty, format!("{}\n", BASE_COLUMNS.join(",")));
    }

    #[test]
    fn written_rows_read_back() {
        let mut a = row("dir/a,1.png", true, 0.75);
        a.logit = Some(25.5);
        let b = Prediction {
            logit: Some(-3.25),
            decision_fixed: None,
            ..row("b.png", false, 0.125)
        };
        let text = String::from_utf8(write_predictions(&[a.clone(), b.clone()]).unwrap());
        assert_eq!(read_text(&text.unwrap()).unwrap(), vec![a, b]);
    }

    #[test]
    fn mpr_reports_are_compared_on_their_logits() {
        // Probabilities tied at 1.0 would hide that the logits rank the positive first.
        let p = read_text(
            "image,label,probability,decision_fixed,decision_target_sensitivity,decision_youden,logit\n\
             a.png,1,1.000000,1,1,1,25.5\n\
             b.png,0,1.000000,1,1,1,18.0\n",
        )
        .unwrap();
        assert_eq!((p[0].score(), p[1].score()), (25.5, 18.0));
        // Older or hand-made files: only the three first columns.
        let p = read_text("image,label,probability\nc.png,0,0.25\n").unwrap();
        assert_eq!((p[0].score(), p[0].decision_fixed), (0.25, None));
        let err = read_text("image,label,probability,logit\nc.png,0,0.25,x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2: logit is not a number"), "{err}");
    }

    #[test]
    fn bad_rows_are_refused_with_their_line() {
        let err = read_text("image,label,probability\na.png,1,0.5\nb.png,2,0.5\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3: label \"2\" is not 0 or 1"), "{err}");
        let err = read_text("image,label,probability\na.png,1,NaN\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2: probability is not finite"), "{err}");
        let err = read_text("image,probability\na.png,0.5\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("label"), "{err}");
        assert!(matches!(
            read_predictions(Path::new("/nonexistent/predictions.csv")),
            Err(PredictionsError::Read { .. })
        ));
    }
}
