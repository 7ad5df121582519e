//! The node: a listener, a bounded pool of analysis workers and one delivery thread over a
//! shared spool. [`NodePlan`] is everything `fracdet dicom serve` was told; [`run`] runs it
//! until the stop flag is set.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use dicom_ul::association::ServerAssociationOptions;
use dicom_ul::pdu::{
    AssociationRJ, AssociationRJResult, AssociationRJServiceProviderPresentationReason,
    AssociationRJSource, Pdu,
};
use fracdet_detect::Detector;

use crate::error::{NodeError, Result};
use crate::policy::{RADIOGRAPH_CLASSES, TRANSFER_SYNTAXES, VERIFICATION};
use crate::scp::{self, Options, ScpLimits};
use crate::scu::{Destination, Sender, ae_title_ok};
use crate::spool::{Outcome, Spool};
use crate::study_report::study_loop;
use crate::study_store::StudyStore;
use crate::worker::worker;

/// What the node is to do.
#[derive(Debug, Clone)]
pub struct NodePlan {
    pub ae_title: String,
    pub listen: SocketAddr,
    pub destination: Destination,
    pub spool: PathBuf,
    /// Analysis threads (each runs one image at a time through the shared model).
    pub workers: usize,
    /// Associations served at once; one more is rejected (transient, local limit).
    pub max_associations: usize,
    /// Largest PDU this node receives, bytes.
    pub max_pdu: u32,
    /// An association silent this long is aborted.
    pub idle_timeout: Duration,
    pub limits: ScpLimits,
    /// Delivery attempts per result set before it moves to failed/.
    pub send_attempts: u32,
    /// Wait before the second attempt; doubled each time, at most `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Time-out of one network operation towards the destination.
    pub send_timeout: Duration,
    /// Score images outside the model's scope anyway (research only; results say so).
    pub assess_anyway: bool,
    /// A study's SR is sent once no instance of it has arrived for this long and all of
    /// its instances received are analysed (like Orthanc's StableAge).
    pub study_stable: Duration,
}

impl NodePlan {
    /// Checks the plan's values; the error says which is wrong.
    pub fn check(&self) -> Result<()> {
        let bad = |s: &str| Err(NodeError::Config(s.to_string()));
        if !ae_title_ok(&self.ae_title) {
            return bad("--ae-title must be 1-16 printable ASCII characters, no backslash");
        }
        if self.workers == 0 || self.workers > 64 {
            return bad("--workers must be 1 to 64");
        }
        if self.max_associations == 0 {
            return bad("--max-associations must be at least 1");
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.max_pdu) {
            return bad("--max-pdu must be 1024 to 16777216 bytes");
        }
        if self.send_attempts == 0 {
            return bad("--send-attempts must be at least 1");
        }
        if self.idle_timeout.is_zero() || self.send_timeout.is_zero() || self.study_stable.is_zero()
        {
            return bad("time-outs must be positive");
        }
        Ok(())
    }
}

/// Binds the listening socket (so a port in use is an error before anything starts).
pub fn bind(plan: &NodePlan) -> Result<TcpListener> {
    TcpListener::bind(plan.listen).map_err(|source| NodeError::Listen {
        port: plan.listen.port(),
        source,
    })
}

