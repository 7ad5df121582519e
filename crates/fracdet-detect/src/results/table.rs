//! The table `fracdet detect` prints on stdout: one line per image, the file name column
//! as wide as the longest name.

use std::fmt::Write;

use super::ResultRecord;

pub fn results_table(records: &[ResultRecord]) -> String {
    let width = records
        .iter()
        .map(|r| r.file.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<width$}  {:>11}  {:<8}  {:>5}",
        "file", "probability", "finding", "boxes"
    );
    for r in records {
        let note = match &r.not_assessed {
            Some(scope) if scope.assessed_anyway => {
                format!("  (out of scope, assessed anyway: {})", scope.message)
            }
            Some(scope) => format!("  {}", scope.message),
            None => String::new(),
        };
        match r.probability {
            Some(p) => {
                let _ = writeln!(
                    s,
                    "{:<width$}  {p:>11.4}  {:<8}  {:>5}{note}",
                    r.file,
                    r.finding.unwrap_or(""),
                    r.boxes.len()
                );
            }
            None if r.not_assessed.is_some() => {
                let _ = writeln!(
                    s,
                    "{:<width$}  {:>11}  {:<8}  {:>5}{note}",
                    r.file, "-", "not_assessed", ""
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "{:<width$}  {:>11}  {:<8}  {:>5}",
                    r.file, "error", "", ""
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_rows_say_error_and_the_name_column_fits() {
        let rows = [ResultRecord::failed("a-long-name.png".into(), "x".into())];
        assert_eq!(
            results_table(&rows),
            "file             probability  finding   boxes\n\
             a-long-name.png        error                 \n"
        );
    }
}
