//! The spool: every instance the node acknowledged, until its results are delivered.
//!
//! ```text
//! SPOOL/inbox/<sop uid>.dcm      received and acknowledged, not yet analysed
//! SPOOL/work/<sop uid>.dcm       being analysed by a worker (back to the inbox on restart)
//! SPOOL/outbox/<uid>/*.dcm       results (SC, SR, GSPS of an instance, or a study SR under
//!                                its own SOP Instance UID), not yet delivered
//! SPOOL/studies/<study uid>/     what the study SR needs of each analysed instance
//!                                (see [`crate::study_store`])
//! SPOOL/failed/<sop uid>/        given up: reason.txt, and the source or the results
//! SPOOL/outcomes.jsonl           a line per step: analysed (finding), sent, not assessed, failed
//! ```
//!
//! Each step is a rename or an atomic write, so a crash at any point (SIGKILL included)
//! leaves every acknowledged instance either in the inbox or its results in the outbox,
//! and a restart picks both up: an instance is written here, synced, *before* its C-STORE
//! is acknowledged. Delivery is at least once: results sent just before a crash are sent
//! again, under the same SOP Instance UIDs, which a PACS files once.
//!
//! A worker *claims* an instance by moving it from the inbox to `work/`, so a copy sent
//! again while the first is analysed lands in the inbox beside it instead of replacing the
//! file being read; finishing the claimed copy never touches the newer one, which the
//! worker (or another) claims next. At most one claim per instance at a time.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use crate::error::{NodeError, Result, spool_io};
use crate::policy::is_uid;
use crate::study_clock::StudyClock;

const INBOX: &str = "inbox";
const WORK: &str = "work";
const OUTBOX: &str = "outbox";
const FAILED: &str = "failed";
const OUTCOMES: &str = "outcomes.jsonl";
/// In each outbox entry: which commit it is, so delivery removes only what it sent.
const GENERATION: &str = ".generation";

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

/// What [`Spool::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The instance is this worker's now (in `work/`), until [`Spool::release`].
    Claimed,
    /// Another worker holds a claim on it; that worker claims the newer copy next.
    Busy,
    /// Nothing of it is in the inbox (already analysed: a duplicate in the queue).
    Gone,
}

/// A spool directory, opened by one node at a time.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    /// Copies received and not yet finished (inbox and work).
    inbox_len: AtomicUsize,
    outcomes: Mutex<File>,
    /// Instances claimed by a worker.
    claims: Mutex<HashSet<String>>,
    /// Replacing an outbox entry and removing a delivered one, one at a time.
    outbox_lock: Mutex<()>,
    /// Makes generations unique within one process.
    commits: AtomicUsize,
    /// When each study last changed and what of it is still to be analysed.
    pub(crate) studies: StudyClock,
}