/// Runs the node on `listener` until `stop` is set: resumes what the spool holds, then
/// receives, analyses and delivers. On stop, the listener closes, each worker finishes the
/// image it has, and what remains stays in the spool for the next start.
pub fn run(
    plan: &NodePlan,
    listener: TcpListener,
    detector: Arc<Detector>,
    device: Device,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    plan.check()?;
    let spool = Arc::new(Spool::open(&plan.spool)?);
    let (store, due) = StudyStore::open(&plan.spool)?;
    let store = Arc::new(store);
    // Studies with analysed instances no study SR covers yet: re-timed from now.
    for study in &due {
        spool.studies.analysed(study);
    }
    let (analyse_tx, analyse_rx) = mpsc::channel::<String>();
    let (deliver_tx, deliver_rx) = mpsc::channel::<String>();
    let resumed = spool.inbox()?;
    let undelivered = spool.outbox()?;
    let failed = spool.failed()?.len();
    tracing::warn!(
        inbox = resumed.len(),
        outbox = undelivered.len(),
        failed,
        studies_due = due.len(),
        "spool {} opened",
        plan.spool.display()
    );
    for uid in resumed {
        let _ = analyse_tx.send(uid);
    }
    for uid in undelivered {
        let _ = deliver_tx.send(uid);
    }

    let analyse_rx = Arc::new(Mutex::new(analyse_rx));
    let mut threads = Vec::new();
    for i in 0..plan.workers {
        let (rx, spool, store, detector, device, stop, deliver_tx) = (
            Arc::clone(&analyse_rx),
            Arc::clone(&spool),
            Arc::clone(&store),
            Arc::clone(&detector),
            device.clone(),
            Arc::clone(&stop),
            deliver_tx.clone(),
        );
        let assess_anyway = plan.assess_anyway;
        threads.push(
            std::thread::Builder::new()
                .name(format!("fracdet-worker-{i}"))
                .spawn(move || {
                    worker(
                        &rx,
                        &spool,
                        &store,
                        &detector,
                        &device,
                        &stop,
                        &deliver_tx,
                        assess_anyway,
                    )
                })
                .map_err(|e| NodeError::Config(format!("cannot start a worker: {e}")))?,
        );
    }
    {
        let (spool, stop, deliver_tx) = (Arc::clone(&spool), Arc::clone(&stop), deliver_tx.clone());
        let (model, quiet) = (crate::model_info(detector.name()), plan.study_stable);
        threads.push(
            std::thread::Builder::new()
                .name("fracdet-studies".into())
                .spawn(move || study_loop(&spool, &store, &model, quiet, &deliver_tx, &stop))
                .map_err(|e| NodeError::Config(format!("cannot start the study timer: {e}")))?,
        );
    }
    drop(deliver_tx);
    {
        let (spool, stop) = (Arc::clone(&spool), Arc::clone(&stop));
        let sender = Sender {
            destination: plan.destination.clone(),
            calling_ae_title: plan.ae_title.clone(),
            timeout: plan.send_timeout,
        };
        let policy = RetryPolicy {
            attempts: plan.send_attempts,
            first: plan.first_backoff,
            max: plan.max_backoff,
        };
        threads.push(
            std::thread::Builder::new()
                .name("fracdet-delivery".into())
                .spawn(move || deliver(&deliver_rx, &spool, &sender, &policy, &stop))
                .map_err(|e| NodeError::Config(format!("cannot start delivery: {e}")))?,
        );
    }

    accept_loop(plan, listener, &spool, &analyse_tx, &stop)?;
    drop(analyse_tx);
    for t in threads {
        let _ = t.join();
    }
    Ok(())
}

/// The association options the node receives with: its AE title, PDU limit, time-outs,
/// and the SOP classes and transfer syntaxes of [`crate::policy`].
pub fn receiver_options(plan: &NodePlan) -> Options {
    let mut options = ServerAssociationOptions::new()
        .accept_called_ae_title()
        .ae_title(plan.ae_title.clone())
        .max_pdu_length(plan.max_pdu)
        .read_timeout(plan.idle_timeout)
        .write_timeout(plan.idle_timeout)
        .with_abstract_syntax(VERIFICATION);
    for class in RADIOGRAPH_CLASSES {
        options = options.with_abstract_syntax(*class);
    }
    for ts in TRANSFER_SYNTAXES {
        options = options.with_transfer_syntax(*ts);
    }
    options
}

