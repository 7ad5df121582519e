//! Shared plot plumbing: the bundled font, colours, error mapping.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::{FontStyle, RGBColor, register_font};

use crate::error::{EvalError, Result};

/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

pub(crate) const FONT: &str = "sans-serif";
pub(crate) const TITLE_SIZE: u32 = 26;
pub(crate) const LABEL_SIZE: u32 = 18;
pub(crate) const TICK_SIZE: u32 = 15;

/// Colour-blind-safe (Okabe–Ito) series colours.
pub(crate) const BLUE: RGBColor = RGBColor(0, 114, 178);
pub(crate) const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub(crate) const GREEN: RGBColor = RGBColor(0, 158, 115);
pub(crate) const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub(crate) const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub(crate) const GREY: RGBColor = RGBColor(120, 120, 120);
pub(crate) const PALETTE: [RGBColor; 5] = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE];

/// Registers the bundled font once per process.
pub(crate) fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok()
            && register_font(FONT, FontStyle::Bold, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(EvalError::Plot {
            path: String::new(),
            message: "bundled font could not be parsed".into(),
        })
    }
}

/// Refuses canvases too small to hold axes and a legend (plotters may panic on them).
pub(crate) fn check_size(path: &Path, size: (u32, u32)) -> Result<()> {
    if size.0 < 200 || size.1 < 150 || size.0 > 10_000 || size.1 > 10_000 {
        return Err(EvalError::Plot {
            path: path.display().to_string(),
            message: format!(
                "image size {}x{} outside 200x150..10000x10000",
                size.0, size.1
            ),
        });
    }
    Ok(())
}

/// Maps any plotters error to [`EvalError::Plot`] for `path`.
pub(crate) fn plot_err<E: std::fmt::Debug>(path: &Path) -> impl Fn(E) -> EvalError + '_ {
    move |e| EvalError::Plot {
        path: path.display().to_string(),
        message: format!("{e:?}"),
    }
}

/// Formats an estimate as "0.912 (95% CI 0.871–0.944)" for legends.
pub(crate) fn fmt_estimate(e: &crate::estimate::Estimate) -> String {
    match (e.value, e.ci) {
        (Some(v), Some(ci)) => format!(
            "{v:.3} ({:.0}% CI {:.3}–{:.3})",
            ci.level * 100.0,
            ci.lower,
            ci.upper
        ),
        (Some(v), None) => format!("{v:.3}"),
        (None, _) => "undefined".into(),
    }
}

/// A chart over [0, 1] on x and [0, `y_max`] on y: the shape of every probability plot.
pub(crate) type UnitChart<'r, 'p> =
    ChartContext<'r, BitMapBackend<'p>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Axis titles and range of a [`probability_chart`].
pub(crate) struct Axes<'a> {
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub y_max: f64,
    /// Room for the y tick labels, in pixels.
    pub y_label_area: u32,
}

/// A white `size` canvas writing to `path`, after the size check and font registration.
pub(crate) fn canvas(
    path: &Path,
    size: (u32, u32),
) -> Result<DrawingArea<BitMapBackend<'_>, Shift>> {
    ensure_font()?;
    check_size(path, size)?;
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err(path))?;
    Ok(root)
}

/// The shared frame of the probability plots: caption, margins, x in [0, 1], mesh with
/// axis titles in the bundled font and no minor grid lines.
pub(crate) fn probability_chart<'r, 'p>(
    root: &'r DrawingArea<BitMapBackend<'p>, Shift>,
    path: &Path,
    title: &str,
    axes: &Axes,
) -> Result<UnitChart<'r, 'p>> {
    let err = plot_err(path);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, TITLE_SIZE))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(axes.y_label_area)
        .build_cartesian_2d(0f64..1f64, 0f64..axes.y_max)
        .map_err(&err)?;
    chart
        .configure_mesh()
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .axis_desc_style((FONT, LABEL_SIZE))
        .label_style((FONT, TICK_SIZE))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(&err)?;
    Ok(chart)
}
