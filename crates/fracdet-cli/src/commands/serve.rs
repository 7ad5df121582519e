//! `fracdet serve`: the HTTP API and web viewer of fracdet-server, with one model loaded
//! once and shared. Ctrl-C (or SIGTERM) stops accepting and lets requests in flight finish.
//!
//! Exit codes: 0 after a clean stop, 2 for a usage error (a bad limit, an address that
//! cannot be listened on), 1 for any other failure.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use fracdet_detect::Detector;
use fracdet_server::ServerConfig;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Model bundle (model.json) or training run directory; default: the bundled model.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Address to listen on. The API has no authentication: keep it on loopback unless a
    /// proxy in front of it adds some.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Largest request body, MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub body_limit_mb: usize,
    /// Requests with their body in, waiting or running; the next is answered 503.
    /// Default: twice the cores, at least 4.
    #[arg(long, value_name = "N")]
    pub max_concurrent: Option<usize>,
    /// Uploads received at once; the next is answered 503 before its body is read.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub max_uploads: usize,
    /// Slowest upload kept, KiB/s, after its first 10 s; a slower one is answered 408.
    #[arg(long, value_name = "KIB", default_value_t = 16)]
    pub min_upload_kib_s: u64,
    /// Open connections at once; one more is answered 503 and closed.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_connections: usize,
    /// Longest wait for a request's headers, also between requests on a kept-alive
    /// connection, seconds; past it the connection is closed.
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    pub header_timeout_s: f64,
    /// Inferences running at once. Default: the cores, at most 4.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Longest a request may take, seconds; past it the answer is 408 while the body is
    /// still coming, else 504.
    #[arg(long, value_name = "S", default_value_t = 60.0)]
    pub timeout_s: f64,
    /// Files in one multipart request (several DICOM files of a study give a study
    /// finding); more is answered 413.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub max_files: usize,
    /// Give a finding even for images the applicability or typicality check refuses
    /// (research only): each such answer carries `assessed_anyway` with the check's reason.
    #[arg(long)]
    pub assess_anyway: bool,
}

pub fn run(args: ServeArgs, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    let config = match config(&args) {
        Ok(config) => config,
        Err(message) => return Ok(usage_error(&message)),
    };
    let device = crate::device::select(device)?;
    let detector = match &args.model {
        Some(path) => Detector::open(path, &device)
            .with_context(|| format!("cannot open model {}", path.display()))?,
        None => crate::bundled::detector(&device)?,
    };
    let name = detector.name().to_string();

    // Network I/O needs few threads; inference runs on tokio's blocking pool, limited by
    // `workers`, and spreads over the cores inside burn.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("fracdet-serve")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(config.addr).await {
            Ok(l) => l,
            // The address asked for is the problem (in use, not this machine's, privileged).
            Err(e) => {
                return Ok(usage_error(&format!(
                    "cannot listen on {}: {e}",
                    config.addr
                )));
            }
        };
        let local = listener.local_addr()?;
        eprintln!(
            "fracdet serve: model {name}, listening on http://{local}/ (POST /v1/detect, \
             GET /healthz); at most {} connection(s), {} upload(s), {} request(s) waiting or \
             running, {} inference(s); Ctrl-C stops",
            config.max_connections, config.max_uploads, config.max_concurrent, config.workers
        );
        eprintln!("A concurrent reading aid, not for standalone diagnosis.");
        let app = fracdet_server::router(Arc::new(detector), device, config.clone());
        fracdet_server::serve(listener, app, &config, shutdown_signal())
            .await
            .context("server failed")?;
        eprintln!("fracdet serve: stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// The server's limits from the flags, or what is wrong with them.
fn config(args: &ServeArgs) -> Result<ServerConfig, String> {
    let defaults = ServerConfig::default();
    let seconds = |flag: &str, s: f64| {
        if s.is_finite() && s > 0.0 && s < 1e9 {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(format!(
                "{flag} must be a positive number of seconds, not {s}"
            ))
        }
    };
    let at_least_one = |flag: &str, n: usize| {
        if n > 0 {
            Ok(n)
        } else {
            Err(format!("{flag} must be at least 1"))
        }
    };
    let max_concurrent = args.max_concurrent.unwrap_or(defaults.max_concurrent);
    Ok(ServerConfig {
        addr: args.addr,
        body_limit: at_least_one("--body-limit-mb", args.body_limit_mb)?.saturating_mul(1 << 20),
        max_concurrent: at_least_one("--max-concurrent", max_concurrent)?,
        workers: at_least_one("--workers", args.workers.unwrap_or(defaults.workers))?,
        max_uploads: at_least_one("--max-uploads", args.max_uploads)?,
        max_connections: at_least_one("--max-connections", args.max_connections)?,
        request_timeout: seconds("--timeout-s", args.timeout_s)?,
        header_timeout: seconds("--header-timeout-s", args.header_timeout_s)?,
        upload_min_rate: args.min_upload_kib_s.saturating_mul(1 << 10),
        max_files: at_least_one("--max-files", args.max_files)?,
        assess_anyway: args.assess_anyway,
        ..defaults
    })
}

/// One line on stderr and exit code 2, as for clap's own usage errors.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// Ctrl-C, or SIGTERM on Unix (what `docker stop` and systemd send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handling: run until killed.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    eprintln!("fracdet serve: shutting down, finishing requests in flight");
}
