use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Validate a dataset: missing, unreadable or corrupt images, unmatched labels, boxes
    /// outside the image, duplicate files. Exits 1 if there is any problem.
    Check {
        /// Dataset root: a FracAtlas-style folder (labels.csv, boxes.csv, images/) or
        /// ROOT/<split>/<class>/ folders.
        dir: PathBuf,
    },
}

pub fn run(cmd: DataCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DataCommand::Check { dir } => {
            let _ = dir;
            anyhow::bail!("not implemented yet (issue #2)")
        }
    }
}
