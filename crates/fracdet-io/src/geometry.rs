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

impl BBox {
    /// The box clipped to a `width` x `height` image (may become empty).
    pub fn clipped(&self, width: f32, height: f32) -> BBox {
        BBox {
            x_min: self.x_min.clamp(0.0, width),
            y_min: self.y_min.clamp(0.0, height),
            x_max: self.x_max.clamp(0.0, width),
            y_max: self.y_max.clamp(0.0, height),
        }
    }

    /// Whether all four edges are finite and the box is not inverted.
    pub fn is_valid(&self) -> bool {
        [self.x_min, self.y_min, self.x_max, self.y_max]
            .iter()
            .all(|v| v.is_finite())
            && self.x_min <= self.x_max
            && self.y_min <= self.y_max
    }

    /// The four corners, clockwise from top-left.
    pub fn corners(&self) -> [(f32, f32); 4] {
        [
            (self.x_min, self.y_min),
            (self.x_max, self.y_min),
            (self.x_max, self.y_max),
            (self.x_min, self.y_max),
        ]
    }

    /// The smallest box holding all `points`; `None` when there are none.
    pub fn enclosing(points: impl IntoIterator<Item = (f32, f32)>) -> Option<BBox> {
        let mut it = points.into_iter();
        let (x, y) = it.next()?;
        let mut b = BBox::new(x, y, x, y);
        for (x, y) in it {
            b.x_min = b.x_min.min(x);
            b.y_min = b.y_min.min(y);
            b.x_max = b.x_max.max(x);
            b.y_max = b.y_max.max(y);
        }
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_and_enclose() {
        let b = BBox::new(-5.0, 2.0, 50.0, 8.0).clipped(40.0, 10.0);
        assert_eq!(b, BBox::new(0.0, 2.0, 40.0, 8.0));
        let e = BBox::enclosing([(3.0, 4.0), (-1.0, 9.0), (2.0, 0.5)]).unwrap();
        assert_eq!(e, BBox::new(-1.0, 0.5, 3.0, 9.0));
        assert!(BBox::enclosing([]).is_none());
        assert!(!BBox::new(2.0, 0.0, 1.0, 1.0).is_valid());
        assert!(!BBox::new(f32::NAN, 0.0, 1.0, 1.0).is_valid());
    }
}
