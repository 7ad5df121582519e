//! What `detect` says when it is done: the results on stdout (table or JSON), and one
//! closing line on stderr with the counts, or where an interrupted run stopped.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use fracdet_detect::results::{ResultRecord, results_table};
use fracdet_io::walk::OUTPUT_MARKER;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::StdoutFormat;

pub fn print_results(records: &[ResultRecord], format: StdoutFormat) -> anyhow::Result<()> {
    match format {
        StdoutFormat::Table => print!("{}", results_table(records)),
        StdoutFormat::Json => println!("{}", serde_json::to_string_pretty(records)?),
    }
    Ok(())
}

/// How the run went, for the closing line.
pub struct Summary<'a> {
    pub records: &'a [ResultRecord],
    pub total: usize,
    pub not_read: usize,
    pub assess_anyway: bool,
    pub model: &'a str,
    pub out: &'a Path,
    pub started: Instant,
}

impl Summary<'_> {
    pub fn failed(&self) -> usize {
        self.records.iter().filter(|r| r.error.is_some()).count()
    }

    /// The line an interrupted run ends with.
    pub fn interrupted(&self) {
        eprintln!(
            "interrupted: {} of {} image(s) done with model {}, {:.1} s; the results in {} are \
             incomplete ({} says so)",
            self.records.len(),
            self.total,
            self.model,
            self.started.elapsed().as_secs_f64(),
            self.out.display(),
            OUTPUT_MARKER
        );
    }

    /// The line a whole run ends with, and where the study findings are when there are any.
    pub fn complete(&self, studies: usize) {
        let count = |finding: &str| {
            self.records
                .iter()
                .filter(|r| r.finding == Some(finding))
                .count()
        };
        let (likely, possible) = (count("likely"), count("possible"));
        let out_of_scope = self
            .records
            .iter()
            .filter(|r| r.not_assessed.is_some())
            .count();
        let scope_note = match (out_of_scope, self.assess_anyway) {
            (0, _) => String::new(),
            (n, false) => {
                format!(", {n} not assessed (not a radiograph fracdet reads; named above)")
            }
            (n, true) => format!(
                ", {n} out of scope but assessed anyway (--assess-anyway: research only, \
                 those findings are not valid)"
            ),
        };
        let not_read_note = if self.not_read > 0 {
            format!(", {} path(s) not read (named above)", self.not_read)
        } else {
            String::new()
        };
        eprintln!(
            "{} image(s) with model {}: {likely} likely and {possible} possible fracture(s), \
             {} failed{scope_note}{not_read_note}, {:.1} s; results in {}",
            self.records.len(),
            self.model,
            self.failed(),
            self.started.elapsed().as_secs_f64(),
            self.out.display()
        );
        if studies > 0 {
            eprintln!(
                "{studies} DICOM stud(ies): the most suspicious image decides each, in {}",
                self.out.join("studies.csv").display()
            );
        }
    }
}

/// A bar on a terminal, nothing in a log.
pub fn progress_bar(n: u64) -> ProgressBar {
    let bar = ProgressBar::new(n);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} images  {per_sec}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}
