//! The picture a reader looks at: the radiograph at its own resolution, with the heatmap
//! and boxes burned in when the model flags the image.

use fracdet_eval::html::{draw_box_outline, overlay_rgb};
use fracdet_io::Radiograph;

use crate::detector::Detection;
use crate::error::{DetectError, Result};

/// Heatmap weight where the map is 1.
const HEAT_ALPHA: f32 = 0.45;
const BOX_COLOUR: [u8; 3] = [255, 40, 40];

/// RGB overlay of `detection` on `image` (same size as the image). An image the model does
/// not flag is returned as plain grey: a heatmap on a negative image invites reading
/// evidence into it.
pub fn render_overlay(image: &Radiograph, detection: &Detection) -> Result<image::RgbImage> {
    if (image.width, image.height) != (detection.width, detection.height) {
        return Err(DetectError::InvalidArgument(format!(
            "detection is for a {}x{} image, not {}x{}",
            detection.width, detection.height, image.width, image.height
        )));
    }
    let flagged = detection.decisions.flagged(detection.probability);
    let heat = match (&detection.heatmap, flagged) {
        (Some(h), true) => Some(h.to_original()?),
        _ => None,
    };
    let mut rgb = overlay_rgb(&image.pixels, heat.as_deref(), HEAT_ALPHA)?;
    // Lines stay visible when a 3000-px radiograph is shown on a screen a third its size.
    let thickness = (image.width.max(image.height) / 400).max(2);
    for b in &detection.boxes {
        let bb = b.bbox;
        draw_box_outline(
            &mut rgb,
            image.width,
            image.height,
            [bb.x_min, bb.y_min, bb.x_max, bb.y_max],
            BOX_COLOUR,
            thickness,
        );
    }
    image::RgbImage::from_raw(image.width, image.height, rgb)
        .ok_or_else(|| DetectError::InvalidArgument("overlay buffer has the wrong size".into()))
}

/// PNG bytes of an RGB image.
pub fn encode_png(rgb: &image::RgbImage) -> Result<Vec<u8>> {
    Ok(fracdet_eval::html::encode_png(
        rgb.width(),
        rgb.height(),
        fracdet_eval::html::PngColor::Rgb,
        rgb.as_raw(),
    )?)
}
