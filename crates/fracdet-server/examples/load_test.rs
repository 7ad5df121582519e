//! A bounded load test of the HTTP API, loopback only: N requests with the sample
//! radiographs, C at a time; prints p50/p95/p99 latency, throughput, the answers by status
//! and the server's peak resident memory (VmHWM). `--bad-every K` makes every K-th request
//! a bad one (a truncated JPEG, then a text/plain body, in turn), which must be refused
//! (422, 415) while the good ones keep being answered.
//!
//! ```sh
//! # in-process server on the bundled model (models/default)
//! cargo run --release -p fracdet-server --example load_test -- --requests 200 --concurrency 8
//! # or the real binary, started and stopped by the load test
//! cargo run --release -p fracdet-server --example load_test -- --requests 200 --concurrency 8 \
//!     --server-bin target/release/fracdet
//! # or a server already running (give its pid for the memory figure)
//! cargo run --release -p fracdet-server --example load_test -- --addr 127.0.0.1:8080 --pid 1234
//! ```
//!
//! Nothing but 127.0.0.1 / ::1 is ever contacted.

#[path = "../tests/common/http.rs"]
mod http;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Options {
    requests: usize,
    concurrency: usize,
    addr: Option<SocketAddr>,
    pid: Option<u32>,
    server_bin: Option<PathBuf>,
    workers: Option<usize>,
    samples: PathBuf,
    bad_every: Option<usize>,
}

