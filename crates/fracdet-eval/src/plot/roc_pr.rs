//! ROC curve with bootstrap band, and precision–recall curve.

use std::path::Path;

use plotters::prelude::*;

use super::style::{
    Axes, BLUE, FONT, GREEN, GREY, ORANGE, PURPLE, TICK_SIZE, VERMILLION, canvas, fmt_estimate,
    plot_err, probability_chart,
};
use crate::curves::{PrCurve, RocBand, RocCurve};
use crate::error::Result;
use crate::estimate::Estimate;
use crate::operating::OperatingPoint;

/// ROC curve (`size` pixels), optional pointwise CI band, chance diagonal, and optional
/// operating points marked as dots (`(name, point)`).
pub fn plot_roc(
    path: &Path,
    title: &str,
    curve: &RocCurve,
    band: Option<&RocBand>,
    auroc: &Estimate,
    operating_points: &[(&str, OperatingPoint)],
    size: (u32, u32),
) -> Result<()> {
    let err = plot_err(path);
    let root = canvas(path, size)?;
    let axes = Axes {
        x_desc: "1 − specificity (false-positive rate)",
        y_desc: "Sensitivity (true-positive rate)",
        y_max: 1.0,
        y_label_area: 60,
    };
    let mut chart = probability_chart(&root, path, title, &axes)?;
    if let Some(b) = band {
        let mut poly: Vec<(f64, f64)> = b
            .fpr
            .iter()
            .copied()
            .zip(b.tpr_upper.iter().copied())
            .collect();
        poly.extend(b.fpr.iter().copied().zip(b.tpr_lower.iter().copied()).rev());
        chart
            .draw_series(std::iter::once(Polygon::new(poly, BLUE.mix(0.2).filled())))
            .map_err(&err)?
            .label(format!("{:.0}% bootstrap band", b.level * 100.0))
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], BLUE.mix(0.2).filled()));
    }
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            GREY.stroke_width(1),
        ))
        .map_err(&err)?
        .label("Chance")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREY.stroke_width(1)));
    chart
        .draw_series(LineSeries::new(
            curve.fpr.iter().copied().zip(curve.tpr.iter().copied()),
            BLUE.stroke_width(3),
        ))
        .map_err(&err)?
        .label(format!("ROC, AUROC {}", fmt_estimate(auroc)))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(3)));
    // One colour per operating point so the legend identifies each marker.
    let marker_colours = [ORANGE, GREEN, VERMILLION, PURPLE];
    for (k, (name, p)) in operating_points.iter().enumerate() {
        if let (Some(se), Some(sp)) = (p.sensitivity, p.specificity) {
            let colour = marker_colours[k % marker_colours.len()];
            let label = format!("{name}: t={:.3}, sens {se:.2}, spec {sp:.2}", p.threshold);
            chart
                .draw_series(std::iter::once(Circle::new(
                    (1.0 - sp, se),
                    7,
                    colour.filled(),
                )))
                .map_err(&err)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 6, colour.filled()));
        }
    }
    chart
        .configure_series_labels()
        .label_font((FONT, TICK_SIZE))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(&err)?;
    root.present().map_err(&err)?;
    Ok(())
}

/// Precision–recall step curve with the prevalence (random-classifier) baseline.
pub fn plot_pr(
    path: &Path,
    title: &str,
    curve: &PrCurve,
    average_precision: &Estimate,
    size: (u32, u32),
) -> Result<()> {
    let err = plot_err(path);
    let root = canvas(path, size)?;
    let axes = Axes {
        x_desc: "Recall (sensitivity)",
        y_desc: "Precision (PPV)",
        y_max: 1.02,
        y_label_area: 60,
    };
    let mut chart = probability_chart(&root, path, title, &axes)?;
    // Step-wise: precision holds from the previous recall up to the next one.
    let mut pts = Vec::with_capacity(2 * curve.recall.len() + 1);
    let mut prev_r = 0.0;
    if let Some(&p0) = curve.precision.first() {
        pts.push((0.0, p0));
    }
    for (&r, &p) in curve.recall.iter().zip(&curve.precision) {
        pts.push((prev_r, p));
        pts.push((r, p));
        prev_r = r;
    }
    chart
        .draw_series(LineSeries::new(
            [(0.0, curve.prevalence), (1.0, curve.prevalence)],
            GREY.stroke_width(1),
        ))
        .map_err(&err)?
        .label(format!("Chance (prevalence {:.3})", curve.prevalence))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREY.stroke_width(1)));
    chart
        .draw_series(LineSeries::new(pts, BLUE.stroke_width(3)))
        .map_err(&err)?
        .label(format!("PR, AP {}", fmt_estimate(average_precision)))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(3)));
    chart
        .configure_series_labels()
        .label_font((FONT, TICK_SIZE))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(&err)?;
    root.present().map_err(&err)?;
    Ok(())
}
