use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Radiograph files (PNG, JPEG, DICOM).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("not implemented yet (issue #2)")
}
