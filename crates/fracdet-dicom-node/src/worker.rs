//! An analysis worker: takes SOP Instance UIDs from the queue, claims each in the spool,
//! analyses it, and hands its results to delivery. A copy of the same instance sent again
//! while it is analysed is claimed and analysed next ([`drain`]), never dropped.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use fracdet_detect::Detector;

use crate::analyse::{Analysis, analyse};
use crate::spool::{Claim, Outcome, Spool};
use crate::study_store::{Member, StudyStore};

#[allow(clippy::too_many_arguments)]
pub(crate) fn worker(
    rx: &Mutex<Receiver<String>>,
    spool: &Spool,
    store: &StudyStore,
    detector: &Detector,
    device: &Device,
    stop: &AtomicBool,
    deliver: &mpsc::Sender<String>,
    assess_anyway: bool,
) {
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let next = {
            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv_timeout(Duration::from_millis(200))
        };
        let uid = match next {
            Ok(uid) => uid,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        drain(&uid, spool, |uid| {
            process(uid, spool, store, detector, device, deliver, assess_anyway);
        });
    }
}

/// Claims `uid` and runs `handle` on the claimed copy (which must finish it), then claims
/// again until no copy is left or another worker holds the claim: a copy received while
/// `handle` ran is analysed, not dropped. The worker that finds a claim held leaves the
/// copy to the holder, which claims it after releasing its own (claims and the check for
/// a newer copy are under one lock in [`Spool`]). Returns the copies handled.
pub fn drain(uid: &str, spool: &Spool, mut handle: impl FnMut(&str)) -> usize {
    let mut copies = 0;
    loop {
        match spool.claim(uid) {
            Ok(Claim::Claimed) => {
                copies += 1;
                handle(uid);
                spool.release(uid);
            }
            Ok(Claim::Busy | Claim::Gone) => return copies,
            Err(e) => {
                // Still in the inbox: the next start claims it.
                tracing::error!(instance = uid, "cannot claim for analysis: {e}");
                return copies;
            }
        }
    }
}

fn process(
    uid: &str,
    spool: &Spool,
    store: &StudyStore,
    detector: &Detector,
    device: &Device,
    deliver: &mpsc::Sender<String>,
    assess_anyway: bool,
) {
    let started = Instant::now();
    let analysed = spool
        .read_work(uid)
        .and_then(|bytes| analyse(uid, &bytes, detector, device, assess_anyway));
    let outcome: std::result::Result<(), String> = match analysed {
        Ok(Analysis::Results {
            set,
            findings,
            study,
            header,
        }) => {
            // The member first: once the instance leaves work/ its study SR depends on it.
            let member = Member::new(uid, &findings);
            let committed = store.record(&study, &member, &header).and_then(|()| {
                spool.studies.analysed(&study);
                spool.commit_results(uid, &set.files())
            });
            match committed {
                Ok(()) => {
                    let (finding, probability) = (findings.level.word(), findings.probability);
                    tracing::info!(
                        instance = uid,
                        finding,
                        probability,
                        ms = started.elapsed().as_millis() as u64,
                        "analysed"
                    );
                    let _ = spool.record(&Outcome {
                        sop_instance_uid: uid,
                        outcome: "analysed",
                        study_instance_uid: Some(&study),
                        finding: Some(finding),
                        probability: Some(probability),
                        reason: None,
                    });
                    let _ = deliver.send(uid.to_string());
                    return;
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Ok(Analysis::NotAssessed { reason, report }) => {
            tracing::info!(instance = uid, "not assessed: {reason}");
            let finished = match &report {
                Some(sr) => spool.commit_results(uid, &[("sr.dcm", sr)]),
                None => spool.finish_unassessed(uid),
            };
            if let Err(e) = finished {
                Err(e.to_string())
            } else {
                let _ = spool.record(&Outcome {
                    sop_instance_uid: uid,
                    outcome: "not_assessed",
                    study_instance_uid: None,
                    finding: None,
                    probability: None,
                    reason: Some(&reason),
                });
                if report.is_some() {
                    let _ = deliver.send(uid.to_string());
                }
                return;
            }
        }
        Err(e) => Err(e.to_string()),
    };
    if let Err(reason) = outcome {
        tracing::error!(instance = uid, "analysis failed, kept in failed/: {reason}");
        let _ = spool.fail_analysis(uid, &reason);
        let _ = spool.record(&Outcome {
            sop_instance_uid: uid,
            outcome: "analysis_failed",
            study_instance_uid: None,
            finding: None,
            probability: None,
            reason: Some(&reason),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The race of a re-sent instance, made deterministic: the second copy arrives (and is
    /// queued) while the first is being analysed. The worker that takes the queue entry
    /// meanwhile finds the claim held and leaves it; the holder analyses the second copy
    /// right after the first. Both copies are analysed, in order; nothing is left behind.
    #[test]
    fn a_copy_resent_during_analysis_is_analysed_after_it() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path()).unwrap();
        spool.accept("1.2.3", "9.9", b"first copy").unwrap();
        let mut seen = Vec::new();
        let mut other_worker = None;
        let copies = drain("1.2.3", &spool, |uid| {
            let bytes = spool.read_work(uid).unwrap();
            if seen.is_empty() {
                // Mid-analysis: the sender sends the instance again, and another worker
                // takes its queue entry at once.
                spool.accept(uid, "9.9", b"second copy").unwrap();
                other_worker = Some(drain(uid, &spool, |_| panic!("claimed twice")));
            }
            spool.commit_results(uid, &[("sr.dcm", &bytes)]).unwrap();
            seen.push(bytes);
        });
        assert_eq!(
            other_worker,
            Some(0),
            "the other worker left it to the holder"
        );
        assert_eq!(copies, 2);
        assert_eq!(seen, [b"first copy".to_vec(), b"second copy".to_vec()]);
        assert!(spool.inbox().unwrap().is_empty());
        assert_eq!(spool.inbox_len(), 0);
        let sr = spool.outbox_files("1.2.3").unwrap();
        assert_eq!(std::fs::read(&sr[0]).unwrap(), b"second copy");
    }
}
