//! Axis-aligned boxes in pixel coordinates.

use serde::{Deserialize, Serialize};

/// A box in pixel coordinates, `x_min <= x_max`, `y_min <= y_max`; edges are continuous
/// coordinates (pixel `i` spans `[i, i + 1)`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x_min: f32,
    pub y_min: f32,
    pub x_max: f32,
    pub y_max: f32,
}

impl BBox {
    pub fn new(x_min: f32, y_min: f32, x_max: f32, y_max: f32) -> Self {
        Self {
            x_min,
            y_min,
            x_max,
            y_max,
        }
    }

    pub fn width(&self) -> f32 {
        (self.x_max - self.x_min).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y_max - self.y_min).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Intersection over union; 0 when either box is empty.
    pub fn iou(&self, other: &BBox) -> f32 {
        let w = (self.x_max.min(other.x_max) - self.x_min.max(other.x_min)).max(0.0);
        let h = (self.y_max.min(other.y_max) - self.y_min.max(other.y_min)).max(0.0);
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x_min && x <= self.x_max && y >= self.y_min && y <= self.y_max
    }

    /// Whether the box lies inside a `width` x `height` image.
    pub fn is_inside(&self, width: u32, height: u32) -> bool {
        self.x_min >= 0.0
            && self.y_min >= 0.0
            && self.x_max <= width as f32
            && self.y_max <= height as f32
            && self.x_min <= self.x_max
            && self.y_min <= self.y_max
    }
}
