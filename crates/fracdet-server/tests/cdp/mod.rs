//! Driving headless Chromium through the DevTools protocol over a pipe
//! (`--remote-debugging-pipe`: commands in on fd 3, answers out on fd 4, each message JSON
//! followed by a NUL byte). No WebSocket, no chromedriver, no extra crate: the test can
//! pick a file for an `<input type=file>`, run scripts and take screenshots.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct Browser {
    child: Child,
    commands: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
    /// Exceptions and console errors the page raised, as text.
    pub page_errors: Vec<String>,
}

/// One tab, attached with a flat session.
pub struct Tab {
    session: String,
}

impl Browser {
    /// Starts `chromium` headless with a fresh profile under `scratch`; its log goes to
    /// `scratch/chromium.log`.
    pub fn start(chromium: &Path, scratch: &Path) -> Self {
        let log = std::fs::File::create(scratch.join("chromium.log")).expect("chromium log");
        // sh moves the two pipes to fds 3 and 4, where --remote-debugging-pipe expects them.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null"#)
            .arg(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--remote-debugging-pipe",
            ])
            .arg(format!(
                "--user-data-dir={}",
                scratch.join("chromium-profile").display()
            ))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start chromium");
        let commands = child.stdin.take().expect("pipe to chromium");
        let answers = child.stdout.take().expect("pipe from chromium");
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(answers);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if buf.last() == Some(&0) {
                            buf.pop();
                        }
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                            && tx.send(v).is_err()
                        {
                            break;
                        }
                    }
                }
            }
        });
        Self {
            child,
            commands,
            messages,
            next_id: 1,
            page_errors: Vec::new(),
        }
    }

    /// Sends `method` and waits for its result; panics on a protocol error or after
    /// `timeout`. Events that arrive meanwhile are scanned for page errors.
    pub fn call(&mut self, tab: Option<&Tab>, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(t) = tab {
            message["sessionId"] = json!(t.session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .and_then(|()| self.commands.flush())
            .unwrap_or_else(|e| panic!("chromium pipe closed before {method}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = match self.messages.recv_timeout(left) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => panic!("no answer to {method} in 60 s"),
                Err(RecvTimeoutError::Disconnected) => panic!("chromium exited during {method}"),
            };
            if m["id"] == json!(id) {
                if let Some(e) = m.get("error") {
                    panic!("{method} failed: {e}");
                }
                return m["result"].clone();
            }
            self.note_event(&m);
        }
    }

    fn note_event(&mut self, m: &Value) {
        match m["method"].as_str() {
            Some("Runtime.exceptionThrown") => self
                .page_errors
                .push(m["params"]["exceptionDetails"].to_string()),
            Some("Runtime.consoleAPICalled") if m["params"]["type"] == "error" => {
                self.page_errors.push(m["params"]["args"].to_string())
            }
            _ => {}
        }
    }

    /// A new tab of `width` x `height` CSS pixels, with runtime events on.
    pub fn new_tab(&mut self, width: u32, height: u32) -> Tab {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        let tab = Tab {
            session: attached["sessionId"]
                .as_str()
                .expect("session id")
                .to_string(),
        };
        self.call(Some(&tab), "Runtime.enable", json!({}));
        self.call(
            Some(&tab),
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        tab
    }

    /// The value of a JavaScript expression (awaited when it is a promise).
    pub fn eval(&mut self, tab: &Tab, expression: &str) -> Value {
        let r = self.call(
            Some(tab),
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression} threw: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Polls `expression` every 100 ms until it is truthy; its last value, or `None` after
    /// `timeout`.
    pub fn wait_for(&mut self, tab: &Tab, expression: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.eval(tab, expression);
            if !(v.is_null() || v == json!(false) || v == json!("")) {
                return Some(v);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn navigate(&mut self, tab: &Tab, url: &str) {
        self.call(Some(tab), "Page.navigate", json!({ "url": url }));
        self.wait_for(
            tab,
            "document.readyState === 'complete'",
            Duration::from_secs(30),
        )
        .unwrap_or_else(|| panic!("{url} did not finish loading"));
    }

    /// Picks `file` in the `<input type=file>` matched by `selector`, as a user would:
    /// the page gets its `input` and `change` events.
    pub fn choose_file(&mut self, tab: &Tab, selector: &str, file: &Path) {
        self.choose_files(tab, selector, &[file]);
    }

    /// Several files at once into a `multiple` file input.
    pub fn choose_files(&mut self, tab: &Tab, selector: &str, files: &[&Path]) {
        let doc = self.call(Some(tab), "DOM.getDocument", json!({ "depth": 0 }));
        let node = self.call(
            Some(tab),
            "DOM.querySelector",
            json!({ "nodeId": doc["root"]["nodeId"], "selector": selector }),
        );
        assert_ne!(node["nodeId"], json!(0), "no {selector} on the page");
        self.call(
            Some(tab),
            "DOM.setFileInputFiles",
            json!({
                "nodeId": node["nodeId"],
                "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            }),
        );
    }

    /// PNG bytes of the visible page.
    pub fn screenshot(&mut self, tab: &Tab) -> Vec<u8> {
        use base64::Engine;
        let shot = self.call(
            Some(tab),
            "Page.captureScreenshot",
            json!({ "format": "png" }),
        );
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot base64")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ask politely, then make sure: a stray headless browser would outlive the test.
        let close = b"{\"id\":0,\"method\":\"Browser.close\",\"params\":{}}\0";
        let _ = self.commands.write_all(close);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