fn main() {
    let o = match parse(std::env::args().skip(1).collect()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("load_test: {e}");
            std::process::exit(2);
        }
    };
    let bodies = Arc::new(load_samples(&o.samples));
    // The server: given, spawned, or in this process.
    let mut child: Option<Child> = None;
    let (addr, pid, mode) = match (&o.addr, &o.server_bin) {
        (Some(a), _) => (*a, o.pid, "external server".to_string()),
        (None, Some(bin)) => {
            let (c, a) = spawn_server(bin, &o);
            let pid = c.id();
            child = Some(c);
            (
                a,
                Some(pid),
                format!("`{} serve` (child process)", bin.display()),
            )
        }
        (None, None) => (
            start_in_process(&o),
            Some(std::process::id()),
            "in-process server".to_string(),
        ),
    };
    assert!(addr.ip().is_loopback(), "loopback only");
    wait_healthy(addr);
    let rss_before = pid.and_then(|p| status_kib(p, "VmRSS"));

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..o.concurrency)
        .map(|_| {
            let (next, bodies) = (next.clone(), bodies.clone());
            let n = o.requests;
            let bad_every = o.bad_every;
            std::thread::spawn(move || {
                let mut results = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break results;
                    }
                    let body = &bodies[i % bodies.len()];
                    let bad = bad_every.is_some_and(|k| k > 0 && i % k == k - 1);
                    let (content_type, body, want) = match (bad, (i / bad_every.unwrap_or(1)) % 2) {
                        (false, _) => ("image/jpeg", &body[..], 200),
                        (true, 0) => ("image/jpeg", &body[..body.len() / 3], 422),
                        (true, _) => ("text/plain", &body[..], 415),
                    };
                    let t = Instant::now();
                    let status = match http::post(addr, "/v1/detect", content_type, body) {
                        Ok(r) => r.status,
                        Err(_) => 0,
                    };
                    results.push((status, want, t.elapsed()));
                }
            })
        })
        .collect();
    let mut results: Vec<(u16, u16, Duration)> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("client thread"))
        .collect();
    let wall = started.elapsed();
    let peak = pid.and_then(|p| status_kib(p, "VmHWM"));
    let rss_after = pid.and_then(|p| status_kib(p, "VmRSS"));

    results.sort_by_key(|r| r.2);
    let ok: Vec<Duration> = results.iter().filter(|r| r.0 == 200).map(|r| r.2).collect();
    let as_expected = results.iter().filter(|r| r.0 == r.1).count();
    let mut by_status = std::collections::BTreeMap::new();
    for r in &results {
        *by_status.entry(r.0).or_insert(0usize) += 1;
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pct = |q: f64| {
        if ok.is_empty() {
            f64::NAN
        } else {
            ms(ok[((ok.len() - 1) as f64 * q).round() as usize])
        }
    };
    let mib = |k: Option<u64>| {
        k.map_or("n/a".to_string(), |k| {
            format!("{:.0} MiB", k as f64 / 1024.0)
        })
    };
    println!("server:        {mode} on {addr}");
    println!(
        "requests:      {} ({} at a time), {} sample image(s) in turn",
        o.requests,
        o.concurrency,
        bodies.len()
    );
    println!(
        "answers:       {by_status:?} (0 = no answer); {as_expected} of {} as expected",
        results.len()
    );
    println!("wall time:     {:.1} s", wall.as_secs_f64());
    println!(
        "throughput:    {:.2} answered requests/s",
        ok.len() as f64 / wall.as_secs_f64()
    );
    println!(
        "latency (200): p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        pct(0.50),
        pct(0.95),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "server memory: RSS {} before, {} after, peak (VmHWM) {}",
        mib(rss_before),
        mib(rss_after),
        mib(peak)
    );
    if let Some(mut c) = child {
        // SIGTERM: the server's graceful shutdown, not a kill.
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let _ = c.wait();
    }
    if as_expected != o.requests {
        std::process::exit(1);
    }
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut o = Options {
        requests: 200,
        concurrency: 8,
        addr: None,
        pid: None,
        server_bin: None,
        workers: None,
        bad_every: None,
        samples: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples"),
    };
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{v}: {e}"));
        match flag.as_str() {
            "--requests" => o.requests = number(value()?)?,
            "--concurrency" => o.concurrency = number(value()?)?.max(1),
            "--workers" => o.workers = Some(number(value()?)?),
            "--bad-every" => o.bad_every = Some(number(value()?)?),
            "--pid" => o.pid = Some(number(value()?)? as u32),
            "--addr" => {
                let a: SocketAddr = value()?.parse().map_err(|e| format!("--addr: {e}"))?;
                if !a.ip().is_loopback() {
                    return Err(format!("--addr {a}: the load test talks to loopback only"));
                }
                o.addr = Some(a);
            }
            "--server-bin" => o.server_bin = Some(PathBuf::from(value()?)),
            "--samples" => o.samples = PathBuf::from(value()?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

fn load_samples(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .jpg in {}", dir.display());
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

fn start_in_process(o: &Options) -> SocketAddr {
    let device = burn::tensor::Device::flex();
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/default");
    let detector = fracdet_detect::Detector::open(&model, &device).expect("open models/default");
    let defaults = fracdet_server::ServerConfig::default();
    let config = fracdet_server::ServerConfig {
        max_concurrent: defaults.max_concurrent.max(o.concurrency),
        max_uploads: defaults.max_uploads.max(o.concurrency),
        workers: o.workers.unwrap_or(defaults.workers),
        ..defaults
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("address")).ok();
            let app = fracdet_server::router(Arc::new(detector), device, config.clone());
            fracdet_server::serve(listener, app, &config, std::future::pending())
                .await
                .expect("serve");
        });
    });
    rx.recv().expect("server address")
}

fn spawn_server(bin: &Path, o: &Options) -> (Child, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--addr", &addr.to_string()])
        .args(["--max-concurrent", &o.concurrency.max(4).to_string()])
        .args(["--max-uploads", &o.concurrency.max(16).to_string()])
        .stdout(Stdio::null());
    if let Some(w) = o.workers {
        cmd.args(["--workers", &w.to_string()]);
    }
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    (child, addr)
}

fn wait_healthy(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if http::get(addr, "/healthz").is_ok_and(|r| r.status == 200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{addr}/healthz did not answer within 120 s");
}

/// A `kB` line of /proc/PID/status (Linux), KiB.
fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
