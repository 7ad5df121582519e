//! The spool: every instance the node acknowledged, until its results are delivered.
//!
//! ```text
//! SPOOL/inbox/<sop uid>.dcm      received and acknowledged, not yet analysed
//! SPOOL/outbox/<sop uid>/*.dcm   its results (SC, SR, GSPS), not yet delivered
//! SPOOL/failed/<sop uid>/        given up: reason.txt, and the source or the results
//! SPOOL/outcomes.jsonl           a line per step: analysed (finding), sent, not assessed, failed
//! ```
//!
//! Each step is a rename or an atomic write, so a crash at any point (SIGKILL included)
//! leaves every acknowledged instance either in the inbox or its results in the outbox,
//! and a restart picks both up: an instance is written here, synced, *before* its C-STORE
//! is acknowledged. Delivery is at least once: results sent just before a crash are sent
//! again, under the same SOP Instance UIDs, which a PACS files once.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use crate::error::{NodeError, Result, spool_io};
use crate::policy::is_uid;

const INBOX: &str = "inbox";
const OUTBOX: &str = "outbox";
const FAILED: &str = "failed";
const OUTCOMES: &str = "outcomes.jsonl";

/// How one instance ended, as `outcomes.jsonl` records it. No patient attribute.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome<'a> {
    pub sop_instance_uid: &'a str,
    /// "analysed" (with the finding), then "sent" or "delivery_failed"; or
    /// "not_assessed", "analysis_failed".
    pub outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_instance_uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

/// A spool directory, opened by one node at a time.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    inbox_len: AtomicUsize,
    outcomes: Mutex<File>,
}

impl Spool {
    /// Opens (creating) the spool, and removes what a crash can leave half-done: temporary
    /// files of an atomic write and result folders not yet moved into the outbox.
    pub fn open(dir: &Path) -> Result<Self> {
        for sub in [INBOX, OUTBOX, FAILED] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(|e| spool_io(&p, e))?;
            for entry in read_dir(&p)? {
                if entry.starts_with('.') {
                    let path = p.join(&entry);
                    let _ = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
                }
            }
        }
        let path = dir.join(OUTCOMES);
        let outcomes = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| spool_io(&path, e))?;
        let spool = Self {
            dir: dir.to_path_buf(),
            inbox_len: AtomicUsize::new(0),
            outcomes: Mutex::new(outcomes),
        };
        spool
            .inbox_len
            .store(spool.inbox()?.len(), Ordering::SeqCst);
        Ok(spool)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Instances waiting for analysis (as counted since open).
    pub fn inbox_len(&self) -> usize {
        self.inbox_len.load(Ordering::SeqCst)
    }

    fn inbox_path(&self, uid: &str) -> PathBuf {
        self.dir.join(INBOX).join(format!("{uid}.dcm"))
    }

    fn outbox_path(&self, uid: &str) -> PathBuf {
        self.dir.join(OUTBOX).join(uid)
    }

    /// Stores a received instance, durably, before it is acknowledged. A second copy of
    /// the same instance replaces the first.
    pub fn accept(&self, uid: &str, part10: &[u8]) -> Result<()> {
        check_uid(uid)?;
        let path = self.inbox_path(uid);
        let existed = path.exists();
        fracdet_io::write::write_file_atomic(&path, part10, true)?;
        if !existed {
            self.inbox_len.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    /// SOP Instance UIDs in the inbox, oldest first.
    pub fn inbox(&self) -> Result<Vec<String>> {
        let dir = self.dir.join(INBOX);
        let mut entries: Vec<(std::time::SystemTime, String)> = Vec::new();
        for name in read_dir(&dir)? {
            let Some(uid) = name.strip_suffix(".dcm") else {
                continue;
            };
            if !is_uid(uid) {
                continue;
            }
            let time = fs::metadata(dir.join(&name))
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            entries.push((time, uid.to_string()));
        }
        entries.sort();
        Ok(entries.into_iter().map(|(_, uid)| uid).collect())
    }

    /// SOP Instance UIDs whose results wait for delivery.
    pub fn outbox(&self) -> Result<Vec<String>> {
        let mut uids: Vec<String> = read_dir(&self.dir.join(OUTBOX))?
            .into_iter()
            .filter(|n| is_uid(n))
            .collect();
        uids.sort();
        Ok(uids)
    }

    /// Entries given up on.
    pub fn failed(&self) -> Result<Vec<String>> {
        Ok(read_dir(&self.dir.join(FAILED))?
            .into_iter()
            .filter(|n| is_uid(n))
            .collect())
    }

    /// The received instance.
    pub fn read_inbox(&self, uid: &str) -> Result<Vec<u8>> {
        check_uid(uid)?;
        let path = self.inbox_path(uid);
        fs::read(&path).map_err(|e| spool_io(&path, e))
    }

    /// Moves an analysed instance's results into the outbox (whole, by one rename) and
    /// only then removes it from the inbox.
    pub fn commit_results(&self, uid: &str, files: &[(&str, &[u8])]) -> Result<()> {
        check_uid(uid)?;
        let staging = self.dir.join(OUTBOX).join(format!(".{uid}.partial"));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).map_err(|e| spool_io(&staging, e))?;
        for (name, bytes) in files {
            fracdet_io::write::write_file_atomic(&staging.join(name), bytes, false)?;
        }
        let target = self.outbox_path(uid);
        // The same instance analysed again (sent twice): the newer results replace.
        let _ = fs::remove_dir_all(&target);
        fs::rename(&staging, &target).map_err(|e| spool_io(&target, e))?;
        sync_dir(&self.dir.join(OUTBOX));
        self.remove_inbox(uid)
    }

    fn remove_inbox(&self, uid: &str) -> Result<()> {
        let path = self.inbox_path(uid);
        match fs::remove_file(&path) {
            Ok(()) => {
                self.inbox_len.fetch_sub(1, Ordering::SeqCst);
                sync_dir(&self.dir.join(INBOX));
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(spool_io(&path, e)),
        }
    }

    /// An instance the scope check refused: nothing to deliver, so it leaves the spool.
    pub fn finish_unassessed(&self, uid: &str) -> Result<()> {
        check_uid(uid)?;
        self.remove_inbox(uid)
    }

    /// An instance that cannot be analysed: kept under failed/ with the reason.
    pub fn fail_analysis(&self, uid: &str, reason: &str) -> Result<()> {
        check_uid(uid)?;
        let dir = self.fail_dir(uid, reason)?;
        let from = self.inbox_path(uid);
        let to = dir.join("source.dcm");
        fs::rename(&from, &to).map_err(|e| spool_io(&to, e))?;
        self.inbox_len.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }

    /// The result files waiting for delivery for `uid`, by name.
    pub fn outbox_files(&self, uid: &str) -> Result<Vec<PathBuf>> {
        check_uid(uid)?;
        let dir = self.outbox_path(uid);
        let mut files: Vec<PathBuf> = read_dir(&dir)?
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .map(|n| dir.join(n))
            .collect();
        files.sort();
        Ok(files)
    }

    /// Delivered: the results leave the spool.
    pub fn delivered(&self, uid: &str) -> Result<()> {
        check_uid(uid)?;
        let dir = self.outbox_path(uid);
        fs::remove_dir_all(&dir).map_err(|e| spool_io(&dir, e))
    }

    /// Delivery given up: the results move to failed/ with the reason.
    pub fn fail_delivery(&self, uid: &str, reason: &str) -> Result<()> {
        check_uid(uid)?;
        let dir = self.fail_dir(uid, reason)?;
        let to = dir.join("results");
        let from = self.outbox_path(uid);
        fs::rename(&from, &to).map_err(|e| spool_io(&to, e))
    }

    fn fail_dir(&self, uid: &str, reason: &str) -> Result<PathBuf> {
        let dir = self.dir.join(FAILED).join(uid);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| spool_io(&dir, e))?;
        fracdet_io::write::write_file_atomic(&dir.join("reason.txt"), reason.as_bytes(), true)?;
        Ok(dir)
    }

    /// Appends one line to outcomes.jsonl.
    pub fn record(&self, outcome: &Outcome<'_>) -> Result<()> {
        let path = self.dir.join(OUTCOMES);
        let mut line = serde_json::to_vec(outcome)
            .map_err(|e| spool_io(&path, std::io::Error::other(e.to_string())))?;
        line.push(b'\n');
        let mut f = self.outcomes.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(&line).map_err(|e| spool_io(&path, e))
    }
}

