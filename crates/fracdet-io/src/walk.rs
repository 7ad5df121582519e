//! Finding the image files under a folder without being led astray by the file system.
//!
//! A folder of radiographs copied from a PACS export or a colleague's disk can hold
//! anything: symbolic links to `.` or `..`, links that leave the tree for another patient's
//! data, dangling links, named pipes that block any reader forever, device files. The walk
//! here follows a link only when its target stays inside the tree being walked, enters each
//! folder once (by device and inode, so a loop is seen the second time round, whatever path
//! leads there), reads only regular files, and names everything it passed over in
//! [`Walk::skipped`] so the caller can report it instead of hiding it.
//!
//! A folder holding [`OUTPUT_MARKER`] is one that `fracdet detect` wrote; it is skipped, so
//! a later run over a parent folder never reads overlays as radiographs.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, FileType, Metadata};
use std::path::{Path, PathBuf};

/// File marking a folder as fracdet's output; walks never enter such a folder.
pub const OUTPUT_MARKER: &str = "fracdet-run.json";

/// Why a path under the walked folder was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// A symbolic link whose target lies outside the folder being walked.
    LinkLeavesTree { target: PathBuf },
    /// A symbolic link whose target does not exist.
    DanglingLink,
    /// A symbolic link that resolves to itself (ELOOP) or to a folder already walked.
    Loop,
    /// A named pipe: reading one blocks until another process writes.
    Fifo,
    /// A block or character device.
    Device,
    /// A Unix socket.
    Socket,
    /// The same file, reached a second time through a link.
    SameFileAgain { first: PathBuf },
    /// A folder fracdet wrote its results into (it holds [`OUTPUT_MARKER`]).
    OutputFolder,
    /// The folder could not be listed, or the entry's type could not be read.
    Unlistable { error: String },
}

impl SkipReason {
    /// Whether something that may have been a radiograph went unread: a dangling link or
    /// a pipe is, a second sighting of a folder or file already walked is not.
    pub fn loses_input(&self) -> bool {
        !matches!(
            self,
            SkipReason::Loop | SkipReason::SameFileAgain { .. } | SkipReason::OutputFolder
        )
    }

    /// Why a path named on a command line (not found by a walk) cannot be read as a file,
    /// if it cannot: a pipe, device or socket. A missing path is the reader's to report.
    pub fn of_named_path(path: &Path) -> Option<SkipReason> {
        let meta = fs::metadata(path).ok()?;
        special_kind(meta.file_type())
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::LinkLeavesTree { target } => write!(
                f,
                "symbolic link leaves the folder being read (to {})",
                display_path(target)
            ),
            SkipReason::DanglingLink => f.write_str("symbolic link to nothing"),
            SkipReason::Loop => f.write_str("symbolic link loop (folder already read)"),
            SkipReason::Fifo => f.write_str("named pipe (FIFO), not a file"),
            SkipReason::Device => f.write_str("device file, not a file"),
            SkipReason::Socket => f.write_str("socket, not a file"),
            SkipReason::SameFileAgain { first } => {
                write!(f, "the same file as {}", display_path(first))
            }
            SkipReason::OutputFolder => f.write_str("a fracdet output folder"),
            SkipReason::Unlistable { error } => write!(f, "cannot be read: {error}"),
        }
    }
}

/// One path the walk passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: SkipReason,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", display_path(&self.path), self.reason)
    }
}

/// What a walk found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Walk {
    /// Regular files the filter accepted, sorted by path (as reached, not resolved).
    pub files: Vec<PathBuf>,
    /// Everything passed over, in walk order. Files the filter rejected by name (a
    /// `README.txt`) are not listed: they are not radiographs and not a problem.
    pub skipped: Vec<Skipped>,
}

/// How far to walk.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    /// Enter sub-folders (and folder links that stay inside the tree).
    pub recursive: bool,
    /// Stop descending below this depth; deeper folders are listed as skipped.
    pub max_depth: u32,
}

impl Default for WalkOptions {
    fn default() -> Self {
        Self {
            recursive: true,
            max_depth: 64,
        }
    }
}

/// The regular files under `root` whose name `accept` takes, following the rules in the
/// module documentation. A `root` that cannot be listed is the only error; every problem
/// below it is a [`Skipped`] entry.
pub fn walk(
    root: &Path,
    options: WalkOptions,
    accept: &dyn Fn(&Path) -> bool,
) -> std::io::Result<Walk> {
    let canonical_root = fs::canonicalize(root)?;
    // Listing the root now makes an unlistable root an error, not a skipped entry.
    fs::read_dir(root)?;
    let mut state = State {
        root: canonical_root,
        options,
        accept,
        folders: HashSet::new(),
        files: Default::default(),
        walk: Walk::default(),
    };
    let meta = fs::metadata(root)?;
    state.folders.insert(file_id(&meta));
    state.folder(root, 0);
    state.walk.files.sort();
    Ok(state.walk)
}

