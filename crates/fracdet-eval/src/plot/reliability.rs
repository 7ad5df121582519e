//! Reliability diagram: observed fraction of fractures vs mean predicted probability.

use std::path::Path;

use plotters::prelude::*;

use super::style::{
    Axes, BLUE, FONT, GREY, ORANGE, TICK_SIZE, canvas, fmt_estimate, plot_err, probability_chart,
};
use crate::calibration::Calibration;
use crate::error::Result;

/// Bars: per-bin observed fraction positive (empty bins omitted); line: mean score vs
/// observed fraction; diagonal: perfect calibration. Bin counts are printed above bars.
pub fn plot_reliability(
    path: &Path,
    title: &str,
    cal: &Calibration,
    size: (u32, u32),
) -> Result<()> {
    let err = plot_err(path);
    let root = canvas(path, size)?;
    let axes = Axes {
        x_desc: "Predicted probability of fracture",
        y_desc: "Observed fraction with fracture",
        y_max: 1.08,
        y_label_area: 60,
    };
    let mut chart = probability_chart(&root, path, title, &axes)?;
    let bars = cal.bins.iter().filter_map(|b| {
        let f = b.fraction_positive?;
        Some(Rectangle::new(
            [(b.lower + 0.005, 0.0), (b.upper - 0.005, f)],
            BLUE.mix(0.35).filled(),
        ))
    });
    chart
        .draw_series(bars)
        .map_err(&err)?
        .label("Observed fraction per bin (n above bar)")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], BLUE.mix(0.35).filled()));
    let counts = cal.bins.iter().filter_map(|b| {
        let f = b.fraction_positive?;
        Some(Text::new(
            format!("{}", b.count),
            ((b.lower + b.upper) / 2.0 - 0.02, f + 0.05),
            (FONT, 13).into_font(),
        ))
    });
    chart.draw_series(counts).map_err(&err)?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            GREY.stroke_width(1),
        ))
        .map_err(&err)?
        .label("Perfect calibration")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREY.stroke_width(1)));
    let pts: Vec<(f64, f64)> = cal
        .bins
        .iter()
        .filter_map(|b| Some((b.mean_score?, b.fraction_positive?)))
        .collect();
    chart
        .draw_series(LineSeries::new(pts.clone(), ORANGE.stroke_width(2)))
        .map_err(&err)?
        .label(format!(
            "Model, ECE {}, Brier {}",
            fmt_estimate(&cal.ece),
            fmt_estimate(&cal.brier)
        ))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], ORANGE.stroke_width(2)));
    chart
        .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, ORANGE.filled())))
        .map_err(&err)?;
    chart
        .configure_series_labels()
        .label_font((FONT, TICK_SIZE))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(&err)?;
    root.present().map_err(&err)?;
    Ok(())
}
