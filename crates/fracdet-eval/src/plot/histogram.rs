//! Score distributions of fractures and non-fractures.

use std::path::Path;

use plotters::prelude::*;

use super::style::{Axes, BLUE, FONT, TICK_SIZE, VERMILLION, canvas, plot_err, probability_chart};
use crate::error::{Result, validate};

/// Two overlaid histograms (`bins` equal-width bins over [0, 1]; scores outside are
/// clamped into the end bins), each normalised to its class size so that classes of
/// different prevalence are comparable. `threshold`, if given, is drawn as a vertical line.
pub fn plot_score_histograms(
    path: &Path,
    title: &str,
    labels: &[bool],
    scores: &[f32],
    bins: usize,
    threshold: Option<f64>,
    size: (u32, u32),
) -> Result<()> {
    validate(labels, scores)?;
    let bins = bins.clamp(2, 200);
    let mut freq = [vec![0f64; bins], vec![0f64; bins]];
    let mut n = [0usize; 2];
    for (&y, &s) in labels.iter().zip(scores) {
        let b = ((f64::from(s).clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        freq[usize::from(y)][b] += 1.0;
        n[usize::from(y)] += 1;
    }
    for c in 0..2 {
        if n[c] > 0 {
            freq[c].iter_mut().for_each(|v| *v /= n[c] as f64);
        }
    }
    let ymax = freq.iter().flatten().copied().fold(0.0, f64::max).max(0.05) * 1.15;
    let err = plot_err(path);
    let root = canvas(path, size)?;
    let axes = Axes {
        x_desc: "Predicted probability of fracture",
        y_desc: "Fraction of class",
        y_max: ymax,
        y_label_area: 70,
    };
    let mut chart = probability_chart(&root, path, title, &axes)?;
    let width = 1.0 / bins as f64;
    let names = ["No fracture", "Fracture"];
    let colours = [BLUE, VERMILLION];
    for c in 0..2 {
        let colour = colours[c];
        let rects = freq[c].iter().enumerate().map(move |(b, &v)| {
            let x0 = b as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width, v)], colour.mix(0.45).filled())
        });
        chart
            .draw_series(rects)
            .map_err(&err)?
            .label(format!("{} (n = {})", names[c], n[c]))
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 20, y + 6)], colour.mix(0.45).filled())
            });
    }
    if let Some(t) = threshold.filter(|t| (0.0..=1.0).contains(t)) {
        chart
            .draw_series(LineSeries::new(
                [(t, 0.0), (t, ymax)],
                BLACK.stroke_width(2),
            ))
            .map_err(&err)?
            .label(format!("Threshold {t:.3}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    }
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
