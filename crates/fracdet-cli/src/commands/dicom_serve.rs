//! `fracdet dicom serve`: fracdet as a DICOM node (fracdet-dicom-node). This file only turns
//! flags into a [`NodePlan`]; what the node does is in the library.
//!
//! Exit codes: 0 after Ctrl-C/SIGTERM (the spool keeps what was not finished), 2 for a bad
//! flag or a port that cannot be listened on, 1 for any other failure.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use fracdet_detect::Detector;
use fracdet_dicom_node::{Destination, NodePlan, ScpLimits};

use crate::usage::usage;

#[derive(Debug, Subcommand)]
pub enum DicomCommand {
    /// Receive radiographs by C-STORE, analyse them, send SR, GSPS and SC results back by
    /// C-STORE, and a study SR once a study is stable; C-ECHO answered. Every acknowledged
    /// instance is spooled first.
    Serve(DicomServeArgs),
}

#[derive(Debug, Args)]
pub struct DicomServeArgs {
    /// This node's AE title; associations calling another title are rejected.
    #[arg(long, default_value = "FRACDET")]
    pub ae_title: String,
    /// TCP port to listen on.
    #[arg(long, default_value_t = 11112)]
    pub port: u16,
    /// Address to listen on (loopback by default: DICOM has no authentication here).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Where results are sent: AE@HOST:PORT (the PACS).
    #[arg(long, value_name = "AE@HOST:PORT")]
    pub send_to: String,
    /// Spool folder: received instances and undelivered results survive a restart here.
    #[arg(long, value_name = "DIR")]
    pub spool: PathBuf,
    /// Model bundle or training run; default: the bundled model.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Analysis workers (one image each at a time).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Associations served at once; one more is rejected as a transient local limit.
    #[arg(long, default_value_t = 16)]
    pub max_associations: usize,
    /// Largest PDU received, bytes.
    #[arg(long, default_value_t = 65_536)]
    pub max_pdu: u32,
    /// Largest instance accepted, MiB; a larger one is answered "out of resources".
    #[arg(long, default_value_t = 256)]
    pub max_instance_mb: usize,
    /// Instances waiting for analysis before new ones are refused ("out of resources").
    #[arg(long, default_value_t = 10_000)]
    pub max_spooled: usize,
    /// An association silent this long is aborted, seconds.
    #[arg(long, default_value_t = 60.0)]
    pub idle_timeout_s: f64,
    /// Delivery attempts per result set before it is kept in SPOOL/failed/.
    #[arg(long, default_value_t = 8)]
    pub send_attempts: u32,
    /// Wait before the second delivery attempt, seconds; doubled each time, at most 300.
    #[arg(long, default_value_t = 2.0)]
    pub retry_s: f64,
    /// Time-out of one network operation towards the destination, seconds.
    #[arg(long, default_value_t = 30.0)]
    pub send_timeout_s: f64,
    /// Score images the scope checks refuse anyway (research only; the results say so).
    #[arg(long)]
    pub assess_anyway: bool,
    /// A study's SR (all its analysed images, the most suspicious deciding) is sent once
    /// no instance of it has arrived for this long, seconds, and all are analysed.
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    pub study_stable_secs: f64,
}

pub fn run(cmd: DicomCommand, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    match cmd {
        DicomCommand::Serve(args) => serve(args, device),
    }
}

fn seconds(flag: &str, s: f64) -> anyhow::Result<Duration> {
    if s.is_finite() && s > 0.0 && s < 1e6 {
        Ok(Duration::from_secs_f64(s))
    } else {
        usage(format!("{flag} must be a positive number of seconds"))
    }
}

fn plan(args: &DicomServeArgs) -> anyhow::Result<NodePlan> {
    let destination: Destination = match args.send_to.parse() {
        Ok(d) => d,
        Err(e) => return usage(format!("--send-to: {e}")),
    };
    let plan = NodePlan {
        ae_title: args.ae_title.clone(),
        listen: SocketAddr::new(args.bind, args.port),
        destination,
        spool: args.spool.clone(),
        workers: args.workers,
        max_associations: args.max_associations,
        max_pdu: args.max_pdu,
        idle_timeout: seconds("--idle-timeout-s", args.idle_timeout_s)?,
        limits: ScpLimits {
            max_instance_bytes: args.max_instance_mb.saturating_mul(1 << 20),
            max_spooled: args.max_spooled,
        },
        send_attempts: args.send_attempts,
        first_backoff: seconds("--retry-s", args.retry_s)?,
        max_backoff: Duration::from_secs(300),
        send_timeout: seconds("--send-timeout-s", args.send_timeout_s)?,
        assess_anyway: args.assess_anyway,
        study_stable: seconds("--study-stable-secs", args.study_stable_secs)?,
    };
    if let Err(e) = plan.check() {
        return usage(e.to_string());
    }
    Ok(plan)
}

fn serve(args: DicomServeArgs, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    let plan = plan(&args)?;
    let listener = match fracdet_dicom_node::bind(&plan) {
        Ok(l) => l,
        Err(e) => return usage(e.to_string()),
    };
    let device = crate::device::select(device)?;
    let detector = match &args.model {
        Some(path) => Detector::open(path, &device)
            .with_context(|| format!("cannot open model {}", path.display()))?,
        None => crate::bundled::detector(&device)?,
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    eprintln!(
        "fracdet DICOM node {} listening on {} with model {}, {} worker(s); results to {}; spool {}",
        plan.ae_title,
        plan.listen,
        detector.name(),
        plan.workers,
        plan.destination,
        plan.spool.display()
    );
    fracdet_dicom_node::run(&plan, listener, Arc::new(detector), device, stop)?;
    eprintln!(
        "stopped; what was not finished stays in {}",
        plan.spool.display()
    );
    Ok(ExitCode::SUCCESS)
}
