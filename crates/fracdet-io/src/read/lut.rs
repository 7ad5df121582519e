//! The DICOM grey pipeline as pure functions on f64: stored value -> modality value ->
//! presentation value in [0, 1]. Kept apart from parsing so each step is tested exactly
//! against the formulas of PS3.3 C.11.

use crate::radiograph::Window;

/// How stored bits sit in an allocated sample (PS3.5 8.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SampleLayout {
    pub bits_stored: u16,
    pub high_bit: u16,
    pub signed: bool,
}

impl SampleLayout {
    /// The stored value held in a raw allocated sample: shift the stored bits down to bit 0,
    /// drop whatever the high (unused) bits hold — overlays or garbage — and sign-extend
    /// when PixelRepresentation is 1.
    pub fn value(&self, raw: u32) -> i64 {
        let bits = u32::from(self.bits_stored.clamp(1, 32));
        let shift = (u32::from(self.high_bit) + 1).saturating_sub(bits).min(31);
        let mask: u64 = (1u64 << bits) - 1;
        let v = (u64::from(raw) >> shift) & mask;
        if self.signed && v & (1u64 << (bits - 1)) != 0 {
            v as i64 - (1i64 << bits)
        } else {
            v as i64
        }
    }
}

/// The VOI LUT Function (0028,1056) that shapes a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum WindowFunction {
    #[default]
    Linear,
    LinearExact,
    Sigmoid,
}

impl WindowFunction {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "LINEAR" | "" => Some(Self::Linear),
            "LINEAR_EXACT" => Some(Self::LinearExact),
            "SIGMOID" => Some(Self::Sigmoid),
            _ => None,
        }
    }

    /// Whether `width` is legal for this function (PS3.3 C.11.2.1.2: >= 1 for LINEAR,
    /// > 0 otherwise).
    pub fn accepts_width(&self, width: f64) -> bool {
        width.is_finite()
            && match self {
                Self::Linear => width >= 1.0,
                Self::LinearExact | Self::Sigmoid => width > 0.0,
            }
    }

    /// Modality value `x` through window `w` to [0, 1] (PS3.3 C.11.2.1.2.1 / .2 / .3.1 with
    /// ymin = 0, ymax = 1). Caller guarantees [`accepts_width`](Self::accepts_width).
    pub fn apply(&self, w: Window, x: f64) -> f64 {
        let (c, width) = (w.center, w.width);
        match self {
            Self::Linear => {
                let lo = c - 0.5 - (width - 1.0) / 2.0;
                let hi = c - 0.5 + (width - 1.0) / 2.0;
                if x <= lo {
                    0.0
                } else if x > hi {
                    1.0
                } else {
                    (x - (c - 0.5)) / (width - 1.0) + 0.5
                }
            }
            Self::LinearExact => {
                if x <= c - width / 2.0 {
                    0.0
                } else if x > c + width / 2.0 {
                    1.0
                } else {
                    (x - c) / width + 0.5
                }
            }
            Self::Sigmoid => 1.0 / (1.0 + (-4.0 * (x - c) / width).exp()),
        }
    }
}

/// The LINEAR window that maps `lo` to 0 and `hi` to 1 exactly, for files with no VOI.
pub(crate) fn min_max_window(lo: f64, hi: f64) -> Window {
    Window {
        center: (lo + hi) / 2.0 + 0.5,
        width: (hi - lo) + 1.0,
    }
}

/// A lookup table (Modality LUT or VOI LUT Sequence item, PS3.3 C.11.1 / C.11.2):
/// inputs below `first` map to entry 0, above the last to the last entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lut {
    pub first: i64,
    pub entries: Vec<u16>,
    /// Bits per entry (LUT Descriptor value 3); the VOI output range is 0..2^bits-1.
    pub bits: u8,
}

impl Lut {
    pub fn lookup(&self, x: f64) -> f64 {
        let Some(last) = self.entries.len().checked_sub(1) else {
            return 0.0;
        };
        let idx = (x.floor() - self.first as f64).clamp(0.0, last as f64) as usize;
        f64::from(self.entries[idx])
    }

    /// Output as a fraction of the LUT's full range, for VOI LUTs.
    pub fn lookup_unit(&self, x: f64) -> f64 {
        let max = ((1u64 << self.bits.clamp(1, 16)) - 1) as f64;
        (self.lookup(x) / max).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_bits_in_sixteen_drop_high_garbage() {
        let l = SampleLayout {
            bits_stored: 12,
            high_bit: 11,
            signed: false,
        };
        assert_eq!(l.value(0xF123), 0x123);
        assert_eq!(l.value(0x0FFF), 4095);
    }

    #[test]
    fn signed_values_sign_extend_from_bits_stored() {
        let l = SampleLayout {
            bits_stored: 12,
            high_bit: 11,
            signed: true,
        };
        assert_eq!(l.value(0x0800), -2048);
        assert_eq!(l.value(0xFFFF), -1);
        assert_eq!(l.value(0x07FF), 2047);
    }

    #[test]
    fn high_bit_above_bits_stored_shifts_down() {
        // Stored bits 4..=15 (high bit 15, 12 stored): low nibble is not part of the value.
        let l = SampleLayout {
            bits_stored: 12,
            high_bit: 15,
            signed: false,
        };
        assert_eq!(l.value(0xABCD), 0xABC);
    }

    #[test]
    fn linear_window_matches_standard_formula() {
        let w = Window {
            center: 2048.0,
            width: 4096.0,
        };
        let f = WindowFunction::Linear;
        assert_eq!(f.apply(w, 0.0), 0.0);
        assert_eq!(f.apply(w, 4095.0), 1.0);
        let mid = f.apply(w, 2047.5);
        assert!((mid - 0.5).abs() < 1e-12, "{mid}");
        // x = 1000: ((1000 - 2047.5) / 4095 + 0.5)
        let v = f.apply(w, 1000.0);
        assert!((v - ((1000.0 - 2047.5) / 4095.0 + 0.5)).abs() < 1e-12);
    }

    #[test]
    fn width_one_is_a_threshold() {
        let w = Window {
            center: 100.0,
            width: 1.0,
        };
        assert_eq!(WindowFunction::Linear.apply(w, 99.5), 0.0);
        assert_eq!(WindowFunction::Linear.apply(w, 99.6), 1.0);
    }

    #[test]
    fn min_max_window_hits_both_ends() {
        let w = min_max_window(-1000.0, 3000.0);
        assert_eq!(WindowFunction::Linear.apply(w, -1000.0), 0.0);
        assert_eq!(WindowFunction::Linear.apply(w, 3000.0), 1.0);
        let flat = min_max_window(7.0, 7.0);
        assert!(WindowFunction::Linear.accepts_width(flat.width));
        assert_eq!(WindowFunction::Linear.apply(flat, 7.0), 0.0);
    }

    #[test]
    fn sigmoid_is_half_at_center() {
        let w = Window {
            center: 10.0,
            width: 4.0,
        };
        assert!((WindowFunction::Sigmoid.apply(w, 10.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn lut_clamps_outside_its_range() {
        let lut = Lut {
            first: 10,
            entries: vec![0, 100, 255],
            bits: 8,
        };
        assert_eq!(lut.lookup(-5.0), 0.0);
        assert_eq!(lut.lookup(11.0), 100.0);
        assert_eq!(lut.lookup(1e9), 255.0);
        assert_eq!(lut.lookup_unit(12.0), 1.0);
    }
}
