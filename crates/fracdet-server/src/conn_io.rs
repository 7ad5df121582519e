//! One client connection's socket as hyper sees it, with two additions hyper has no hook
//! for:
//!
//! - **JSON for hyper's own answers.** hyper answers a request it cannot parse (400), a URI
//!   over 64 KiB (414) or a head over `max_header_bytes` (431) itself, with an empty body,
//!   and closes the connection; the router never sees the request. Such an answer is
//!   recognised as it is written (one of those statuses and no `Content-Type`: every answer
//!   of the router has one) and rewritten with a `{"error": …}` body and
//!   `Connection: close`.
//! - **A send time-out.** A write that makes no progress for `send_timeout` (a client that
//!   stopped reading its answer) fails, and hyper drops the connection.
//!
//! Writes are not vectored, so hyper hands over each answer's head in one buffer (its
//! "flatten" strategy) and the head can be recognised from the start of a write.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::error::human_bytes;

pub(crate) struct ConnIo<T> {
    inner: T,
    max_header_bytes: usize,
    send_timeout: Duration,
    /// Armed while a write is pending; fires after `send_timeout` without progress.
    stalled: Option<Pin<Box<Sleep>>>,
    /// A rewritten answer not yet passed to `inner`, and how much of it has been.
    replacement: Vec<u8>,
    sent: usize,
}

impl<T> ConnIo<T> {
    pub(crate) fn new(inner: T, max_header_bytes: usize, send_timeout: Duration) -> Self {
        Self {
            inner,
            max_header_bytes,
            send_timeout,
            stalled: None,
            replacement: Vec::new(),
            sent: 0,
        }
    }
}

impl<T: AsyncWrite + Unpin> ConnIo<T> {
    /// Ready when `inner`'s write is, or an error once it has stalled for `send_timeout`.
    fn within_send_timeout<R>(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut T>, &mut Context<'_>) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match write(Pin::new(&mut self.inner), cx) {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.send_timeout;
                let stalled = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match stalled.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading its answer",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    /// Passes the rest of a rewritten answer to `inner`.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.replacement.len() {
            let rest = self.replacement[self.sent..].to_vec();
            let n = ready!(self.within_send_timeout(cx, |w, cx| w.poll_write(cx, &rest)))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ConnIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ConnIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        if let Some(answer) = json_for_automatic_answer(buf, this.max_header_bytes) {
            this.replacement = answer;
            this.sent = 0;
            // hyper's bytes are accounted for; ours go out now or on the next poll.
            if let Poll::Ready(Err(e)) = this.poll_replacement(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        this.within_send_timeout(cx, |w, cx| w.poll_write(cx, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        this.within_send_timeout(cx, |w, cx| w.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        this.within_send_timeout(cx, |w, cx| w.poll_shutdown(cx))
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// The answer to write instead of `buf` when `buf` is one of hyper's own bodiless error
/// answers (400, 414, 431): the same status line, hyper's other headers (`Date`), and a
/// JSON body. `None` for anything else.
fn json_for_automatic_answer(buf: &[u8], max_header_bytes: usize) -> Option<Vec<u8>> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut words = status_line.split(' ');
    let version = words.next()?;
    if !matches!(version, "HTTP/1.1" | "HTTP/1.0") {
        return None;
    }
    let message = match words.next()? {
        "400" => {
            "malformed HTTP request: the request line or a header could not be parsed".to_string()
        }
        "414" => "the request URI is too long: the API is POST /v1/detect with the image as \
                  the body"
            .to_string(),
        "431" => format!(
            "the request headers are larger than this server's limit of {}",
            human_bytes(max_header_bytes)
        ),
        _ => return None,
    };
    let mut kept = Vec::new();
    for line in lines {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            // The router's answers always have a type: this one is not the router's.
            "content-type" => return None,
            "content-length" | "connection" | "transfer-encoding" => {}
            _ => kept.push(line),
        }
    }
    // Only a head with nothing after it: hyper's answer has no body.
    if buf.len() != head_end + 4 {
        return None;
    }
    let body = serde_json::json!({ "error": message }).to_string();
    let mut answer = format!("{status_line}\r\n");
    for line in kept {
        answer.push_str(line);
        answer.push_str("\r\n");
    }
    answer.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    Some(answer.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bodiless_errors_are_rewritten() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\
                          date: Wed, 02 Dec 2026 17:00:00 GMT\r\n\r\n";
        let answer = json_for_automatic_answer(hyper_431, 32 << 10).expect("rewritten");
        let answer = String::from_utf8(answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("\r\ndate: Wed, 02 Dec 2026"));
        assert!(head.contains("\r\nconnection: close"));
        assert!(!head.contains("content-length: 0"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(json["error"].as_str().unwrap().contains("limit of 32 KiB"));

        for status in ["400 Bad Request", "414 URI Too Long"] {
            let head = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
            assert!(json_for_automatic_answer(head.as_bytes(), 1024).is_some());
        }
        // The router's own answers carry a type (and a body): left alone.
        let router_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
                           content-length: 2\r\n\r\n{}";
        assert!(json_for_automatic_answer(router_400, 1024).is_none());
        let router_400_head = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
                                content-length: 2\r\n\r\n";
        assert!(json_for_automatic_answer(router_400_head, 1024).is_none());
        assert!(json_for_automatic_answer(b"HTTP/1.1 200 OK\r\n\r\n", 1024).is_none());
        // Body bytes of some other answer, however they start.
        assert!(json_for_automatic_answer(b"HTTP/1.1 400 x\r\n", 1024).is_none());
        assert!(json_for_automatic_answer(b"{\"error\": \"x\"}", 1024).is_none());
    }

    /// Takes at most 16 bytes a write, or (`stuck`) none ever.
    struct Pipe {
        got: Vec<u8>,
        stuck: bool,
    }

    impl AsyncWrite for Pipe {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            if self.stuck {
                return Poll::Pending;
            }
            let n = buf.len().min(16);
            self.got.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    async fn write(io: &mut ConnIo<Pipe>, buf: &[u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, buf)).await
    }

    #[tokio::test]
    async fn rewritten_answers_arrive_whole_through_a_narrow_pipe() {
        let pipe = Pipe {
            got: Vec::new(),
            stuck: false,
        };
        let mut io = ConnIo::new(pipe, 1024, Duration::from_secs(5));
        let hyper_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(write(&mut io, hyper_400).await.unwrap(), hyper_400.len());
        std::future::poll_fn(|cx| Pin::new(&mut io).poll_shutdown(cx))
            .await
            .unwrap();
        let all = String::from_utf8(io.inner.got.clone()).unwrap();
        let body = all.split_once("\r\n\r\n").unwrap().1;
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(
            json["error"].as_str().unwrap().contains("malformed"),
            "{all}"
        );

        // Anything else passes through untouched.
        let mut io = ConnIo::new(
            Pipe {
                got: Vec::new(),
                stuck: false,
            },
            1024,
            Duration::from_secs(5),
        );
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(write(&mut io, ok).await.unwrap(), 16);
        assert_eq!(io.inner.got, ok[..16]);
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_timed_out() {
        let pipe = Pipe {
            got: Vec::new(),
            stuck: true,
        };
        let mut io = ConnIo::new(pipe, 1024, Duration::from_millis(200));
        let started = std::time::Instant::now();
        let err = write(&mut io, b"HTTP/1.1 200 OK\r\n").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(200) && waited < Duration::from_secs(5));
    }
}
