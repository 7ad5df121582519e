//! One module per subcommand. Each exposes its clap arguments and a `run` that returns the
//! process exit code, or an error that `main` prints as one line.

pub mod compare;
pub mod data;
pub mod evaluate;
pub mod inspect;
pub mod predict;
pub mod train;
