//! The accept loop: at most `max_connections` connections, each served by hyper's HTTP/1.1
//! with a header time-out (which is also the keep-alive idle time-out: hyper starts it as
//! soon as a connection waits for the next request's head), a head size limit and the
//! socket wrapper of [`crate::conn_io`]. `axum::serve` has none of these knobs.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::config::ServerConfig;
use crate::conn_io::ConnIo;

/// Over-cap connections lingering at once (see [`linger`]); beyond this they are closed
/// as soon as answered.
const MAX_LINGERING: usize = 64;
/// How long an over-cap connection is read from after its answer, and how much.
const LINGER: Duration = Duration::from_millis(250);
const LINGER_READ: usize = 64 << 10;
/// A pause after an accept error that is not the client's (out of file descriptors), so
/// the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then stops
/// accepting, lets requests in flight finish and returns once every connection has closed.
pub(crate) async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = limits.clone().sanitised();
    // Semaphore::acquire_many takes a u32.
    let max_connections = limits.max_connections.min(u32::MAX as usize >> 1);
    let connections = Arc::new(Semaphore::new(max_connections));
    let lingering = Arc::new(Semaphore::new(MAX_LINGERING));
    let (stop, stopping) = watch::channel(false);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes);
    if limits.max_header_bytes > DEFAULT_MAX_BUF {
        http.max_buf_size(limits.max_header_bytes);
    }
    let refusal = Arc::new(over_capacity_answer(max_connections));
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_clients_error(&e) => continue,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    }
                }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            if turn_away(&stream, &refusal)
                && let Ok(permit) = lingering.clone().try_acquire_owned()
            {
                tokio::spawn(async move {
                    linger(stream).await;
                    drop(permit);
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(ConnIo::new(
            stream,
            limits.max_header_bytes,
            limits.send_timeout,
        ));
        let service = TowerToHyperService::new(app.clone());
        let connection = http.serve_connection(io, service);
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let mut connection = pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_end(result),
                () = stopped(&mut stopping) => {
                    connection.as_mut().graceful_shutdown();
                    log_end(connection.await);
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every permit back means every connection has ended.
    let _all = connections.acquire_many(max_connections as u32).await;
    Ok(())
}

/// hyper's default `max_buf_size` (about 400 KiB), which also caps the head.
const DEFAULT_MAX_BUF: usize = 8192 + 4096 * 100;

/// Completes once `true` is sent (or the sender is gone).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    // The borrow guard is not `Send`: keep it out of any await.
    let _ = stopping.wait_for(|stop| *stop).await.map(|_| ());
}

fn log_end(result: hyper::Result<()>) {
    if let Err(e) = result {
        tracing::debug!("connection ended: {e}");
    }
}

/// Errors of one connection that leave the listener fine.
fn is_clients_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// The whole 503 answer to a connection over the cap, written before its request is read.
fn over_capacity_answer(max_connections: usize) -> Vec<u8> {
    let body = serde_json::json!({
        "error": format!(
            "server busy: {max_connections} connection(s) already open; retry in a moment"
        )
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Writes the 503 without waiting (a fresh socket's send buffer takes a few hundred bytes
/// at once) and reads what the client has sent so far, so that closing sends a FIN, not a
/// reset that could destroy the answer before the client reads it. False if the answer
/// did not go out.
fn turn_away(stream: &TcpStream, answer: &[u8]) -> bool {
    if !matches!(stream.try_write(answer), Ok(n) if n == answer.len()) {
        return false;
    }
    let mut buf = [0u8; 4096];
    let mut read = 0;
    while read < LINGER_READ {
        match stream.try_read(&mut buf) {
            Ok(n) if n > 0 => read += n,
            _ => break,
        }
    }
    true
}

/// Closes the sending side and keeps reading for [`LINGER`], for a request that arrives
/// just after the answer went out.
async fn linger(mut stream: TcpStream) {
    let shut =
        std::future::poll_fn(|cx| tokio::io::AsyncWrite::poll_shutdown(Pin::new(&mut stream), cx));
    if shut.await.is_err() {
        return;
    }
    let until = Instant::now() + LINGER;
    let mut buf = [0u8; 4096];
    let mut read = 0;
    while read < LINGER_READ {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.readable()).await {
            Ok(Ok(())) => match stream.try_read(&mut buf) {
                Ok(0) => return,
                Ok(n) => read += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            },
            _ => return,
        }
    }
}
