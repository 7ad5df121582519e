//! Training curves from `metrics.csv`: losses on the left panel, validation metrics on
//! the right.

use std::path::Path;

use plotters::prelude::*;

use super::style::{FONT, LABEL_SIZE, PALETTE, TICK_SIZE, TITLE_SIZE, ensure_font, plot_err};
use crate::error::{EvalError, Result};
use crate::training_log::TrainingLog;

/// Left panel: every column whose name contains "loss". Right panel: per-split metrics,
/// i.e. columns named `val_*`, `train_*` or `test_*` (not losses) whose values all lie in
/// [0, 1] (AUROC, sensitivity, ...). Other columns (`lr`, `seconds`, `skipped`, ...) are
/// bookkeeping and skipped. Missing values break the line.
pub fn plot_training_curves(
    path: &Path,
    title: &str,
    log: &TrainingLog,
    size: (u32, u32),
) -> Result<()> {
    ensure_font()?;
    super::style::check_size(path, size)?;
    if log.epochs.is_empty() || log.epochs.iter().any(|e| !e.is_finite()) {
        return Err(EvalError::Plot {
            path: path.display().to_string(),
            message: "training log has no rows or a non-finite epoch".into(),
        });
    }
    let err = plot_err(path);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(&err)?;
    let root = root
        .margin(8, 0, 0, 0)
        .titled(title, (FONT, TITLE_SIZE))
        .map_err(&err)?;
    let (left, right) = root.split_horizontally(size.0 / 2);

    let (losses, unit) = panel_columns(log);
    let x0 = log.epochs.iter().copied().fold(f64::INFINITY, f64::min);
    let x1 = log.epochs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let xr = if x1 > x0 { x0..x1 } else { x0 - 0.5..x0 + 0.5 };
    let ymax = losses
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .copied()
        .fold(0.0, f64::max)
        .max(1e-3)
        * 1.1;

    let panels = [
        (
            &left,
            "Loss",
            losses,
            0.0..ymax,
            SeriesLabelPosition::UpperRight,
        ),
        (
            &right,
            "Validation metric",
            unit,
            0.0..1.0,
            SeriesLabelPosition::LowerRight,
        ),
    ];
    for (area, ydesc, cols, yr, pos) in panels {
        let mut chart = ChartBuilder::on(area)
            .margin(14)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d(xr.clone(), yr)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc("Epoch")
            .y_desc(ydesc)
            .axis_desc_style((FONT, LABEL_SIZE))
            .label_style((FONT, TICK_SIZE))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(&err)?;
        for (k, (name, values)) in cols.iter().enumerate() {
            let colour = PALETTE[k % PALETTE.len()];
            // Contiguous runs of present values, so gaps show as gaps.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (e, v) in log.epochs.iter().zip(values.iter()) {
                match v {
                    Some(v) => runs.last_mut().map(|r| r.push((*e, *v))).unwrap_or(()),
                    None => runs.push(Vec::new()),
                }
            }
            let mut first = true;
            for run in runs.into_iter().filter(|r| !r.is_empty()) {
                let pts = run.clone();
                let s = chart
                    .draw_series(LineSeries::new(run, colour.stroke_width(2)))
                    .map_err(&err)?;
                if first {
                    s.label(name.as_str()).legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
                    });
                    first = false;
                }
                chart
                    .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, colour.filled())))
                    .map_err(&err)?;
            }
        }
        chart
            .configure_series_labels()
            .label_font((FONT, TICK_SIZE))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .position(pos)
            .draw()
            .map_err(&err)?;
    }
    root.present().map_err(&err)?;
    Ok(())
}

type Column = (String, Vec<Option<f64>>);

/// Columns for the (loss, metric) panels; see [`plot_training_curves`].
fn panel_columns(log: &TrainingLog) -> (Vec<&Column>, Vec<&Column>) {
    let losses = log
        .columns
        .iter()
        .filter(|(n, _)| n.contains("loss"))
        .collect();
    let unit = log
        .columns
        .iter()
        .filter(|(n, v)| {
            is_split_metric(n)
                && !n.contains("loss")
                && v.iter().any(Option::is_some)
                && v.iter().flatten().all(|x| (0.0..=1.0).contains(x))
        })
        .collect();
    (losses, unit)
}

fn is_split_metric(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["val_", "train_", "test_"].iter().any(|p| n.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trainer_csv_columns_go_to_the_right_panels() {
        // The header fracdet-train writes, plus a made-up metric.
        let csv = "epoch,lr,train_loss,val_loss,val_auroc,seconds,train_images_per_second,skipped,frozen,val_sens\n\
                   1,0.001,0.7,0.69,0.61,120.5,35.2,0,1,0.5\n2,0.001,0.6,0.6,0.7,118.0,36.0,1,0,0.6\n";
        let log = TrainingLog::parse(csv).unwrap();
        let (loss, metric) = panel_columns(&log);
        let names = |v: Vec<&Column>| v.into_iter().map(|c| c.0.clone()).collect::<Vec<_>>();
        assert_eq!(names(loss), ["train_loss", "val_loss"]);
        assert_eq!(names(metric), ["val_auroc", "val_sens"]);
    }
}
