//! Denial of service over real loopback sockets: slow uploads, slow headers, idle
//! connections, too many connections, and the answers hyper itself writes. Every client
//! here is bounded in time and stops by itself.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::http;
use fracdet_server::ServerConfig;

const FRACTURED: &str = "IMG0002316.jpg";

/// A client sending `head` and then the body `Content-Length` promises, one byte each
/// `every`, until `stop` is set or the server closes the connection.
struct Trickle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Trickle {
    fn start(addr: SocketAddr, head: &str, body_bytes: bool, every: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let head = head.to_string();
        let thread = std::thread::spawn(move || {
            let Ok(mut s) = TcpStream::connect(addr) else {
                return;
            };
            let _ = s.set_nodelay(true);
            let mut bytes = head.into_bytes().into_iter();
            // Headers all at once when the body trickles, else the headers trickle.
            if body_bytes {
                let all: Vec<u8> = bytes.by_ref().collect();
                if s.write_all(&all).is_err() {
                    return;
                }
            }
            let mut next_at = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                if Instant::now() >= next_at {
                    let b = if body_bytes { Some(0u8) } else { bytes.next() };
                    match b {
                        Some(b) if s.write_all(&[b]).is_ok() => {}
                        _ => return,
                    }
                    next_at += every;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Trickle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn upload_head(addr: SocketAddr) -> String {
    format!(
        "POST /v1/detect HTTP/1.1\r\nHost: {addr}\r\nContent-Type: image/jpeg\r\n\
         Content-Length: 100000\r\n\r\n"
    )
}

/// The acceptance criterion of issue #16: slow uploads hold no inference slot, so a normal
/// request is answered while eight clients upload at 1 byte/s.
#[test]
fn a_request_is_answered_while_eight_clients_upload_at_one_byte_a_second() {
    let server = common::Running::start(ServerConfig {
        max_concurrent: 4,
        workers: 1,
        ..ServerConfig::default()
    });
    let addr = server.addr;
    let slow: Vec<_> = (0..8)
        .map(|_| Trickle::start(addr, &upload_head(addr), true, Duration::from_secs(1)))
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    let reply = http::post(addr, "/v1/detect", "image/jpeg", &common::sample(FRACTURED)).unwrap();
    let elapsed = started.elapsed();
    let body = String::from_utf8_lossy(&reply.body[..reply.body.len().min(300)]).into_owned();
    assert_eq!(reply.status, 200, "{body}");
    assert!(
        elapsed < Duration::from_secs(5),
        "answered after {elapsed:?}"
    );
    eprintln!("200 after {elapsed:?} with 8 slow uploaders");
    drop(slow);
}

/// How long until the server closes `s`, up to `limit`; `None` if it stayed open.
fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            Err(_) => return Some(started.elapsed()),
        }
        if started.elapsed() > limit {
            return None;
        }
    }
}

const HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// A client that sends its headers at 1 byte/s is closed by the header time-out.
#[test]
fn headers_sent_at_one_byte_a_second_are_cut_off() {
    let server = common::Running::start(ServerConfig {
        header_timeout: HEADER_TIMEOUT,
        ..ServerConfig::default()
    });
    let addr = server.addr;
    let mut s = TcpStream::connect(addr).unwrap();
    let mut writer = s.try_clone().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let trickle = std::thread::spawn(move || {
        for b in head.bytes() {
            if flag.load(Ordering::Relaxed) || writer.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let closed = closed_within(&mut s, Duration::from_secs(8));
    stop.store(true, Ordering::Relaxed);
    trickle.join().unwrap();
    let closed = closed.expect("the connection was still open after 8 s");
    assert!(
        closed >= HEADER_TIMEOUT - Duration::from_millis(100) && closed < Duration::from_secs(4),
        "closed after {closed:?}"
    );
    eprintln!("slow headers closed after {closed:?}");

    // The same time-out closes a kept-alive connection that sends nothing more.
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let started = Instant::now();
    let closed = closed_within(&mut s, Duration::from_secs(8))
        .expect("the idle connection was still open after 8 s");
    assert!(
        started.elapsed() >= HEADER_TIMEOUT - Duration::from_millis(100)
            && closed < Duration::from_secs(4),
        "idle connection closed after {closed:?}"
    );
}

/// A body sent at 1 byte/s is answered 408 (JSON, `Connection: close`) once the grace is
/// over, and its upload slot is free again.
#[test]
fn an_upload_below_the_minimum_rate_is_408_and_closed() {
    let server = common::Running::start(ServerConfig {
        upload_grace: Duration::from_secs(1),
        upload_min_rate: 1024,
        max_uploads: 1,
        ..ServerConfig::default()
    });
    let addr = server.addr;
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(upload_head(addr).as_bytes()).unwrap();
    s.write_all(b"x").unwrap();
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let elapsed = started.elapsed();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(
        json["error"].as_str().unwrap().contains("too slow"),
        "{body}"
    );
    assert!(elapsed < Duration::from_secs(3), "408 after {elapsed:?}");
    let reply = http::post(addr, "/v1/detect", "image/jpeg", &common::sample(FRACTURED)).unwrap();
    assert_eq!(reply.status, 200);
}

/// With every upload slot taken, the next upload is 503 with `Retry-After` and
/// `Connection: close`, a JSON body, and its body is never asked for.
#[test]
fn a_503_closes_the_connection() {
    let server = common::Running::start(ServerConfig {
        max_uploads: 1,
        ..ServerConfig::default()
    });
    let addr = server.addr;
    let slow = Trickle::start(addr, &upload_head(addr), true, Duration::from_secs(1));
    std::thread::sleep(Duration::from_millis(500));
    let reply = http::post(addr, "/v1/detect", "image/jpeg", &common::sample(FRACTURED)).unwrap();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(reply.json()["error"].as_str().unwrap().contains("upload"));
    let health = http::get(addr, "/healthz").unwrap().json();
    assert_eq!(health["uploading"], 1, "{health}");
    drop(slow);
}

/// Over the connection cap a new client gets a clean 503 (JSON, `Connection: close`);
/// once the others close, /healthz answers again.
#[test]
fn over_the_connection_cap_clients_are_turned_away_cleanly() {
    let server = common::Running::start(ServerConfig {
        max_connections: 4,
        ..ServerConfig::default()
    });
    let addr = server.addr;
    let idle: Vec<_> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        let reply = http::get(addr, "/healthz").expect("a clean answer");
        assert_eq!(reply.status, 503);
        assert_eq!(reply.header("connection"), Some("close"));
        assert!(
            reply.json()["error"]
                .as_str()
                .unwrap()
                .contains("4 connection(s)")
        );
    }
    drop(idle);
    std::thread::sleep(Duration::from_millis(300));
    let reply = http::get(addr, "/healthz").unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "ok");
}

fn assert_json_error(reply: &http::Reply, status: u16, says: &str) {
    assert_eq!(reply.status, status);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("connection"), Some("close"));
    let json = reply.json();
    let message = json["error"].as_str().unwrap();
    assert!(message.contains(says), "{status}: {message}");
}

/// hyper answers these itself, before the router sees the request; they still carry a
/// JSON body.
#[test]
fn heads_hyper_refuses_are_answered_in_json() {
    let server = common::Running::start(ServerConfig {
        max_header_bytes: 128 << 10,
        ..ServerConfig::default()
    });
    let addr = server.addr;
    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200 << 10)
    );
    assert_json_error(
        &http::raw(addr, big_header.as_bytes()).unwrap(),
        431,
        "128 KiB",
    );
    let long_uri = format!(
        "GET /healthz?{} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
        "a".repeat(70_000)
    );
    assert_json_error(&http::raw(addr, long_uri.as_bytes()).unwrap(), 414, "URI");
    let bad_header = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nno colon here\r\n\r\n");
    assert_json_error(
        &http::raw(addr, bad_header.as_bytes()).unwrap(),
        400,
        "malformed",
    );
    assert_json_error(
        &http::raw(addr, b"\x01\x02 garbage\r\n\r\n").unwrap(),
        400,
        "malformed",
    );

    // The default head limit, 32 KiB.
    let server = common::Running::start(ServerConfig::default());
    let addr = server.addr;
    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40 << 10)
    );
    assert_json_error(
        &http::raw(addr, big_header.as_bytes()).unwrap(),
        431,
        "32 KiB",
    );
    assert_eq!(http::get(addr, "/healthz").unwrap().status, 200);
}
