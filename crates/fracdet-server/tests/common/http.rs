//! A minimal blocking HTTP/1.1 client for loopback tests and the load test: one request
//! per connection. Uploads send `Expect: 100-continue` and only send the body once the
//! server asks for it, as curl does for large bodies, so a request the server turns away
//! (503, 413, 415) is answered without the body ever being sent.

// The tests and the load test each use only some of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct Reply {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
        })
    }
}

const TIMEOUT: Duration = Duration::from_secs(180);

pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<Reply> {
    let mut stream = connect(addr)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reader = BufReader::new(stream);
    read_reply(&mut reader)
}

pub fn post(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<Reply> {
    let mut stream = connect(addr)?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let first = read_reply(&mut reader)?;
    if first.status != 100 {
        return Ok(first);
    }
    stream.write_all(body)?;
    read_reply(&mut reader)
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    assert!(
        addr.ip().is_loopback(),
        "test client talks to loopback only"
    );
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One status line, headers and (for a final status) the body by Content-Length, or to the
/// end of the connection without one.
fn read_reply(reader: &mut BufReader<TcpStream>) -> std::io::Result<Reply> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(&format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(bad("connection closed in the headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let mut body = Vec::new();
    if status != 100 {
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok());
        match length {
            Some(n) => {
                body.resize(n, 0);
                reader.read_exact(&mut body)?;
            }
            None => {
                reader.read_to_end(&mut body)?;
            }
        }
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Writes `bytes` as they are (a malformed or oversized request) and reads one reply.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Reply> {
    let mut stream = connect(addr)?;
    stream.write_all(bytes)?;
    let mut reader = BufReader::new(stream);
    read_reply(&mut reader)
}
