//! End to end in headless Chromium: load the web page from a running server, pick a sample
//! radiograph in its file input, and check that the probability and a drawn overlay appear
//! and that the threshold slider acts; two DICOM files of one study give its study finding. Skips with a NOTICE (on stderr) when
//! /usr/bin/chromium is absent, like the report.html browser checks; CI installs it in
//! .ci/run.
//!
//! `FRACDET_SCREENSHOT=PATH` also saves a screenshot of the page (docs/serve-screenshot.png
//! is made this way).

mod cdp;
mod common;

// Shared with the report.html browser checks; this test uses only its Chromium path.
#[path = "../../fracdet-eval/tests/chromium/mod.rs"]
#[allow(dead_code)]
mod chromium;

use std::path::Path;
use std::time::Duration;

use fracdet_server::ServerConfig;

const SAMPLE: &str = "IMG0002316.jpg";

/// Pixels of the canvas whose colour is far from grey: heatmap or box.
const COLOURED_PIXELS: &str = "(() => {
  const c = document.getElementById('view');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 40) n++;
  }
  return n;
})()";

#[test]
fn page_shows_probability_and_overlay_for_an_uploaded_radiograph() {
    let chromium = Path::new(chromium::CHROMIUM);
    if !chromium.exists() {
        eprintln!(
            "NOTICE: {} not found; skipping the headless-browser test of the web page",
            chromium.display()
        );
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let server = common::Running::start(ServerConfig::default());
    let mut browser = cdp::Browser::start(chromium, scratch.path());
    let tab = browser.new_tab(1280, 1024);
    browser.navigate(&tab, &format!("http://{}/", server.addr));
    let notice = browser.eval(&tab, "document.querySelector('.notice').textContent");
    assert!(
        notice
            .as_str()
            .is_some_and(|n| n.contains("not for standalone diagnosis")),
        "{notice}"
    );

    let sample = common::sample_path(SAMPLE).canonicalize().unwrap();
    browser.choose_file(&tab, "#file", &sample);
    let state = browser
        .wait_for(
            &tab,
            "['done', 'error'].includes(document.body.dataset.state) && document.body.dataset.state",
            Duration::from_secs(120),
        )
        .expect("the page finished within 120 s");
    let status = browser.eval(&tab, "document.getElementById('status').textContent");
    assert_eq!(state, "done", "page status: {status}");

    let text = browser.eval(&tab, "document.getElementById('probability').textContent");
    let text = text.as_str().unwrap_or_default().to_string();
    let shown: f64 = text
        .trim_start_matches("Fracture probability ")
        .trim_end_matches('%')
        .parse()
        .unwrap_or_else(|_| panic!("probability text: {text:?}"));
    let expected = 100.0 * common::reference_probability(SAMPLE);
    assert!((shown - expected).abs() < 1.0, "{text} vs {expected:.1}%");
    let finding = browser.eval(&tab, "document.getElementById('finding').textContent");
    assert_eq!(finding, "Likely fracture");

    let coloured = browser.eval(&tab, COLOURED_PIXELS).as_u64().unwrap();
    let size = browser.eval(&tab, "[view.width, view.height]");
    assert_eq!(size, serde_json::json!([819, 1024]));
    assert!(
        coloured > 5_000,
        "overlay drawn: {coloured} coloured pixels"
    );

    if let Some(path) = std::env::var_os("FRACDET_SCREENSHOT") {
        std::fs::write(&path, browser.screenshot(&tab)).expect("write screenshot");
        eprintln!("screenshot saved to {}", Path::new(&path).display());
    }

    // The decision slider at 100%: negative there, so no heat and no boxes.
    let set_decision = |v: &str| {
        format!(
            "(() => {{ const s = document.getElementById('decision'); s.value = '{v}'; \
             s.dispatchEvent(new Event('input')); \
             return document.getElementById('decision-result').textContent; }})()"
        )
    };
    let verdict = browser.eval(&tab, &set_decision("1"));
    assert!(
        verdict.as_str().is_some_and(|v| v.contains("negative")),
        "{verdict}"
    );
    assert_eq!(browser.eval(&tab, COLOURED_PIXELS).as_u64(), Some(0));
    let verdict = browser.eval(&tab, &set_decision("0.2"));
    assert!(
        verdict.as_str().is_some_and(|v| v.contains("positive")),
        "{verdict}"
    );
    assert!(browser.eval(&tab, COLOURED_PIXELS).as_u64().unwrap() > 5_000);

    // Two DICOM files of one study: the study's finding, decided by the fractured image.
    let study = "1.2.826.0.1.3680043.2.1125.601";
    let grey = |name| {
        image::load_from_memory(&common::sample(name))
            .unwrap()
            .to_luma8()
    };
    let (normal, fractured) = (scratch.path().join("a.dcm"), scratch.path().join("b.dcm"));
    std::fs::write(
        &normal,
        common::grey_as_dicom(grey("IMG0000254.jpg"), &format!("{study}.1"), Some(study)),
    )
    .unwrap();
    std::fs::write(
        &fractured,
        common::grey_as_dicom(grey(SAMPLE), &format!("{study}.2"), Some(study)),
    )
    .unwrap();
    browser.choose_files(&tab, "#file", &[&normal, &fractured]);
    let state = browser
        .wait_for(
            &tab,
            "document.body.dataset.state !== 'busy' && !document.getElementById('batch').hidden \
             && document.body.dataset.state",
            Duration::from_secs(120),
        )
        .expect("the batch finished within 120 s");
    assert_eq!(state, "done");
    let studies = browser.eval(&tab, "document.getElementById('studies').textContent");
    let studies = studies.as_str().unwrap_or_default();
    assert!(
        studies.contains(study)
            && studies.contains("Likely fracture")
            && studies.contains("decided by image #2"),
        "{studies}"
    );
    let finding = browser.eval(&tab, "document.getElementById('finding').textContent");
    assert_eq!(finding, "Likely fracture", "the deciding image is shown");

    // A file that is not an image: the API's message is shown as text.
    let junk = scratch.path().join("notes.txt");
    std::fs::write(&junk, "not a radiograph").unwrap();
    browser.choose_file(&tab, "#file", &junk);
    browser
        .wait_for(
            &tab,
            "document.body.dataset.state === 'error'",
            Duration::from_secs(60),
        )
        .expect("error state");
    let status = browser.eval(&tab, "document.getElementById('status').textContent");
    assert!(
        status
            .as_str()
            .is_some_and(|s| s.contains("not a PNG, JPEG or DICOM")),
        "{status}"
    );
    assert!(
        browser.page_errors.is_empty(),
        "page errors: {:?}",
        browser.page_errors
    );
    drop(browser);
    server.stop().unwrap();
}
