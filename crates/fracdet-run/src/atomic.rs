//! Crash-safe file replacement: readers see the old file or the new one, never half of one.

use std::path::Path;

use fracdet_io::IoError;

use crate::error::{Result, RunError};

/// Write `bytes` to `path`, replacing it: a temporary file in the same directory, synced,
/// renamed over `path`, the directory synced (fracdet-io's
/// [`write_file_atomic`](fracdet_io::write::write_file_atomic)).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    fracdet_io::write::write_file_atomic(path, bytes, true).map_err(|e| match e {
        IoError::Io { path, source } => RunError::Io { path, source },
        other => RunError::Write {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn replaces_content_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.bin");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
