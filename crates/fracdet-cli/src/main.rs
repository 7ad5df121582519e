//! `fracdet`: find bone fractures on radiographs.
//!
//! Exit codes: 0 success, 1 failure (including "some inputs failed"), 2 usage error.

mod bundled;
mod commands;
mod device;
mod usage;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Find bone fractures on radiographs, show where they are, and say how sure it is.
///
/// A concurrent reading aid, not for standalone diagnosis.
#[derive(Debug, Parser)]
#[command(name = "fracdet", version, propagate_version = true)]
struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Where the networks run (train, predict, evaluate). `auto` takes the first GPU backend
    /// compiled in (cuda, then wgpu), else the pure-Rust CPU backend.
    #[arg(long, global = true, value_enum, default_value_t = device::DeviceChoice::Auto)]
    device: device::DeviceChoice,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Find fractures: probability, two-level finding, boxes and overlays per image.
    Detect(commands::detect::DetectArgs),
    /// Validate and summarise datasets.
    #[command(subcommand)]
    Data(commands::data::DataCommand),
    /// Show what the reader sees in radiograph files.
    Inspect(commands::inspect::InspectArgs),
    /// Train models (Ctrl-C stops with a resumable checkpoint).
    #[command(subcommand)]
    Train(commands::train::TrainCommand),
    /// Fracture probability per image from a trained run directory.
    Predict(commands::predict::PredictArgs),
    /// Metrics with 95% CIs, plots and a self-contained report.html for a dataset split.
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Package a training run as a model bundle (f16 weights + thresholds) for detect/serve.
    Export(commands::export::ExportArgs),
    /// Two evaluation reports side by side, with a paired-bootstrap CI of the AUROC difference.
    Compare(commands::compare::CompareArgs),
    /// HTTP API and web viewer: POST /v1/detect, GET /healthz, and a page at /.
    Serve(commands::serve::ServeArgs),
    /// DICOM networking: `dicom serve` is a C-STORE node that sends SR, GSPS and SC back.
    #[command(subcommand)]
    Dicom(commands::dicom_serve::DicomCommand),
    /// Fit a model's check of how typical an image is of its training data (train split
    /// for the density, val for the threshold); detect and serve then apply it.
    Typicality(commands::typicality::TypicalityArgs),
}

fn main() -> ExitCode {
    fracdet_run::alloc::keep_freed_memory();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let outcome = match cli.command {
        Command::Detect(args) => commands::detect::run(args, cli.device),
        Command::Export(args) => commands::export::run(args, cli.device),
        Command::Data(cmd) => commands::data::run(cmd),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Train(cmd) => commands::train::run(cmd, cli.device),
        Command::Predict(args) => commands::predict::run(args, cli.device),
        Command::Evaluate(args) => commands::evaluate::run(args, cli.device),
        Command::Compare(args) => commands::compare::run(args),
        Command::Serve(args) => commands::serve::run(args, cli.device),
        Command::Dicom(cmd) => commands::dicom_serve::run(cmd, cli.device),
        Command::Typicality(args) => commands::typicality::run(args, cli.device),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            // One line, the whole cause chain; a backtrace only when asked for.
            eprintln!("error: {err:#}");
            if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
                eprintln!("{}", err.backtrace());
            }
            if usage::is_usage(&err) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colour codes only for a terminal: a log redirected to a file or pipe stays plain text.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .without_time()
        .init();
}
