//! `fracdet serve` as a user starts it: the binary with the bundled model on an ephemeral
//! loopback port. It must say where it listens, answer `/healthz` and `/v1/detect` with the
//! same probability `fracdet detect` gives for the same file, reject junk with a JSON error,
//! and stop cleanly (exit 0) on Ctrl-C. The router itself is tested in fracdet-server.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SAMPLE: &str = "IMG0000254.jpg";

/// One HTTP/1.1 request on a fresh connection: (status code, body).
fn request(addr: &str, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to fracdet serve");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Waits up to `limit` for `child` to exit.
fn wait_for(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn serve_answers_like_detect_and_stops_on_ctrl_c() {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples")
        .join(SAMPLE);
    let jpeg = std::fs::read(&sample).expect("bundled sample image");

    let mut child = Command::new(env!("CARGO_BIN_EXE_fracdet"))
        .args(["serve", "--addr", "127.0.0.1:0", "--workers", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fracdet serve");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let addr = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let _ = child.kill();
            panic!("fracdet serve exited before listening:\n{seen}");
        }
        seen.push_str(&line);
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split('/').next().unwrap().to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });

    let (status, body) = request(&addr, "GET", "/healthz", "text/plain", b"");
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok", "{body}");

    let (status, body) = request(&addr, "POST", "/v1/detect", "image/jpeg", &jpeg);
    assert_eq!(status, 200, "{body}");
    let served: serde_json::Value = serde_json::from_str(&body).unwrap();
    let served_p = served["probability"].as_f64().expect("probability");

    let (status, body) = request(&addr, "POST", "/v1/detect", "image/jpeg", b"not a jpeg");
    assert!((400..500).contains(&status), "{status}: {body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        error["error"].is_string() || error["error"].is_object(),
        "{body}"
    );

    // Ctrl-C: a clean stop, exit code 0.
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_for(&mut child, Duration::from_secs(30));
    if status.is_none() {
        let _ = child.kill();
    }
    let rest = drain.join().unwrap();
    let status = status.expect("fracdet serve did not stop within 30 s of SIGINT");
    assert!(status.success(), "{status:?}\n{seen}{rest}");
    assert!(rest.contains("stopped"), "{seen}{rest}");

    // The same file through `fracdet detect`: the same model, the same number.
    let out = tempfile::tempdir().unwrap();
    let o = common::fracdet(&[
        "detect",
        sample.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--no-overlays",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let detected: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let detected_p = detected
        .as_array()
        .and_then(|a| a.first())
        .and_then(|r| r["probability"].as_f64())
        .unwrap_or_else(|| panic!("no probability in {detected}"));
    assert!(
        (served_p - detected_p).abs() < 1e-6,
        "serve {served_p} vs detect {detected_p}"
    );
}

/// Usage errors exit 2 with one line saying what is wrong, as clap's own do: a limit
/// out of range, an address that does not parse, one that cannot be listened on.
#[test]
fn serve_usage_errors_exit_2_with_one_line() {
    for (args, says) in [
        (vec!["--timeout-s", "0"], "--timeout-s"),
        (vec!["--header-timeout-s=-1"], "--header-timeout-s"),
        (vec!["--max-uploads", "0"], "--max-uploads"),
        (vec!["--max-connections", "0"], "--max-connections"),
        (vec!["--workers", "0"], "--workers"),
        (vec!["--addr", "not-an-address"], "not-an-address"),
        // TEST-NET-1 (RFC 5737): never this machine's, so the bind fails.
        (
            vec!["--addr", "192.0.2.1:8080"],
            "cannot listen on 192.0.2.1:8080",
        ),
    ] {
        let mut all = vec!["serve"];
        all.extend(&args);
        let o = common::fracdet(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}\n{}", common::show(&o));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains(says), "{args:?}\n{}", common::show(&o));
        if args.get(1) != Some(&"not-an-address") {
            assert_eq!(stderr.trim().lines().count(), 1, "{}", common::show(&o));
        }
    }
}
