//! `fracdet serve`: the HTTP API and web viewer of fracdet-server, with one model loaded
//! once and shared. Ctrl-C (or SIGTERM) stops accepting and lets requests in flight finish.

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
    /// Requests admitted at once (uploading, waiting or running); the next is answered 503.
    /// Default: twice the cores, at least 4.
    #[arg(long, value_name = "N")]
    pub max_concurrent: Option<usize>,
    /// Inferences running at once. Default: the cores, at most 4.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Longest a request may take, seconds; past it the answer is 504.
    #[arg(long, value_name = "S", default_value_t = 60.0)]
    pub timeout_s: f64,
}

pub fn run(args: ServeArgs, device: crate::device::DeviceChoice) -> anyhow::Result<ExitCode> {
    let defaults = ServerConfig::default();
    anyhow::ensure!(
        args.timeout_s.is_finite() && args.timeout_s > 0.0,
        "--timeout-s must be a positive number of seconds"
    );
    anyhow::ensure!(args.body_limit_mb > 0, "--body-limit-mb must be at least 1");
    let config = ServerConfig {
        addr: args.addr,
        body_limit: args.body_limit_mb.saturating_mul(1 << 20),
        max_concurrent: args.max_concurrent.unwrap_or(defaults.max_concurrent),
        workers: args.workers.unwrap_or(defaults.workers),
        request_timeout: Duration::from_secs_f64(args.timeout_s),
        ..defaults
    };
    anyhow::ensure!(
        config.max_concurrent > 0 && config.workers > 0,
        "--max-concurrent and --workers must be at least 1"
    );
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
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let local = listener.local_addr()?;
        eprintln!(
            "fracdet serve: model {name}, listening on http://{local}/ (POST /v1/detect, \
             GET /healthz); at most {} request(s) at once, {} inference(s); Ctrl-C stops",
            config.max_concurrent, config.workers
        );
        eprintln!("A concurrent reading aid, not for standalone diagnosis.");
        let app = fracdet_server::router(Arc::new(detector), device, config);
        fracdet_server::serve(listener, app, shutdown_signal())
            .await
            .context("server failed")
    })?;
    eprintln!("fracdet serve: stopped");
    Ok(ExitCode::SUCCESS)
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
