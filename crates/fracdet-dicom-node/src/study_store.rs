//! What the study SR needs of each analysed instance, on disk so it outlives a restart:
//!
//! ```text
//! SPOOL/studies/<study uid>/<sop uid>.json     its findings (a Member), written last
//! SPOOL/studies/<study uid>/<sop uid>.hdr.dcm  its header without pixel data
//! SPOOL/studies/<study uid>/reported.json      the members the last study SR covered
//! ```
//!
//! A member is written, synced, *before* its instance leaves the spool's work folder, so a
//! SIGKILL at any point leaves either the instance to analyse again or its member. A study
//! whose members differ from `reported.json` has a study SR due. Each study SR is put in
//! the outbox under its own SOP Instance UID with a `.study.json` copy of what it covers,
//! and `reported.json` is written after that: a crash between the two is mended on open
//! from the outbox, so the SR is neither lost nor made twice.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use fracdet_io::BBox;
use fracdet_io::write::{FindingLevel, ImageFindings, OperatingPointUsed, Region};
use serde::{Deserialize, Serialize};

use crate::error::{NodeError, Result, spool_io};
use crate::policy::is_uid;

const STUDIES: &str = "studies";
const REPORTED: &str = "reported.json";
/// In an outbox entry: what a study SR covers (never delivered: a dot file).
pub const STUDY_MARK: &str = ".study.json";

/// One analysed instance, as its study's SR states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub sop_instance_uid: String,
    /// When it was analysed, ns since the epoch: a copy analysed again changes it, so its
    /// study is reported again.
    pub analysed_ns: u128,
    /// [`FindingLevel::word`].
    pub finding: String,
    pub probability: f32,
    #[serde(default)]
    pub operating_point: Option<(String, f64)>,
    #[serde(default)]
    pub regions: Vec<[f32; 5]>,
    #[serde(default)]
    pub out_of_scope: Option<String>,
}

impl Member {
    pub fn new(uid: &str, f: &ImageFindings) -> Self {
        let analysed_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self {
            sop_instance_uid: uid.to_string(),
            analysed_ns,
            finding: f.level.word().to_string(),
            probability: f.probability,
            operating_point: f
                .operating_point
                .as_ref()
                .map(|p| (p.name.clone(), p.threshold)),
            regions: f
                .regions
                .iter()
                .map(|r| {
                    [
                        r.bbox.x_min,
                        r.bbox.y_min,
                        r.bbox.x_max,
                        r.bbox.y_max,
                        r.score,
                    ]
                })
                .collect(),
            out_of_scope: f.out_of_scope.clone(),
        }
    }

    /// The findings again, as the SR writer takes them.
    pub fn findings(&self) -> ImageFindings {
        ImageFindings {
            level: FindingLevel::from_word(&self.finding).unwrap_or(FindingLevel::Unknown),
            probability: self.probability,
            operating_point: self.operating_point.as_ref().map(|(name, threshold)| {
                OperatingPointUsed {
                    name: name.clone(),
                    threshold: *threshold,
                }
            }),
            regions: self
                .regions
                .iter()
                .map(|r| Region {
                    bbox: BBox::new(r[0], r[1], r[2], r[3]),
                    score: r[4],
                })
                .collect(),
            out_of_scope: self.out_of_scope.clone(),
        }
    }
}

/// What a study SR covers: each member by SOP Instance UID and when it was analysed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub study_instance_uid: String,
    pub members: BTreeMap<String, u128>,
    /// When the SR was committed, ns since the epoch (the latest wins on mending).
    pub committed_ns: u128,
}

/// The studies folder of one spool.
#[derive(Debug)]
pub struct StudyStore {
    dir: PathBuf,
}

impl StudyStore {
    /// Opens (creating) `spool/studies`, mends `reported.json` from study SRs already in
    /// `outbox`, and returns it with the studies whose study SR is due.
    pub fn open(spool: &Path) -> Result<(Self, Vec<String>)> {
        let dir = spool.join(STUDIES);
        fs::create_dir_all(&dir).map_err(|e| spool_io(&dir, e))?;
        let store = Self { dir };
        store.mend_from_outbox(&spool.join("outbox"))?;
        let mut due = Vec::new();
        for study in list(&store.dir)?.into_iter().filter(|s| is_uid(s)) {
            let members = store.members(&study)?;
            let covered = store.reported(&study)?.members;
            if !members.is_empty() && coverage_of(&members) != covered {
                due.push(study);
            }
        }
        Ok((store, due))
    }

