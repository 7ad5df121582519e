//! One module per subcommand. Each exposes its clap arguments and a `run` that returns the
//! process exit code, or an error that `main` prints as one line.

pub mod compare;
pub mod data;
pub mod detect;
pub mod dicom_serve;
pub mod evaluate;
pub mod evaluate_perturb;
pub mod export;
pub mod files;
pub mod inspect;
pub mod predict;
pub mod serve;
pub mod train;
pub mod typicality;
