//! Brightness, contrast and gamma.

use serde::{Deserialize, Serialize};

use crate::BBox;

/// `v -> clamp((v^gamma - 0.5) * contrast + 0.5 + brightness, 0, 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Photometric {
    pub brightness: f32,
    pub contrast: f32,
    pub gamma: f32,
}

impl Photometric {
    pub const IDENTITY: Photometric = Photometric {
        brightness: 0.0,
        contrast: 1.0,
        gamma: 1.0,
    };

    pub fn apply_value(&self, v: f32) -> f32 {
        let g = if self.gamma == 1.0 {
            v
        } else {
            v.max(0.0).powf(self.gamma)
        };
        ((g - 0.5) * self.contrast + 0.5 + self.brightness).clamp(0.0, 1.0)
    }
}

/// Apply `p` to the pixels of a `size` canvas whose centres lie inside `content`.
pub fn apply_photometric(canvas: &mut [f32], size: u32, content: BBox, p: &Photometric) {
    let s = size as usize;
    if canvas.len() != s * s || *p == Photometric::IDENTITY {
        return;
    }
    // A 256-entry table would quantise; powf per pixel is affordable at working size.
    let x0 = (content.x_min.max(0.0).round() as usize).min(s);
    let x1 = (content.x_max.max(0.0).round() as usize).min(s);
    let y0 = (content.y_min.max(0.0).round() as usize).min(s);
    let y1 = (content.y_max.max(0.0).round() as usize).min(s);
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    for row in canvas[y0 * s..y1 * s].chunks_exact_mut(s) {
        for v in &mut row[x0..x1] {
            *v = p.apply_value(*v);
        }
    }
}
