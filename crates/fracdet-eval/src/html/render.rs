//! HTML text of the report. All user-visible strings go through [`esc`].

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{CaseThumbnail, Figure, HtmlReport};
use crate::binary::BinaryMetrics;
use crate::estimate::Estimate;
use crate::subgroup::SubgroupAnalysis;

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:0 auto;max-width:1100px;padding:1.5em;color:#1d2330;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #d8dde6;padding-bottom:.2em;margin-top:1.8em}
.aid{background:#eef3fb;border-left:4px solid #3b6fc4;padding:.5em .8em;margin:.8em 0}
.warn{background:#fff5e0;border-left:4px solid #d98c00;padding:.5em .8em;margin:.8em 0}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #d8dde6;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f5f9}td.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:.8em}.card{border:1px solid #d8dde6;border-radius:6px;padding:.6em .9em;min-width:12em}
.card .v{font-size:1.5em;font-weight:600}.card .ci{color:#555;font-size:.9em}.card .l{font-size:.9em;color:#333}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:1em}
figure{margin:0;border:1px solid #d8dde6;border-radius:6px;padding:.5em}figure img{width:100%;height:auto}
figcaption{font-size:.9em;color:#333}
.cases{display:flex;flex-wrap:wrap;gap:.8em}.case{width:200px;font-size:.85em}.case .name{word-break:break-all}.case img{width:200px;height:auto;border:1px solid #999}
.small{font-size:.85em;color:#555}
";

/// The check the acceptance test reads from the dumped DOM.
const SCRIPT: &str = "
(function(){
  var errors=0;
  window.addEventListener('error',function(){errors++;document.body.setAttribute('data-errors',String(errors));},true);
  function check(){
    var imgs=document.getElementsByTagName('img'),ok=true;
    for(var i=0;i<imgs.length;i++){if(!imgs[i].complete||imgs[i].naturalWidth===0){ok=false;}}
    document.body.setAttribute('data-images',String(imgs.length));
    document.body.setAttribute('data-images-ok',ok?'true':'false');
    document.body.setAttribute('data-errors',String(errors));
  }
  if(document.readyState==='complete'){check();}else{window.addEventListener('load',check);}
})();
";

/// Escapes text for HTML element content and double-quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn img_tag(png: &[u8], alt: &str) -> String {
    format!(
        "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
        esc(alt),
        BASE64.encode(png)
    )
}

fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

/// "87.5% (95% CI 80.1–92.3%)", or "n/a — reason". `percent` picks 0–100% or 0.000 style.
fn est(e: &Estimate, percent: bool) -> String {
    let f = |v: f64| if percent { pct(v) } else { format!("{v:.3}") };
    match (e.value, &e.ci) {
        (Some(v), Some(ci)) => format!(
            "{} ({:.0}% CI {}–{})",
            f(v),
            100.0 * ci.level,
            f(ci.lower),
            f(ci.upper)
        ),
        (Some(v), None) => f(v),
        (None, _) => format!("n/a — {}", e.note.as_deref().unwrap_or("undefined")),
    }
}

fn card(out: &mut String, label: &str, e: &Estimate, percent: bool, help: &str) {
    let f = |v: f64| if percent { pct(v) } else { format!("{v:.3}") };
    let value = e.value.map_or_else(|| "n/a".to_string(), f);
    let ci = match (&e.ci, e.value) {
        (Some(ci), _) => format!(
            "{:.0}% CI {}–{}",
            100.0 * ci.level,
            f(ci.lower),
            f(ci.upper)
        ),
        (None, None) => e.note.clone().unwrap_or_default(),
        (None, Some(_)) => String::new(),
    };
    let _ = write!(
        out,
        "<div class=\"card\"><div class=\"l\">{}</div><div class=\"v\">{}</div><div class=\"ci\">{}</div><div class=\"small\">{}</div></div>",
        esc(label),
        esc(&value),
        esc(&ci),
        esc(help)
    );
}

/// Which probabilities the report's calibration figures are on, and whether "after" is
/// in-sample.
fn calibration_note(out: &mut String, m: &crate::report::MetricsReport) {
    let text = match &m.calibrated {
        None => "Probabilities are uncalibrated (the model stores no temperature): the Brier \
                 score, ECE and reliability diagram are of the model's raw output."
            .to_string(),
        Some(c) => {
            let mut t = format!(
                "Calibration: the model stores {}; the figures \u{201c}after calibration\u{201d} \
                 divide each logit by it (rankings and decisions are unchanged).",
                c.temperature.describe()
            );
            if c.in_sample {
                t.push_str(
                    " This is the split the temperature was fitted on, so the after-calibration \
                     figures are in-sample (optimistic).",
                );
            }
            t
        }
    };
    let _ = writeln!(out, "<p class=\"small\">{}</p>", esc(&text));
}

fn point_label(name: &str) -> &str {
    match name {
        "fixed" => "fixed threshold",
        "target_sensitivity" => "target sensitivity",
        "youden" => "Youden's J (balanced)",
        "target_specificity" => "target specificity",
        other => other,
    }
}

/// Renders the whole page.
pub fn render_html(r: &HtmlReport<'_>) -> String {
    let m = r.metrics;
    let mut out = String::with_capacity(1 << 20);
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>",
        esc(&r.title),
        esc(&r.title)
    );
    out.push_str(
        "<div class=\"aid\"><b>Intended use:</b> a concurrent reading aid that flags radiographs \
         likely to show a fracture. It is not for standalone diagnosis; every image still needs \
         a clinician's read.</div>\n",
    );
    out.push_str("<table>");
    for (k, v) in &r.context {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    let _ = writeln!(
        out,
        "<tr><th>Images</th><td>{} ({} with fracture, {} without)</td></tr></table>",
        m.n, m.n_positive, m.n_negative
    );
    for w in &r.warnings {
        let _ = writeln!(out, "<div class=\"warn\">{}</div>", esc(w));
    }

    let primary = m
        .at_operating_points
        .iter()
        .find(|p| p.name == r.primary)
        .or_else(|| m.at_operating_points.first());
    out.push_str("<h2>Headline results</h2>\n");
    if let Some(p) = primary {
        headline(&mut out, m.n_positive, m.n_negative, &p.name, &p.metrics);
    }
    out.push_str("<div class=\"cards\">");
    card(
        &mut out,
        "AUROC",
        &m.auroc,
        false,
        "ranking quality over all thresholds; 0.5 = chance, 1 = perfect",
    );
    card(
        &mut out,
        "Average precision",
        &m.average_precision,
        false,
        "area under the precision–recall curve",
    );
    card(
        &mut out,
        "Brier score",
        &m.calibration.brier,
        false,
        "mean squared error of the probability; lower is better",
    );
    card(
        &mut out,
        "ECE",
        &m.calibration.ece,
        false,
        "expected calibration error (10 bins); lower is better",
    );
    if let Some(c) = &m.calibrated {
        card(
            &mut out,
            "ECE after calibration",
            &c.after.ece,
            false,
            "the same, after the model's stored temperature",
        );
        card(
            &mut out,
            "Brier after calibration",
            &c.after.brier,
            false,
            "the same, after the model's stored temperature",
        );
    }
    out.push_str("</div>\n");
    calibration_note(&mut out, m);

    out.push_str("<h2>Operating points</h2>\n");
    let _ = writeln!(out, "<p>{}</p>", esc(&r.operating_point_origin));
    operating_table(&mut out, r);

    if !r.figures.is_empty() {
        out.push_str("<h2>Plots</h2>\n<div class=\"figs\">");
        for f in &r.figures {
            figure(&mut out, f);
        }
        out.push_str("</div>\n");
    }

    if !m.subgroups.is_empty() {
        out.push_str("<h2>Subgroups</h2>\n");
        if let Some(p) = primary {
            let _ = writeln!(
                out,
                "<p>Threshold metrics at the {} operating point (threshold {:.4}). Groups with fewer \
                 than 20 fractures are marked: their estimates are unstable.</p>",
                esc(point_label(&p.name)),
                p.metrics.threshold
            );
        }
        for a in &m.subgroups {
            subgroup_table(&mut out, a);
        }
    }

    if let Some(loc) = &m.localisation {
        out.push_str("<h2>Localisation</h2>\n");
        if let Some(note) = &r.localisation_note {
            let _ = writeln!(out, "<p>{}</p>", esc(note));
        }
        out.push_str("<table>");
        let _ = write!(
            out,
            "<tr><th>Heatmap peak inside a fracture box (hit rate)</th><td>{}</td></tr>\
             <tr><th>Box recall at IoU ≥ {:.2}</th><td>{}</td></tr>\
             <tr><th>Images / boxes</th><td>{} / {}</td></tr>",
            esc(&est(&loc.hit_rate, true)),
            loc.iou_threshold,
            esc(&est(&loc.box_recall, true)),
            loc.n_images,
            loc.n_truth_boxes
        );
        for (fp, s) in &loc.froc_at {
            let _ = write!(
                out,
                "<tr><th>FROC sensitivity at {fp} FP/image</th><td>{}</td></tr>",
                s.map_or_else(|| "n/a".into(), pct)
            );
        }
        out.push_str("</table>\n");
    }

    if let Some(d) = &m.detection {
        out.push_str("<h2>Boxes as detections</h2>\n");
        let _ = writeln!(
            out,
            "<p>Every regressed box of all {} images, normal ones included (their boxes are \
             false positives), against {} annotated boxes. Boxes are drawn at a box score of \
             {:.2}.</p>",
            d.n_images, d.n_truth_boxes, d.drawn_at
        );
        out.push_str("<table>");
        let opt = |v: Option<f64>, percent: bool| match v {
            Some(x) if percent => pct(x),
            Some(x) => format!("{x:.2}"),
            None => "n/a".into(),
        };
        let _ = write!(
            out,
            "<tr><th>AP at IoU 0.5</th><td>{}</td></tr>\
             <tr><th>Median drawn / true box area</th><td>{}</td></tr>",
            opt(d.ap50, false),
            opt(d.median_area_ratio, false)
        );
        for r in &d.recall {
            for (fp, v) in &r.at {
                let _ = write!(
                    out,
                    "<tr><th>Box recall at IoU {:.1}, {fp} FP/image</th><td>{}</td></tr>",
                    r.iou,
                    opt(*v, true)
                );
            }
        }
        out.push_str("</table>\n");
    }

    out.push_str("<h2>Most confident findings and errors</h2>\n");
    if !(r.true_positives.is_empty()
        && r.false_negatives.is_empty()
        && r.false_positives.is_empty())
    {
        out.push_str(
            "<p>Green outlines mark the annotated fracture boxes where the dataset provides them; \
             orange outlines the boxes the model draws.</p>\n",
        );
    }
    if r.true_positives
        .iter()
        .chain(&r.false_negatives)
        .chain(&r.false_positives)
        .any(|c| c.heatmap)
    {
        out.push_str(
            "<p>Heatmap overlays (class activation maps) show where the model's fracture evidence \
             is strongest in that image, red highest and blue lowest, relative to the rest of the \
             image; they are not calibrated and do not mark a fracture.</p>\n",
        );
    }
    cases(
        &mut out,
        "Found fractures (true positives), highest probability first",
        &r.true_positives,
    );
    cases(
        &mut out,
        "Missed fractures (false negatives), lowest probability first",
        &r.false_negatives,
    );
    cases(
        &mut out,
        "False alarms (false positives), highest probability first",
        &r.false_positives,
    );

    let _ = writeln!(
        out,
        "<h2>Method</h2><p class=\"small\">Intervals: {:.0}% stratified percentile bootstrap \
         ({} resamples, seed {}) for AUROC, the ROC band and the \
         proportions; a proportion whose bootstrap degenerates (estimate exactly 0 or 1, or too few \
         cases in a resample) gets a Wilson score interval instead (metrics.json records which). Decision rule: fracture when probability ≥ threshold. \
         Thresholds are chosen on the validation split only and stored with the model; other splits \
         reuse them unchanged.</p>",
        100.0 * m.bootstrap.level,
        m.bootstrap.n_resamples,
        m.bootstrap.seed
    );
    let _ = writeln!(out, "<script>{SCRIPT}</script>\n</body></html>");
    out
}

fn headline(out: &mut String, n_pos: usize, n_neg: usize, name: &str, b: &BinaryMetrics) {
    let c = &b.confusion;
    let _ = writeln!(
        out,
        "<p>At the <b>{}</b> operating point (probability ≥ {:.4} is called a fracture): \
         of <b>{n_pos}</b> images with a fracture the model flagged <b>{}</b> and missed <b>{}</b>; \
         of <b>{n_neg}</b> images without a fracture it flagged <b>{}</b> as fractured.</p>",
        esc(point_label(name)),
        b.threshold,
        c.tp,
        c.fn_,
        c.fp
    );
    out.push_str("<div class=\"cards\">");
    card(
        out,
        "Sensitivity",
        &b.sensitivity,
        true,
        "fractures flagged",
    );
    card(
        out,
        "Specificity",
        &b.specificity,
        true,
        "normal images left unflagged",
    );
    card(
        out,
        "PPV (precision)",
        &b.precision,
        true,
        "flagged images that have a fracture",
    );
    card(out, "NPV", &b.npv, true, "unflagged images that are normal");
    out.push_str("</div>\n");
    let _ = writeln!(
        out,
        "<table><tr><th></th><th>Flagged</th><th>Not flagged</th></tr>\
         <tr><th>Fracture</th><td class=\"num\">{} (TP)</td><td class=\"num\">{} (FN)</td></tr>\
         <tr><th>No fracture</th><td class=\"num\">{} (FP)</td><td class=\"num\">{} (TN)</td></tr></table>",
        c.tp, c.fn_, c.fp, c.tn
    );
}

fn operating_table(out: &mut String, r: &HtmlReport<'_>) {
    let ops = &r.metrics.operating_points;
    out.push_str(
        "<table><tr><th>Operating point</th><th>Threshold</th><th>Validation sens. / spec.</th>\
         <th>Sensitivity</th><th>Specificity</th><th>PPV</th><th>NPV</th><th>Accuracy</th><th>F1</th></tr>",
    );
    for p in &r.metrics.at_operating_points {
        let chosen = match p.name.as_str() {
            "fixed" => Some(ops.fixed),
            "target_sensitivity" => ops.at_target_sensitivity,
            "youden" => ops.youden,
            "target_specificity" => ops.at_target_specificity,
            _ => None,
        };
        let val = chosen.map_or_else(
            || "–".to_string(),
            |c| {
                let f = |v: Option<f64>| v.map_or_else(|| "n/a".into(), pct);
                format!("{} / {}", f(c.sensitivity), f(c.specificity))
            },
        );
        let mut name = point_label(&p.name).to_string();
        if p.name == "target_sensitivity" {
            name = format!("{name} ({})", pct(ops.target_sensitivity));
        }
        if p.name == "target_specificity" {
            name = format!("{name} ({})", pct(ops.target_specificity));
        }
        if p.name == r.primary {
            name.push_str(" ★");
        }
        let b = &p.metrics;
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{:.4}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name),
            b.threshold,
            esc(&val),
            esc(&est(&b.sensitivity, true)),
            esc(&est(&b.specificity, true)),
            esc(&est(&b.precision, true)),
            esc(&est(&b.npv, true)),
            esc(&est(&b.accuracy, true)),
            esc(&est(&b.f1, false)),
        );
    }
    out.push_str("</table><p class=\"small\">★ headline operating point.</p>\n");
}

fn figure(out: &mut String, f: &Figure) {
    let _ = write!(
        out,
        "<figure>{}<figcaption><b>{}.</b> {}</figcaption></figure>",
        img_tag(&f.png, &f.title),
        esc(&f.title),
        esc(&f.caption)
    );
}

fn subgroup_table(out: &mut String, a: &SubgroupAnalysis) {
    let _ = write!(
        out,
        "<h3>By {}</h3><table><tr><th>Group</th><th>Images</th><th>Fractures</th><th>Sensitivity</th>\
         <th>Specificity</th><th>AUROC</th><th>Note</th></tr>",
        esc(&a.attribute.replace('_', " "))
    );
    for g in &a.groups {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&g.group),
            g.n,
            g.n_positive,
            esc(&est(&g.metrics.sensitivity, true)),
            esc(&est(&g.metrics.specificity, true)),
            esc(&est(&g.auroc, false)),
            g.warning
                .as_deref()
                .map_or_else(String::new, |w| format!("⚠ {}", esc(w)))
        );
    }
    out.push_str("</table>\n");
}

fn cases(out: &mut String, heading: &str, items: &[CaseThumbnail]) {
    let _ = write!(out, "<h3>{}</h3>", esc(heading));
    if items.is_empty() {
        out.push_str("<p>None at the headline operating point.</p>\n");
        return;
    }
    out.push_str("<div class=\"cases\">");
    for c in items {
        let _ = write!(
            out,
            "<div class=\"case\">{}<div><b>p = {:.4}</b>{}</div><div class=\"name\">{}</div></div>",
            img_tag(&c.png, &c.image),
            c.probability,
            if c.heatmap { " (heatmap overlay)" } else { "" },
            esc(&c.image)
        );
    }
    out.push_str("</div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn estimate_text() {
        let e = Estimate::point(0.5);
        assert_eq!(est(&e, true), "50.0%");
        assert!(est(&Estimate::undefined("no positives"), true).contains("no positives"));
    }
}
