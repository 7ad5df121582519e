//! Opening a report.html in headless Chromium, for the browser checks of fracdet-eval's
//! renderer test and fracdet-cli's end-to-end `evaluate` test (which includes this file
//! with `#[path]`), so both drive the browser the same way. fracdet-server's web-page test
//! includes it too, for [`CHROMIUM`] and the same skip policy.

use std::path::Path;
use std::process::Command;

/// Where Debian's `chromium` package puts the browser; tests skip, with a NOTICE, without it.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// What the browser made of a page.
pub struct Opened {
    /// The `<body …>` opening tag of the dumped DOM, where the report's own check script
    /// records `data-images`, `data-images-ok` and `data-errors`.
    pub body: String,
    /// Lines Chromium logged from the page's console.
    pub console: Vec<String>,
}

/// Loads `report` in headless Chromium with a fresh profile under `scratch` and returns
/// the dumped `<body>` tag and console lines; `None`, with a visible NOTICE, when
/// Chromium is not installed (CI installs it: see `.ci/run`).
pub fn open_report(report: &Path, scratch: &Path) -> Option<Opened> {
    if !Path::new(CHROMIUM).exists() {
        eprintln!(
            "NOTICE: {CHROMIUM} not found; skipping the headless-browser check of report.html"
        );
        return None;
    }
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.join("chromium-profile").display()
        ))
        .arg(format!("file://{}", report.display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {log}");
    let body = dom
        .find("<body")
        .map(|i| &dom[i..i + dom[i..].find('>').unwrap_or(0)])
        .unwrap_or_else(|| panic!("no <body> in the dumped DOM: {dom}"));
    Some(Opened {
        body: body.to_string(),
        console: log
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_string)
            .collect(),
    })
}
