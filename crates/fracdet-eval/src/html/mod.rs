//! `report.html`: one self-contained file a clinician can open anywhere.
//!
//! Every image (plots, case thumbnails) is inlined as a base64 `data:` URI and the page
//! carries its own CSS, so the file can be mailed or archived alone and never fetches
//! anything. A small inline script records on `<body>` whether every image decoded and
//! whether any script error fired (`data-images-ok`, `data-errors`), so headless-browser
//! tests can assert on the dumped DOM.

pub mod png;
mod render;

pub use png::{
    PngColor, draw_box_outline, encode_png, grey_canvas_png, heatmap_overlay_png, overlay_rgb,
};
pub use render::render_html;

use crate::report::MetricsReport;

/// A plot shown in the report.
#[derive(Debug, Clone)]
pub struct Figure {
    pub title: String,
    /// One or two sentences on how to read it.
    pub caption: String,
    /// PNG file bytes.
    pub png: Vec<u8>,
}

/// One image shown among the most confident errors.
#[derive(Debug, Clone)]
pub struct CaseThumbnail {
    /// Image name as in predictions.csv.
    pub image: String,
    /// The model's fracture probability.
    pub probability: f32,
    /// PNG file bytes of the thumbnail.
    pub png: Vec<u8>,
    /// Whether the thumbnail has the model's heatmap blended in.
    pub heatmap: bool,
}

/// Everything the HTML report shows besides the metrics themselves.
#[derive(Debug, Clone)]
pub struct HtmlReport<'a> {
    pub title: String,
    /// Key/value lines about what was evaluated (model, data, split, date, ...).
    pub context: Vec<(String, String)>,
    pub metrics: &'a MetricsReport,
    /// Name of the headline operating point in `metrics.at_operating_points`.
    pub primary: String,
    /// Where and how the thresholds were chosen, in words.
    pub operating_point_origin: String,
    pub figures: Vec<Figure>,
    /// Fractures the model found, most confident (highest probability) first: where its
    /// drawn boxes sit against the annotated ones.
    pub true_positives: Vec<CaseThumbnail>,
    /// Fractures the model missed, most confident (lowest probability) first.
    pub false_negatives: Vec<CaseThumbnail>,
    /// Normal images the model flagged, most confident (highest probability) first.
    pub false_positives: Vec<CaseThumbnail>,
    /// How the localisation numbers were obtained (shown above them), if there are any.
    pub localisation_note: Option<String>,
    /// Caveats shown prominently near the top.
    pub warnings: Vec<String>,
}
