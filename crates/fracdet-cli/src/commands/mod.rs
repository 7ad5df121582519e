//! One module per subcommand. Each exposes its clap arguments and a `run` that returns the
//! process exit code, or an error that `main` prints as one line.

pub mod data;
pub mod inspect;
pub mod predict;
pub mod train;