impl Spool {
    /// Opens (creating) the spool, and removes what a crash can leave half-done: temporary
    /// files of an atomic write and result folders not yet moved into the outbox.
    pub fn open(dir: &Path) -> Result<Self> {
        for sub in [INBOX, WORK, OUTBOX, FAILED] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(|e| spool_io(&p, e))?;
            for entry in read_dir(&p)? {
                if entry.starts_with('.') {
                    let path = p.join(&entry);
                    let _ = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
                }
            }
        }
        unclaim_all(dir)?;
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
            claims: Mutex::new(HashSet::new()),
            outbox_lock: Mutex::new(()),
            commits: AtomicUsize::new(0),
            studies: StudyClock::default(),
        };
        let inbox = spool.inbox()?;
        spool.inbox_len.store(inbox.len(), Ordering::SeqCst);
        // Their studies are unknown until analysed: no study is reported before they are.
        spool.studies.resumed(inbox);
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

    fn work_path(&self, uid: &str) -> PathBuf {
        self.dir.join(WORK).join(format!("{uid}.dcm"))
    }

    fn outbox_path(&self, uid: &str) -> PathBuf {
        self.dir.join(OUTBOX).join(uid)
    }

    /// Stores a received instance of `study`, durably, before it is acknowledged. A
    /// second copy of the same instance replaces one still waiting in the inbox; one that
    /// arrives while a worker analyses the first waits beside it (see [`Self::claim`]).
    pub fn accept(&self, uid: &str, study: &str, part10: &[u8]) -> Result<()> {
        check_uid(uid)?;
        let path = self.inbox_path(uid);
        // Under the claims lock: a claim moves the inbox file, so "existed" stays true
        // until the copy is counted as work.
        let claims = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        let existed = path.exists();
        fracdet_io::write::write_file_atomic(&path, part10, true)?;
        if !existed {
            self.inbox_len.fetch_add(1, Ordering::SeqCst);
        }
        self.studies.received(uid, study, !existed);
        drop(claims);
        Ok(())
    }

    /// Claims `uid` for analysis: moves its inbox copy to `work/` unless another worker
    /// holds a claim on it. Read it with [`Self::read_work`]; finish it with
    /// [`Self::commit_results`], [`Self::finish_unassessed`] or [`Self::fail_analysis`],
    /// then [`Self::release`] it and claim again: a copy sent meanwhile is claimed then.
    pub fn claim(&self, uid: &str) -> Result<Claim> {
        check_uid(uid)?;
        let mut claims = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        if claims.contains(uid) {
            return Ok(Claim::Busy);
        }
        let (from, to) = (self.inbox_path(uid), self.work_path(uid));
        match fs::rename(&from, &to) {
            Ok(()) => {
                claims.insert(uid.to_string());
                Ok(Claim::Claimed)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Claim::Gone),
            Err(e) => Err(spool_io(&to, e)),
        }
    }

    /// Ends this worker's claim on `uid`.
    pub fn release(&self, uid: &str) {
        let mut claims = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        claims.remove(uid);
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

    /// The claimed copy of `uid`.
    pub fn read_work(&self, uid: &str) -> Result<Vec<u8>> {
        check_uid(uid)?;
        let path = self.work_path(uid);
        fs::read(&path).map_err(|e| spool_io(&path, e))
    }

    /// Moves a claimed instance's results into the outbox (whole, by one rename) and only
    /// then removes the claimed copy.
    pub fn commit_results(&self, uid: &str, files: &[(&str, &[u8])]) -> Result<()> {
        self.put_outbox(uid, files)?;
        self.remove_work(uid)
    }

    /// Puts `files` into the outbox as entry `uid` (whole, by one rename; an entry of the
    /// same name is replaced). Names starting with a dot are kept but never delivered.
    pub fn put_outbox(&self, uid: &str, files: &[(&str, &[u8])]) -> Result<()> {
        check_uid(uid)?;
        let staging = self.dir.join(OUTBOX).join(format!(".{uid}.partial"));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).map_err(|e| spool_io(&staging, e))?;
        for (name, bytes) in files {
            fracdet_io::write::write_file_atomic(&staging.join(name), bytes, false)?;
        }
        let generation = format!(
            "{}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
            self.commits.fetch_add(1, Ordering::SeqCst)
        );
        fracdet_io::write::write_file_atomic(
            &staging.join(GENERATION),
            generation.as_bytes(),
            false,
        )?;
        let target = self.outbox_path(uid);
        let _lock = self.outbox_lock.lock().unwrap_or_else(|p| p.into_inner());
        // The same instance analysed again (sent twice): the newer results replace.
        let _ = fs::remove_dir_all(&target);
        fs::rename(&staging, &target).map_err(|e| spool_io(&target, e))?;
        sync_dir(&self.dir.join(OUTBOX));
        Ok(())
    }

    /// Which commit the outbox entry `uid` holds now (`None` for none, or one written
    /// before generations existed).
    pub fn outbox_generation(&self, uid: &str) -> Option<String> {
        check_uid(uid).ok()?;
        fs::read_to_string(self.outbox_path(uid).join(GENERATION)).ok()
    }

    /// The claimed copy is finished: it leaves the spool.
    fn remove_work(&self, uid: &str) -> Result<()> {
        let path = self.work_path(uid);
        match fs::remove_file(&path) {
            Ok(()) => {
                self.finished(uid);
                sync_dir(&self.dir.join(WORK));
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(spool_io(&path, e)),
        }
    }

    fn finished(&self, uid: &str) {
        self.inbox_len.fetch_sub(1, Ordering::SeqCst);
        self.studies.finished(uid);
    }

    /// A claimed instance the scope check refused: nothing to deliver, so it leaves the
    /// spool.
    pub fn finish_unassessed(&self, uid: &str) -> Result<()> {
        check_uid(uid)?;
        self.remove_work(uid)
    }

    /// A claimed instance that cannot be analysed: kept under failed/ with the reason.
    pub fn fail_analysis(&self, uid: &str, reason: &str) -> Result<()> {
        check_uid(uid)?;
        let dir = self.fail_dir(uid, reason)?;
        let from = self.work_path(uid);
        let to = dir.join("source.dcm");
        fs::rename(&from, &to).map_err(|e| spool_io(&to, e))?;
        self.finished(uid);
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

    /// Delivered: the results of `generation` (as [`Self::outbox_generation`] said before
    /// sending) leave the spool. `false`: newer results replaced them meanwhile (the
    /// instance was sent again and analysed again); those stay, to be delivered too.
    pub fn delivered(&self, uid: &str, generation: Option<&str>) -> Result<bool> {
        check_uid(uid)?;
        let _lock = self.outbox_lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.outbox_generation(uid).as_deref() != generation {
            return Ok(false);
        }
        let dir = self.outbox_path(uid);
        fs::remove_dir_all(&dir).map_err(|e| spool_io(&dir, e))?;
        Ok(true)
    }

    /// Delivery of `generation` given up: the results move to failed/ with the reason,
    /// unless newer ones replaced them (those get attempts of their own).
    pub fn fail_delivery(&self, uid: &str, reason: &str, generation: Option<&str>) -> Result<()> {
        check_uid(uid)?;
        let _lock = self.outbox_lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.outbox_generation(uid).as_deref() != generation {
            return Ok(());
        }
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

/// After a crash: each claimed copy goes back to the inbox, unless a newer copy of the same
/// instance arrived meanwhile (it was claimed from the inbox, so an inbox copy is newer).
fn unclaim_all(dir: &Path) -> Result<()> {
    let work = dir.join(WORK);
    for name in read_dir(&work)? {
        let Some(uid) = name.strip_suffix(".dcm").filter(|u| is_uid(u)) else {
            continue;
        };
        let (from, to) = (work.join(&name), dir.join(INBOX).join(format!("{uid}.dcm")));
        if to.exists() {
            fs::remove_file(&from).map_err(|e| spool_io(&from, e))?;
        } else {
            fs::rename(&from, &to).map_err(|e| spool_io(&to, e))?;
        }
    }
    sync_dir(&dir.join(INBOX));
    Ok(())
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
        spool.accept("1.2.3", "9.9", b"first").unwrap();
        spool.accept("1.2.4", "9.9", b"second").unwrap();
        spool.accept("1.2.4", "9.9", b"second again").unwrap();
        assert_eq!(spool.inbox_len(), 2);
        assert!(spool.accept("../x", "9.9", b"no").is_err());
        // A crash mid-commit leaves a staging folder; a reopen removes it and keeps the
        // inbox. A crash mid-analysis leaves a claimed copy: back in the inbox.
        fs::create_dir_all(tmp.path().join("outbox/.1.2.3.partial")).unwrap();
        assert_eq!(spool.claim("1.2.4").unwrap(), Claim::Claimed);
        drop(spool);
        let spool = Spool::open(tmp.path()).unwrap();
        assert_eq!(spool.inbox().unwrap().len(), 2);
        assert_eq!(spool.inbox_len(), 2);
        assert!(spool.outbox().unwrap().is_empty());

        assert_eq!(spool.claim("1.2.3").unwrap(), Claim::Claimed);
        assert_eq!(spool.read_work("1.2.3").unwrap(), b"first");
        spool
            .commit_results("1.2.3", &[("sr.dcm", b"sr"), ("pr.dcm", b"pr")])
            .unwrap();
        spool.release("1.2.3");
        assert_eq!(spool.claim("1.2.3").unwrap(), Claim::Gone);
        assert_eq!(spool.inbox().unwrap(), ["1.2.4"]);
        assert_eq!(spool.outbox().unwrap(), ["1.2.3"]);
        let files = spool.outbox_files("1.2.3").unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(spool.claim("1.2.4").unwrap(), Claim::Claimed);
        assert_eq!(spool.read_work("1.2.4").unwrap(), b"second again");
        spool.fail_analysis("1.2.4", "unreadable").unwrap();
        assert_eq!(spool.inbox_len(), 0);
        assert_eq!(spool.failed().unwrap(), ["1.2.4"]);
        assert_eq!(
            fs::read_to_string(tmp.path().join("failed/1.2.4/reason.txt")).unwrap(),
            "unreadable"
        );
        let generation = spool.outbox_generation("1.2.3");
        assert!(generation.is_some());
        spool
            .fail_delivery("1.2.3", "refused", generation.as_deref())
            .unwrap();
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

    /// A copy sent again while the first is claimed waits beside it: finishing the first
    /// leaves it, a second claim meanwhile is refused as busy, and after the release it is
    /// the next claim. A crash with both on disk keeps the newer one only.
    #[test]
    fn a_copy_received_during_analysis_is_kept_for_the_next_claim() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path()).unwrap();
        spool.accept("1.2.3", "9.9", b"old").unwrap();
        assert_eq!(spool.claim("1.2.3").unwrap(), Claim::Claimed);
        spool.accept("1.2.3", "9.9", b"new").unwrap();
        assert_eq!(spool.inbox_len(), 2);
        assert_eq!(spool.claim("1.2.3").unwrap(), Claim::Busy);
        assert_eq!(spool.read_work("1.2.3").unwrap(), b"old");
        spool
            .commit_results("1.2.3", &[("sr.dcm", b"old sr")])
            .unwrap();
        let old = spool.outbox_generation("1.2.3");
        assert_eq!(spool.inbox().unwrap(), ["1.2.3"]);
        spool.release("1.2.3");
        assert_eq!(spool.claim("1.2.3").unwrap(), Claim::Claimed);
        assert_eq!(spool.read_work("1.2.3").unwrap(), b"new");
        // Delivery of the old results ends after the new ones replaced them: the new
        // ones stay for their own delivery.
        spool
            .commit_results("1.2.3", &[("sr.dcm", b"new sr")])
            .unwrap();
        spool.release("1.2.3");
        assert!(!spool.delivered("1.2.3", old.as_deref()).unwrap());
        let files = spool.outbox_files("1.2.3").unwrap();
        assert_eq!(fs::read(&files[0]).unwrap(), b"new sr");
        let new = spool.outbox_generation("1.2.3");
        assert!(spool.delivered("1.2.3", new.as_deref()).unwrap());
        assert!(spool.outbox().unwrap().is_empty());
        assert_eq!(spool.claim("1.2.3").unwrap(), Claim::Gone);

        spool.accept("1.2.3", "9.9", b"newest").unwrap();
        drop(spool);
        let spool = Spool::open(tmp.path()).unwrap();
        assert_eq!(spool.inbox_len(), 1);
        assert_eq!(spool.claim("1.2.3").unwrap(), Claim::Claimed);
        assert_eq!(spool.read_work("1.2.3").unwrap(), b"newest");
    }
}
