//! Confusion matrix as a 2x2 heat grid with counts and row percentages.

use std::path::Path;

use plotters::prelude::*;

use super::style::{BLUE, FONT, LABEL_SIZE, TICK_SIZE, TITLE_SIZE, ensure_font, plot_err};
use crate::confusion::ConfusionMatrix;
use crate::error::Result;

/// Rows: true class; columns: predicted class at `cm`'s threshold. Cell shade is the
/// row-normalised rate; the legend explains the shading.
pub fn plot_confusion_matrix(
    path: &Path,
    title: &str,
    cm: &ConfusionMatrix,
    threshold: f64,
    size: (u32, u32),
) -> Result<()> {
    ensure_font()?;
    super::style::check_size(path, size)?;
    let err = plot_err(path);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(&err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{title} (threshold {threshold:.3})"),
            (FONT, TITLE_SIZE),
        )
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(110)
        // Headroom above the grid (y up to 2.3) keeps the legend off the cells.
        .build_cartesian_2d(0f64..2f64, 0f64..2.3f64)
        .map_err(&err)?;
    let names = ["No fracture", "Fracture"];
    chart
        .configure_mesh()
        .disable_mesh()
        .set_all_tick_mark_size(0)
        .x_labels(5)
        .y_labels(24)
        .x_label_formatter(&|v| label_at(*v, &names))
        .y_label_formatter(&|v| label_at(*v, &names))
        .x_desc("Predicted")
        .y_desc("Truth")
        .axis_desc_style((FONT, LABEL_SIZE))
        .label_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(&err)?;
    // (truth row, predicted col, count, row total)
    let cells = [
        (0usize, 0usize, cm.tn, cm.negatives(), "TN"),
        (0, 1, cm.fp, cm.negatives(), "FP"),
        (1, 0, cm.fn_, cm.positives(), "FN"),
        (1, 1, cm.tp, cm.positives(), "TP"),
    ];
    for (row, col, count, total, tag) in cells {
        let rate = if total > 0 {
            count as f64 / total as f64
        } else {
            0.0
        };
        let (x0, y0) = (col as f64, row as f64);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0 + 0.01, y0 + 0.01), (x0 + 0.99, y0 + 0.99)],
                BLUE.mix(0.1 + 0.8 * rate).filled(),
            )))
            .map_err(&err)?;
        let colour = if rate > 0.55 { WHITE } else { BLACK };
        let style = (FONT, 26).into_font().color(&colour);
        let small = (FONT, 18).into_font().color(&colour);
        chart
            .draw_series([
                Text::new(format!("{tag} {count}"), (x0 + 0.33, y0 + 0.6), style),
                Text::new(
                    format!("{:.1}% of row", rate * 100.0),
                    (x0 + 0.30, y0 + 0.42),
                    small,
                ),
            ])
            .map_err(&err)?;
    }
    // Legend entries for the shading scale.
    chart
        .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
        .map_err(&err)?
        .label("Shade: fraction of the true class (row)")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], BLUE.mix(0.6).filled()));
    chart
        .configure_series_labels()
        .label_font((FONT, TICK_SIZE))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperMiddle)
        .draw()
        .map_err(&err)?;
    root.present().map_err(&err)?;
    Ok(())
}

fn label_at(v: f64, names: &[&str; 2]) -> String {
    if (v - 0.5).abs() < 1e-3 {
        names[0].into()
    } else if (v - 1.5).abs() < 1e-3 {
        names[1].into()
    } else {
        String::new()
    }
}