fn check_uid(uid: &str) -> Result<()> {
    if is_uid(uid) {
        Ok(())
    } else {
        Err(NodeError::BadUid(uid.to_string()))
    }
}

fn read_dir(dir: &Path) -> Result<Vec<String>> {
    let entries = fs::read_dir(dir).map_err(|e| spool_io(dir, e))?;
    Ok(entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect())
}

/// Makes renames in `dir` durable; not every platform can open a folder.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_moves_through_the_spool_and_survives_a_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path()).unwrap();
        spool.accept("1.2.3", b"first").unwrap();
        spool.accept("1.2.4", b"second").unwrap();
        spool.accept("1.2.4", b"second again").unwrap();
        assert_eq!(spool.inbox_len(), 2);
        assert!(spool.accept("../x", b"no").is_err());
        // A crash mid-commit leaves a staging folder; a reopen removes it and keeps the inbox.
        fs::create_dir_all(tmp.path().join("outbox/.1.2.3.partial")).unwrap();
        drop(spool);
        let spool = Spool::open(tmp.path()).unwrap();
        assert_eq!(spool.inbox().unwrap().len(), 2);
        assert_eq!(spool.inbox_len(), 2);
        assert_eq!(spool.read_inbox("1.2.4").unwrap(), b"second again");
        assert!(spool.outbox().unwrap().is_empty());

        spool
            .commit_results("1.2.3", &[("sr.dcm", b"sr"), ("pr.dcm", b"pr")])
            .unwrap();
        assert_eq!(spool.inbox().unwrap(), ["1.2.4"]);
        assert_eq!(spool.outbox().unwrap(), ["1.2.3"]);
        let files = spool.outbox_files("1.2.3").unwrap();
        assert_eq!(files.len(), 2);
        spool.fail_analysis("1.2.4", "unreadable").unwrap();
        assert_eq!(spool.inbox_len(), 0);
        assert_eq!(spool.failed().unwrap(), ["1.2.4"]);
        assert_eq!(
            fs::read_to_string(tmp.path().join("failed/1.2.4/reason.txt")).unwrap(),
            "unreadable"
        );
        spool.fail_delivery("1.2.3", "refused").unwrap();
        assert!(spool.outbox().unwrap().is_empty());
        assert!(tmp.path().join("failed/1.2.3/results/sr.dcm").exists());
        spool
            .record(&Outcome {
                sop_instance_uid: "1.2.3",
                outcome: "delivery_failed",
                study_instance_uid: None,
                finding: None,
                probability: None,
                reason: Some("refused"),
            })
            .unwrap();
        let log = fs::read_to_string(tmp.path().join(OUTCOMES)).unwrap();
        assert!(log.contains("\"delivery_failed\""), "{log}");
    }
}