    fn study_dir(&self, study: &str) -> Result<PathBuf> {
        if !is_uid(study) {
            return Err(NodeError::BadUid(study.to_string()));
        }
        Ok(self.dir.join(study))
    }

    /// Records an analysed instance: its header copy, then its member file (the member
    /// exists only once both are durable).
    pub fn record(&self, study: &str, member: &Member, header: &[u8]) -> Result<()> {
        let dir = self.study_dir(study)?;
        let uid = &member.sop_instance_uid;
        if !is_uid(uid) {
            return Err(NodeError::BadUid(uid.clone()));
        }
        fs::create_dir_all(&dir).map_err(|e| spool_io(&dir, e))?;
        fracdet_io::write::write_file_atomic(&dir.join(format!("{uid}.hdr.dcm")), header, true)?;
        let json = serde_json::to_vec(member).map_err(|e| json_error(&dir, e))?;
        fracdet_io::write::write_file_atomic(&dir.join(format!("{uid}.json")), &json, true)?;
        Ok(())
    }

    /// The study's members, by SOP Instance UID.
    pub fn members(&self, study: &str) -> Result<Vec<Member>> {
        let dir = self.study_dir(study)?;
        let mut out = Vec::new();
        for name in list(&dir)? {
            let Some(uid) = name.strip_suffix(".json").filter(|u| is_uid(u)) else {
                continue;
            };
            let path = dir.join(&name);
            let bytes = fs::read(&path).map_err(|e| spool_io(&path, e))?;
            let m: Member = serde_json::from_slice(&bytes).map_err(|e| json_error(&path, e))?;
            if m.sop_instance_uid == uid {
                out.push(m);
            }
        }
        out.sort_by(|a, b| a.sop_instance_uid.cmp(&b.sop_instance_uid));
        Ok(out)
    }

    /// A member's header copy.
    pub fn header(&self, study: &str, uid: &str) -> Result<Vec<u8>> {
        let path = self.study_dir(study)?.join(format!("{uid}.hdr.dcm"));
        fs::read(&path).map_err(|e| spool_io(&path, e))
    }

    /// What the study's last SR covered (empty before the first).
    pub fn reported(&self, study: &str) -> Result<Coverage> {
        let path = self.study_dir(study)?.join(REPORTED);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| json_error(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Coverage::default()),
            Err(e) => Err(spool_io(&path, e)),
        }
    }

    /// The study SR covering `coverage` is in the outbox.
    pub fn mark_reported(&self, coverage: &Coverage) -> Result<()> {
        let path = self.study_dir(&coverage.study_instance_uid)?.join(REPORTED);
        let json = serde_json::to_vec(coverage).map_err(|e| json_error(&path, e))?;
        fracdet_io::write::write_file_atomic(&path, &json, true)?;
        Ok(())
    }

    /// A crash after a study SR went into the outbox but before `reported.json` was
    /// written: the outbox entry says what it covered.
    fn mend_from_outbox(&self, outbox: &Path) -> Result<()> {
        let Ok(entries) = list(outbox) else {
            return Ok(());
        };
        for entry in entries.into_iter().filter(|e| is_uid(e)) {
            let path = outbox.join(&entry).join(STUDY_MARK);
            let Ok(bytes) = fs::read(&path) else {
                continue;
            };
            let c: Coverage = serde_json::from_slice(&bytes).map_err(|e| json_error(&path, e))?;
            if self.reported(&c.study_instance_uid)?.committed_ns < c.committed_ns {
                self.mark_reported(&c)?;
            }
        }
        Ok(())
    }
}

/// Members as a [`Coverage`] lists them.
pub fn coverage_of(members: &[Member]) -> BTreeMap<String, u128> {
    members
        .iter()
        .map(|m| (m.sop_instance_uid.clone(), m.analysed_ns))
        .collect()
}

fn list(dir: &Path) -> Result<Vec<String>> {
    let entries = fs::read_dir(dir).map_err(|e| spool_io(dir, e))?;
    Ok(entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect())
}

fn json_error(path: &Path, e: serde_json::Error) -> NodeError {
    spool_io(path, std::io::Error::other(e.to_string()))
}
