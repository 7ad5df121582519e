//! report.html: self-contained, escapes what it shows, and opens in headless Chromium with
//! every image decoded and no script error. The browser part skips (with a notice on
//! stderr) when /usr/bin/chromium is absent; CI installs it in .ci/run.

mod chromium;
mod common;

use std::path::Path;

use fracdet_eval::html::{
    CaseThumbnail, Figure, HtmlReport, grey_canvas_png, heatmap_overlay_png, render_html,
};
use fracdet_eval::plot::{DEFAULT_SIZE, plot_confusion_matrix, plot_reliability, plot_roc};
use fracdet_eval::{
    BootstrapConfig, MetricsReport, choose_operating_points, roc_band, roc_curve, subgroup_analysis,
};

fn thumb(seed: usize) -> Vec<u8> {
    let side = 64usize;
    let canvas: Vec<f32> = (0..side * side)
        .map(|i| ((i % side + i / side + seed) % side) as f32 / side as f32)
        .collect();
    grey_canvas_png(&canvas, side as u32, side as u32).unwrap()
}

/// A full report on synthetic scores, written to `dir/report.html`; returns the HTML.
fn write_report(dir: &Path) -> String {
    let (labels, scores) = common::binormal(60, 140, common::mu_for_auroc(0.85), 7);
    let cfg = BootstrapConfig {
        n_resamples: 300,
        ..Default::default()
    };
    let points = choose_operating_points(&labels, &scores, 0.5, 0.9).unwrap();
    let mut report = MetricsReport::compute(&labels, &scores, &points, &cfg).unwrap();
    let groups: Vec<&str> = (0..labels.len())
        .map(|i| if i % 5 == 0 { "hand" } else { "leg" })
        .collect();
    let threshold = points.at_target_sensitivity.unwrap().threshold;
    report.subgroups =
        vec![subgroup_analysis("body_part", &labels, &scores, &groups, threshold, &cfg).unwrap()];

    let roc = roc_curve(&labels, &scores).unwrap().unwrap();
    let band = roc_band(&labels, &scores, 51, &cfg).unwrap();
    let ops = [("target", points.at_target_sensitivity.unwrap())];
    plot_roc(
        &dir.join("roc.png"),
        "ROC curve",
        &roc,
        band.as_ref(),
        &report.auroc,
        &ops,
        DEFAULT_SIZE,
    )
    .unwrap();
    plot_reliability(
        &dir.join("rel.png"),
        "Reliability",
        &report.calibration,
        DEFAULT_SIZE,
    )
    .unwrap();
    plot_confusion_matrix(
        &dir.join("cm.png"),
        "Confusion",
        &report.at_operating_points[1].metrics.confusion,
        threshold,
        DEFAULT_SIZE,
    )
    .unwrap();
    let figures = ["roc.png", "rel.png", "cm.png"]
        .iter()
        .map(|f| Figure {
            title: f.to_string(),
            caption: "caption".into(),
            png: std::fs::read(dir.join(f)).unwrap(),
        })
        .collect();
    let heat: Vec<f32> = (0..64 * 64).map(|i| (i % 64) as f32 / 63.0).collect();
    let canvas = vec![0.5f32; 64 * 64];
    let html = render_html(&HtmlReport {
        title: "Evaluation <test>".into(),
        context: vec![("Model".into(), "runs/x & y".into())],
        metrics: &report,
        primary: "target_sensitivity".into(),
        operating_point_origin: "Chosen on validation.".into(),
        figures,
        true_positives: vec![CaseThumbnail {
            image: "images/d.png".into(),
            probability: 0.91,
            png: thumb(3),
            heatmap: false,
        }],
        false_negatives: vec![
            CaseThumbnail {
                image: "images/<script>alert(1)</script>.png".into(),
                probability: 0.02,
                png: thumb(1),
                heatmap: false,
            },
            CaseThumbnail {
                image: "images/b.png".into(),
                probability: 0.04,
                png: heatmap_overlay_png(&canvas, &heat, 64, 64, 0.5).unwrap(),
                heatmap: true,
            },
        ],
        false_positives: vec![CaseThumbnail {
            image: "images/c.png".into(),
            probability: 0.97,
            png: thumb(2),
            heatmap: false,
        }],
        localisation_note: None,
        warnings: vec!["few positives".into()],
    });
    std::fs::write(dir.join("report.html"), &html).unwrap();
    html
}

#[test]
fn report_is_self_contained_and_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let html = write_report(tmp.path());
    let srcs: Vec<&str> = html
        .match_indices("src=\"")
        .map(|(i, _)| &html[i + 5..])
        .collect();
    assert_eq!(srcs.len(), 7, "3 plots + 4 thumbnails");
    assert!(srcs.iter().all(|s| s.starts_with("data:image/png;base64,")));
    assert!(!html.contains("<link") && !html.contains("http"));
    assert!(
        !html.contains("<script>alert"),
        "image name must be escaped"
    );
    assert!(html.contains("&lt;script&gt;alert(1)"));
    assert!(html.contains("Evaluation &lt;test&gt;") && html.contains("runs/x &amp; y"));
    // Headline numbers and the subgroup warning appear in words.
    assert!(html.contains("Sensitivity") && html.contains("95% CI") && html.contains("body part"));
    assert!(html.contains("only ") && html.contains("positive case(s)"));
    assert_eq!(
        html.matches("<script>").count(),
        1,
        "only the report's own check script"
    );
}

#[test]
fn report_opens_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    write_report(tmp.path());
    let Some(opened) = chromium::open_report(&tmp.path().join("report.html"), tmp.path()) else {
        return;
    };
    let body = &opened.body;
    assert!(body.contains("data-images=\"7\""), "{body}");
    assert!(
        body.contains("data-images-ok=\"true\""),
        "an image did not decode: {body}"
    );
    assert!(body.contains("data-errors=\"0\""), "{body}");
    assert!(
        opened.console.is_empty(),
        "console output: {:?}",
        opened.console
    );
}
