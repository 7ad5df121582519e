//! Putting a result on disk: never over its source, and whole or not at all.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{IoError, Result};

/// Refuse an output that is the source: the same path once links are resolved, or (Unix)
/// the same file under another name.
pub(crate) fn check_not_source(source: &Path, out: &Path) -> Result<()> {
    let refuse = || {
        Err(IoError::OutputIsSource {
            path: out.to_path_buf(),
        })
    };
    let src = fs::canonicalize(source).map_err(|e| IoError::io(source, e))?;
    let resolved = match fs::canonicalize(out) {
        Ok(p) => p,
        // The usual case: the output does not exist yet, so resolve its folder.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (dir, file) = split_path(out)?;
            fs::canonicalize(dir)
                .map_err(|e| IoError::io(dir, e))?
                .join(file)
        }
        Err(e) => return Err(IoError::io(out, e)),
    };
    if resolved == src {
        return refuse();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (fs::metadata(source), fs::metadata(out))
            && (a.dev(), a.ino()) == (b.dev(), b.ino())
        {
            return refuse();
        }
    }
    Ok(())
}

/// The folder (`.` for a bare name) and file name of an output path.
fn split_path(out: &Path) -> Result<(&Path, &std::ffi::OsStr)> {
    let file = out
        .file_name()
        .ok_or_else(|| IoError::InvalidArgument(format!("{} is not a file path", out.display())))?;
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok((dir, file))
}

/// Write `bytes` to a temporary file beside `out`, sync it, then move it into place and
/// sync the folder: readers see the old file or the new one, never half of one, and a
/// crash leaves no partial `out`. Without `overwrite`, the move is a hard link, which fails
/// rather than replace a file that appeared in the meantime; where hard links are
/// unsupported, existence is checked just before a rename.
pub fn write_file_atomic(out: &Path, bytes: &[u8], overwrite: bool) -> Result<()> {
    let (dir, file) = split_path(out)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file);
    tmp_name.push(format!(
        ".{}.{:08x}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let tmp: PathBuf = dir.join(tmp_name);
    let exists = || IoError::OutputExists {
        path: out.to_path_buf(),
    };
    let result = (|| {
        let mut f = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| IoError::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| IoError::io(&tmp, e))?;
        f.sync_all().map_err(|e| IoError::io(&tmp, e))?;
        drop(f);
        if overwrite {
            fs::rename(&tmp, out).map_err(|e| IoError::io(out, e))?;
        } else {
            match fs::hard_link(&tmp, out) {
                Ok(()) => fs::remove_file(&tmp).map_err(|e| IoError::io(&tmp, e))?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists()),
                Err(_) if out.symlink_metadata().is_ok() => return Err(exists()),
                Err(_) => fs::rename(&tmp, out).map_err(|e| IoError::io(out, e))?,
            }
        }
        // Makes the new name durable; not every platform can open a folder.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn an_existing_file_is_replaced_only_with_overwrite() {
        // The file appears after any earlier existence check: the link itself must refuse.
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r.dcm");
        fs::write(&out, b"old").unwrap();
        let err = write_file_atomic(&out, b"new", false).unwrap_err();
        assert!(matches!(err, IoError::OutputExists { .. }), "{err}");
        assert_eq!(fs::read(&out).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["r.dcm"]);

        write_file_atomic(&out, b"new", true).unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"new");
        write_file_atomic(&dir.path().join("s.dcm"), b"s", false).unwrap();
        assert_eq!(names(dir.path()), ["r.dcm", "s.dcm"]);
    }

    #[test]
    fn a_path_without_a_file_name_is_an_argument_error() {
        let err = write_file_atomic(Path::new("/"), b"x", true).unwrap_err();
        assert!(matches!(err, IoError::InvalidArgument(_)), "{err}");
    }
}
