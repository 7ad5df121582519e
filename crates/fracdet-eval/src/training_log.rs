//! Reads the training loop's `metrics.csv` (one row per epoch).
//!
//! Required column: `epoch`. Every other column is kept as a numeric series, so new
//! columns written by the trainer (e.g. `lr`, `val_ece`) need no change here. Empty cells
//! and non-numeric or non-finite values (`nan`, `inf`) become `None`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingLog {
    pub epochs: Vec<f64>,
    /// `(column name, one value per epoch)`, in file order, `epoch` excluded.
    pub columns: Vec<(String, Vec<Option<f64>>)>,
}

impl TrainingLog {
    pub fn series(&self, name: &str) -> Option<&[Option<f64>]> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(text.as_bytes());
        let headers = rdr
            .headers()
            .map_err(|e| EvalError::Csv(e.to_string()))?
            .clone();
        let epoch_col = headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case("epoch"))
            .ok_or_else(|| EvalError::Csv("no `epoch` column".into()))?;
        let mut log = TrainingLog {
            epochs: Vec::new(),
            columns: headers
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != epoch_col)
                .map(|(_, h)| (h.to_string(), Vec::new()))
                .collect(),
        };
        for (row, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| EvalError::Csv(e.to_string()))?;
            let epoch = rec.get(epoch_col).and_then(parse_finite).ok_or_else(|| {
                EvalError::Csv(format!("row {}: epoch is missing or not a number", row + 2))
            })?;
            log.epochs.push(epoch);
            let mut c = 0;
            for i in 0..headers.len() {
                if i == epoch_col {
                    continue;
                }
                log.columns[c].1.push(rec.get(i).and_then(parse_finite));
                c += 1;
            }
        }
        Ok(log)
    }
}

fn parse_finite(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_parse() {
        let text = "epoch,train_loss,val_loss,val_auroc,lr\n1,0.7,0.69,0.6,1e-3\n2,0.5,nan,,1e-3\n3 , 0.4 ,0.5,0.8,5e-4\n";
        let log = TrainingLog::parse(text).unwrap();
        assert_eq!(log.epochs, vec![1.0, 2.0, 3.0]);
        assert_eq!(
            log.series("val_loss").unwrap(),
            &[Some(0.69), None, Some(0.5)]
        );
        assert_eq!(
            log.series("val_auroc").unwrap(),
            &[Some(0.6), None, Some(0.8)]
        );
        assert_eq!(log.series("lr").unwrap()[2], Some(5e-4));
        assert!(log.series("nope").is_none());
    }

    #[test]
    fn errors_without_epoch_or_with_bad_epoch() {
        assert!(TrainingLog::parse("step,loss\n1,2\n").is_err());
        assert!(TrainingLog::parse("epoch,loss\nx,2\n").is_err());
        let empty = TrainingLog::parse("epoch,loss\n").unwrap();
        assert!(empty.epochs.is_empty());
    }
}