struct State<'a> {
    root: PathBuf,
    options: WalkOptions,
    accept: &'a dyn Fn(&Path) -> bool,
    folders: HashSet<(u64, u64)>,
    files: std::collections::HashMap<(u64, u64), PathBuf>,
    walk: Walk,
}

impl State<'_> {
    fn skip(&mut self, path: &Path, reason: SkipReason) {
        self.walk.skipped.push(Skipped {
            path: path.to_path_buf(),
            reason,
        });
    }

    fn folder(&mut self, dir: &Path, depth: u32) {
        if dir.join(OUTPUT_MARKER).is_file() {
            self.skip(dir, SkipReason::OutputFolder);
            return;
        }
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                self.skip(dir, unlistable(e));
                return;
            }
        };
        let mut paths: Vec<PathBuf> = Vec::new();
        for entry in entries {
            match entry {
                Ok(e) => paths.push(e.path()),
                Err(e) => self.skip(dir, unlistable(e)),
            }
        }
        paths.sort();
        for path in paths {
            self.entry(&path, depth);
        }
    }

    fn entry(&mut self, path: &Path, depth: u32) {
        let own = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) => return self.skip(path, unlistable(e)),
        };
        let meta = if own.file_type().is_symlink() {
            match self.follow(path) {
                Ok(m) => m,
                Err(reason) => return self.skip(path, reason),
            }
        } else {
            own
        };
        let kind = meta.file_type();
        if kind.is_dir() {
            if !self.options.recursive {
                return;
            }
            if !self.folders.insert(file_id(&meta)) {
                return self.skip(path, SkipReason::Loop);
            }
            if depth + 1 > self.options.max_depth {
                let error = format!("deeper than {} folders", self.options.max_depth);
                return self.skip(path, SkipReason::Unlistable { error });
            }
            self.folder(path, depth + 1);
        } else if kind.is_file() {
            if !(self.accept)(path) {
                return;
            }
            match self.files.entry(file_id(&meta)) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    let first = first.get().clone();
                    self.skip(path, SkipReason::SameFileAgain { first });
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(path.to_path_buf());
                    self.walk.files.push(path.to_path_buf());
                }
            }
        } else if let Some(reason) = special_kind(kind) {
            // Named so the user learns why a file they see was not read; not by name filter,
            // since a pipe called `scan.dcm` is exactly what would otherwise hang a reader.
            self.skip(path, reason);
        }
    }

    /// The metadata of a link's target, when the target exists and lies inside the tree.
    fn follow(&self, link: &Path) -> Result<Metadata, SkipReason> {
        let target = match fs::canonicalize(link) {
            Ok(t) => t,
            Err(e) if is_loop_error(&e) => return Err(SkipReason::Loop),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SkipReason::DanglingLink);
            }
            Err(e) => return Err(unlistable(e)),
        };
        if !target.starts_with(&self.root) {
            return Err(SkipReason::LinkLeavesTree { target });
        }
        fs::metadata(&target).map_err(unlistable)
    }
}

fn unlistable(e: std::io::Error) -> SkipReason {
    SkipReason::Unlistable {
        error: e.to_string(),
    }
}

fn is_loop_error(e: &std::io::Error) -> bool {
    // ELOOP is 40 on Linux, 62 on the BSDs and macOS; std has no stable kind for it yet.
    matches!(e.raw_os_error(), Some(40) | Some(62))
}

#[cfg(unix)]
fn special_kind(kind: FileType) -> Option<SkipReason> {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        Some(SkipReason::Fifo)
    } else if kind.is_block_device() || kind.is_char_device() {
        Some(SkipReason::Device)
    } else if kind.is_socket() {
        Some(SkipReason::Socket)
    } else {
        None
    }
}

#[cfg(not(unix))]
fn special_kind(_kind: FileType) -> Option<SkipReason> {
    None
}

#[cfg(unix)]
fn file_id(meta: &Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(meta: &Metadata) -> (u64, u64) {
    // No inode numbers: loops are then bounded by `max_depth` alone.
    (meta.len(), 0)
}

/// A path as text for results and messages: valid UTF-8 as it is, every byte that is not
/// valid UTF-8 as `\xNN`, so two different file names never print the same (the lossy
/// conversion would turn both into U+FFFD).
pub fn display_path(path: &Path) -> String {
    escape_os_str(path.as_os_str())
}

/// [`display_path`] for one name.
pub fn escape_os_str(s: &OsStr) -> String {
    if let Some(s) = s.to_str() {
        return s.to_string();
    }
    let bytes = s.as_encoded_bytes();
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