fn accept_loop(
    plan: &NodePlan,
    listener: TcpListener,
    spool: &Arc<Spool>,
    queue: &mpsc::Sender<String>,
    stop: &AtomicBool,
) -> Result<()> {
    let options = Arc::new(receiver_options(plan));
    let open = Arc::new(AtomicUsize::new(0));
    // Non-blocking, polled: the stop flag is seen within 100 ms.
    listener
        .set_nonblocking(true)
        .map_err(|source| NodeError::Listen {
            port: plan.listen.port(),
            source,
        })?;
    while !stop.load(Ordering::SeqCst) {
        let (stream, _) = match listener.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let _ = stream.set_nonblocking(false);
        if open.load(Ordering::SeqCst) >= plan.max_associations {
            reject_busy(stream);
            continue;
        }
        open.fetch_add(1, Ordering::SeqCst);
        let (options, spool, queue, open, limits) = (
            Arc::clone(&options),
            Arc::clone(spool),
            queue.clone(),
            Arc::clone(&open),
            plan.limits.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("fracdet-association".into())
            .spawn(move || {
                let tally = scp::serve(stream, &options, &spool, &limits, &queue);
                tracing::debug!(?tally, "association done");
                open.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            tracing::error!("cannot serve an association: {e}");
        }
    }
    Ok(())
}

/// One association too many: A-ASSOCIATE-RJ, transient, local limit exceeded, so the
/// sender retries later.
fn reject_busy(mut stream: std::net::TcpStream) {
    use std::io::Write;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    // Read the request first so the peer is not reset mid-send.
    let mut buf = vec![0u8; 64 * 1024];
    let _ = std::io::Read::read(&mut stream, &mut buf);
    let mut out = Vec::new();
    let rj = Pdu::AssociationRJ(AssociationRJ {
        result: AssociationRJResult::Transient,
        source: AssociationRJSource::ServiceProviderPresentation(
            AssociationRJServiceProviderPresentationReason::LocalLimitExceeded,
        ),
    });
    if dicom_ul::pdu::write_pdu(&mut out, &rj).is_ok() {
        let _ = stream.write_all(&out);
    }
    tracing::warn!("association rejected: too many open");
}

/// Retries with exponential back-off.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// The wait after the `failures`-th failed attempt (1-based).
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// Result sets sent together in one association.
const BATCH: usize = 32;

fn deliver(
    rx: &Receiver<String>,
    spool: &Spool,
    sender: &Sender,
    policy: &RetryPolicy,
    stop: &AtomicBool,
) {
    // uid -> (failures so far, not before).
    let mut waiting: HashMap<String, (u32, Instant)> = HashMap::new();
    let mut open = true;
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if open {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(uid) => {
                    waiting.entry(uid).or_insert((0, Instant::now()));
                    // Take whatever else is ready, so a burst goes in few associations.
                    while let Ok(uid) = rx.try_recv() {
                        waiting.entry(uid).or_insert((0, Instant::now()));
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
        } else if waiting.is_empty() {
            return;
        } else {
            std::thread::sleep(Duration::from_millis(200));
        }
        let now = Instant::now();
        let mut ready: Vec<String> = waiting
            .iter()
            .filter(|(_, (_, at))| *at <= now)
            .map(|(uid, _)| uid.clone())
            .collect();
        ready.sort();
        ready.truncate(BATCH);
        if ready.is_empty() {
            continue;
        }
        // Each uid's files, in one association, and which commit of it they are.
        let mut files = Vec::new();
        let mut owners = Vec::new();
        let mut generations: HashMap<&str, Option<String>> = HashMap::new();
        for uid in &ready {
            generations.insert(uid.as_str(), spool.outbox_generation(uid));
            match spool.outbox_files(uid) {
                Ok(list) => {
                    for f in list {
                        files.push(f);
                        owners.push(uid.clone());
                    }
                }
                Err(_) => {
                    waiting.remove(uid);
                }
            }
        }
        let results = sender.store(&files);
        let mut failures: HashMap<&str, String> = HashMap::new();
        for (owner, r) in owners.iter().zip(results) {
            if let Err(e) = r {
                failures.entry(owner.as_str()).or_insert(e);
            }
        }
        for uid in &ready {
            let Some((count, _)) = waiting.get(uid).copied() else {
                continue;
            };
            match failures.get(uid.as_str()) {
                None => {
                    waiting.remove(uid);
                    let generation = generations.get(uid.as_str()).cloned().flatten();
                    if let Ok(false) = spool.delivered(uid, generation.as_deref()) {
                        // Replaced by newer results while sending: those go next.
                        waiting.insert(uid.clone(), (0, Instant::now()));
                    }
                    let _ = spool.record(&Outcome {
                        sop_instance_uid: uid,
                        outcome: "sent",
                        study_instance_uid: None,
                        finding: None,
                        probability: None,
                        reason: None,
                    });
                    tracing::info!(instance = %uid, "results delivered to {}", sender.destination);
                }
                Some(reason) if count + 1 >= policy.attempts => {
                    waiting.remove(uid);
                    tracing::error!(
                        instance = %uid,
                        attempts = count + 1,
                        "delivery failed, kept in failed/: {reason}"
                    );
                    let generation = generations.get(uid.as_str()).cloned().flatten();
                    let _ = spool.fail_delivery(uid, reason, generation.as_deref());
                    let _ = spool.record(&Outcome {
                        sop_instance_uid: uid,
                        outcome: "delivery_failed",
                        study_instance_uid: None,
                        finding: None,
                        probability: None,
                        reason: Some(reason),
                    });
                }
                Some(reason) => {
                    let wait = policy.backoff(count + 1);
                    tracing::warn!(instance = %uid, attempt = count + 1, "delivery failed, retrying in {wait:?}: {reason}");
                    waiting.insert(uid.clone(), (count + 1, Instant::now() + wait));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let p = RetryPolicy {
            attempts: 5,
            first: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        let waits: Vec<u64> = (1..=6).map(|n| p.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(10));
    }
}
