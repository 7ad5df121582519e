//! What the server admits: body size, concurrency, time.

use std::net::SocketAddr;
use std::time::Duration;

/// Limits of one server. Every field has a default suited to a small CPU machine.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Where to listen; loopback by default, since the API has no authentication.
    pub addr: SocketAddr,
    /// Largest request body, bytes (default 64 MiB); a larger one is answered 413.
    pub body_limit: usize,
    /// Requests admitted at once: uploading, waiting for a worker or running. The next one
    /// is answered 503 with `Retry-After` at once instead of queueing without bound.
    pub max_concurrent: usize,
    /// Inferences running at once (each on tokio's blocking pool). Admitted requests beyond
    /// this wait for a worker, within `request_timeout`.
    pub workers: usize,
    /// Longest a request may take from admission to answer (upload, wait and inference);
    /// past it the answer is 504. Inference already running finishes in the background and
    /// keeps its place in `max_concurrent`, so the limits stay true.
    pub request_timeout: Duration,
    /// Largest decoded image, pixels (see `fracdet_io::ReadOptions::max_pixels`).
    pub max_pixels: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 64 << 20,
            max_concurrent: (2 * cores).max(4),
            workers: default_workers(cores),
            request_timeout: Duration::from_secs(60),
            max_pixels: fracdet_io::read::DEFAULT_MAX_PIXELS,
        }
    }
}

/// burn's CPU backend already spreads one image's convolutions over the cores, so more
/// workers than cores only makes requests wait on each other (see docs/performance.md).
fn default_workers(cores: usize) -> usize {
    cores.clamp(1, 4)
}

impl ServerConfig {
    /// The limits with zeros raised to one, so a misconfigured server still answers.
    pub(crate) fn sanitised(mut self) -> Self {
        self.body_limit = self.body_limit.max(1);
        self.max_concurrent = self.max_concurrent.max(1);
        self.workers = self.workers.clamp(1, self.max_concurrent);
        self.max_pixels = self.max_pixels.max(1);
        self
    }
}
