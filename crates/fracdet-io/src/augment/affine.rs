//! Affine warps of the square canvas and the matching box transform.

use crate::BBox;

/// `dst = M · src + t` in continuous pixel coordinates (pixel `i` spans `[i, i + 1)`),
/// `M = [[a, b], [c, d]]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub a: f32,
    pub b: f32,
    pub c: f32,
    pub d: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Affine {
    pub const IDENTITY: Affine = Affine {
        a: 1.0,
        b: 0.0,
        c: 0.0,
        d: 1.0,
        tx: 0.0,
        ty: 0.0,
    };

    /// Optional horizontal flip, then rotation by `angle` radians (clockwise on screen, as y
    /// points down) and isotropic `scale`, all about the canvas centre, then a shift of
    /// (`shift_x`, `shift_y`) pixels.
    pub fn about_centre(
        size: u32,
        flip: bool,
        angle: f32,
        scale: f32,
        shift_x: f32,
        shift_y: f32,
    ) -> Affine {
        let (sin, cos) = angle.sin_cos();
        let f = if flip { -1.0 } else { 1.0 };
        // M = scale · R · diag(f, 1)
        let (a, b, c, d) = (scale * cos * f, -scale * sin, scale * sin * f, scale * cos);
        let half = size as f32 / 2.0;
        // dst = M (src - centre) + centre + shift
        Affine {
            a,
            b,
            c,
            d,
            tx: half - (a * half + b * half) + shift_x,
            ty: half - (c * half + d * half) + shift_y,
        }
    }

    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (
            self.a * x + self.b * y + self.tx,
            self.c * x + self.d * y + self.ty,
        )
    }

    /// The inverse transform; `None` when singular.
    pub fn inverse(&self) -> Option<Affine> {
        let det = self.a * self.d - self.b * self.c;
        if det.abs() < 1e-12 || !det.is_finite() {
            return None;
        }
        let (a, b, c, d) = (self.d / det, -self.b / det, -self.c / det, self.a / det);
        Some(Affine {
            a,
            b,
            c,
            d,
            tx: -(a * self.tx + b * self.ty),
            ty: -(c * self.tx + d * self.ty),
        })
    }

    /// The axis-aligned box around the transformed corners, clipped to a `side` canvas;
    /// `None` when less than `min_visible` of it stays on the canvas.
    pub fn map_bbox(&self, b: &BBox, side: f32, min_visible: f32) -> Option<BBox> {
        let full = BBox::enclosing(b.corners().map(|(x, y)| self.apply(x, y)))?;
        let clipped = full.clipped(side, side);
        let visible = clipped.area();
        if visible <= 0.0 || visible < min_visible * full.area() {
            None
        } else {
            Some(clipped)
        }
    }
}

/// Warp a `size` x `size` canvas: each output pixel centre is mapped back through the
/// inverse transform and sampled bilinearly; samples off the canvas read as 0.
pub fn warp_affine(src: &[f32], size: u32, t: &Affine) -> Vec<f32> {
    let s = size as usize;
    let mut out = vec![0.0f32; s * s];
    if src.len() != s * s {
        return out;
    }
    let Some(inv) = t.inverse() else {
        return out;
    };
    let at = |x: isize, y: isize| -> f32 {
        if x >= 0 && y >= 0 && (x as usize) < s && (y as usize) < s {
            src[y as usize * s + x as usize]
        } else {
            0.0
        }
    };
    for (y, row) in out.chunks_exact_mut(s).enumerate() {
        let yc = y as f32 + 0.5;
        // Source position moves linearly along the row: start + x * step.
        let (mut u, mut v) = inv.apply(0.5, yc);
        let (du, dv) = (inv.a, inv.c);
        for px in row.iter_mut() {
            // Source pixel centres sit at i + 0.5.
            let (fu, fv) = (u - 0.5, v - 0.5);
            if fu > -1.0 && fv > -1.0 && fu < s as f32 && fv < s as f32 {
                let (x0, y0) = (fu.floor(), fv.floor());
                let (wx, wy) = (fu - x0, fv - y0);
                let (x0, y0) = (x0 as isize, y0 as isize);
                let inside = x0 >= 0 && y0 >= 0 && (x0 as usize) + 1 < s && (y0 as usize) + 1 < s;
                let (p00, p10, p01, p11) = if inside {
                    let i = y0 as usize * s + x0 as usize;
                    (src[i], src[i + 1], src[i + s], src[i + s + 1])
                } else {
                    (
                        at(x0, y0),
                        at(x0 + 1, y0),
                        at(x0, y0 + 1),
                        at(x0 + 1, y0 + 1),
                    )
                };
                let top = p00 + (p10 - p00) * wx;
                let bottom = p01 + (p11 - p01) * wx;
                *px = top + (bottom - top) * wy;
            }
            u += du;
            v += dv;
        }
    }
    out
}
