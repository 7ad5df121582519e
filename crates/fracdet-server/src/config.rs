//! What the server admits: connections, header and body sizes, concurrency, time.

use std::net::SocketAddr;
use std::time::Duration;

/// Limits of one server. Every field has a default suited to a small CPU machine on one
/// workstation; docs/security.md says what each one defends against.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Where to listen; loopback by default, since the API has no authentication.
    pub addr: SocketAddr,
    /// Largest request body, bytes (default 64 MiB); a larger one is answered 413.
    pub body_limit: usize,
    /// Bodies being received at once (default 16). The next upload is answered 503 with
    /// `Retry-After` and `Connection: close` before any of its body is read. Memory for
    /// bodies is bounded by `(max_uploads + max_concurrent) × body_limit`.
    pub max_uploads: usize,
    /// Requests whose body is in, waiting for a worker or running (default twice the
    /// cores, at least 4). The next one is answered 503 at once instead of queueing without
    /// bound; it is checked before the upload too, so a full server turns uploads away
    /// before they are sent (`Expect: 100-continue`).
    pub max_concurrent: usize,
    /// Inferences running at once (each on tokio's blocking pool). Requests beyond this
    /// wait for a worker, within `request_timeout`.
    pub workers: usize,
    /// Longest a request may take from its headers to its answer (upload, wait and
    /// inference; default 60 s). Past it the answer is 408 while the body is still coming
    /// and 504 after. Inference already running finishes in the background and keeps its
    /// place in `max_concurrent`, so the limits stay true.
    pub request_timeout: Duration,
    /// Slowest upload kept, bytes per second (default 16 KiB/s), after `upload_grace`: by
    /// time t an upload must have sent `upload_min_rate × (t − upload_grace)` bytes, else
    /// it is answered 408 and the connection closed.
    pub upload_min_rate: u64,
    /// Time an upload may take before `upload_min_rate` applies (default 10 s).
    pub upload_grace: Duration,
    /// Open connections (default 256). One more is answered 503 with `Connection: close`
    /// at once and closed, so a flood of idle sockets cannot exhaust file descriptors.
    pub max_connections: usize,
    /// Longest wait for a request's headers, also between requests on a kept-alive
    /// connection (default 10 s); past it the connection is closed without an answer.
    pub header_timeout: Duration,
    /// Largest request head (request line and headers), bytes (default 32 KiB); a larger
    /// one is answered 431 (or 414 for the URI alone, which hyper caps at 64 KiB).
    pub max_header_bytes: usize,
    /// Longest a write to the client may stall (default 30 s): a client that stops
    /// reading its answer is disconnected.
    pub send_timeout: Duration,
    /// Files in one multipart request (default 32); more is answered 413. Several files
    /// are analysed one after another on one worker, within `request_timeout`.
    pub max_files: usize,
    /// Largest decoded image, pixels (see `fracdet_io::ReadOptions::max_pixels`).
    pub max_pixels: u64,
    /// Answer images the applicability or typicality check refuses as well, marking them
    /// (research only; default false: they are answered "not_assessed").
    pub assess_anyway: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 64 << 20,
            max_uploads: 16,
            max_concurrent: (2 * cores).max(4),
            workers: default_workers(cores),
            request_timeout: Duration::from_secs(60),
            upload_min_rate: 16 << 10,
            upload_grace: Duration::from_secs(10),
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 32 << 10,
            send_timeout: Duration::from_secs(30),
            max_files: 32,
            max_pixels: fracdet_io::read::DEFAULT_MAX_PIXELS,
            assess_anyway: false,
        }
    }
}

/// burn's CPU backend already spreads one image's convolutions over the cores, so more
/// workers than cores only makes requests wait on each other (see docs/performance.md).
fn default_workers(cores: usize) -> usize {
    cores.clamp(1, 4)
}

/// hyper needs room for at least a request line and a few headers.
const MIN_HEADER_BYTES: usize = 1 << 10;
/// A zero time-out would close every connection at once.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

impl ServerConfig {
    /// The limits with zeros raised to the smallest that works, so a misconfigured server
    /// still answers.
    pub(crate) fn sanitised(mut self) -> Self {
        self.body_limit = self.body_limit.max(1);
        self.max_uploads = self.max_uploads.max(1);
        self.max_concurrent = self.max_concurrent.max(1);
        self.workers = self.workers.clamp(1, self.max_concurrent);
        self.max_connections = self.max_connections.max(1);
        self.max_header_bytes = self.max_header_bytes.max(MIN_HEADER_BYTES);
        self.header_timeout = self.header_timeout.max(MIN_TIMEOUT);
        self.send_timeout = self.send_timeout.max(MIN_TIMEOUT);
        self.max_files = self.max_files.max(1);
        self.max_pixels = self.max_pixels.max(1);
        self
    }
}
