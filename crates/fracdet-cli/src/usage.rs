//! Usage errors: the command line asked for something that cannot be done as asked (an
//! output folder holding inputs or an earlier run, a dataset folder that does not exist).
//! `main` exits 2 for these, as for clap's own parse errors, and 1 for failures.

/// A usage error with a message for the user; wrap with `anyhow::Error::new`.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// `Err` of a [`UsageError`] with this message.
pub fn usage<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(anyhow::Error::new(UsageError(message.into())))
}

/// Whether `err` (or anything in its chain) is a usage error.
pub fn is_usage(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<UsageError>())
}
