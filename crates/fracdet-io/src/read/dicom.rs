//! DICOM via dicom-object + dicom-pixeldata, first frame only.
//!
//! dicom-pixeldata undoes the transfer syntax (JPEG, RLE, deflate, byte order) and hands
//! back raw stored samples; the grey pipeline itself — bit masking, modality LUT, VOI,
//! MONOCHROME1 inversion — is ours (see [`super::lut`]) so its semantics are exact, in f64,
//! and tested. Only technical attributes are read; nothing patient-identifying leaves here.

use std::path::Path;

use dicom_core::Tag;
use dicom_core::value::Value as DicomValue;
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, FileMetaTable, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::PixelDecoder;

use flate2::read::DeflateDecoder;

use super::lut::{Lut, SampleLayout, WindowFunction, min_max_window};
use super::transfer_syntax::{self, KnownSyntax};
use super::{dicom_scan, jpeg_scan, quiet, rle};
use crate::radiograph::{Format, Metadata, Photometric, Radiograph, Window};
use crate::read::{ReadOptions, check_decoded, check_pixels};
use crate::{IoError, Result};

const LABEL: &str = "DICOM";

pub(crate) fn read(bytes: &[u8], name: &Path, options: &ReadOptions) -> Result<Radiograph> {
    let (preamble, _) = split_preamble(bytes);
    // 1 and 2. Everything but the pixel data: check the size before any pixel allocation.
    let DicomHeader {
        header,
        transfer_syntax: ts_uid,
        syntax,
    } = read_header_with(bytes, name, true, options)?;
    let h = Header::parse(&header, name)?;
    check_pixels(name, u64::from(h.columns), u64::from(h.rows), options)?;
    let frame_bytes =
        h.pixels() as u64 * u64::from(h.samples_per_pixel) * u64::from(h.bits_allocated / 8);
    check_decoded(
        name,
        || {
            format!(
                "a {}x{} frame of {} x {}-bit samples",
                h.columns, h.rows, h.samples_per_pixel, h.bits_allocated
            )
        },
        frame_bytes,
        options,
    )?;
    drop(header);

    // 3. The whole object, then the first frame's stored samples.
    let obj = OpenFileOptions::new()
        .read_preamble(preamble)
        .from_reader(bytes)
        .map_err(|e| corrupt(name, &e))?;
    if syntax.jpeg {
        check_jpeg_frame(&obj, &h, name)?;
    } else if syntax.uid == transfer_syntax::RLE_LOSSLESS {
        let bad = |reason| corrupt_because(name, reason);
        let fragment = first_fragment(&obj, name)?;
        let planes = usize::from(h.samples_per_pixel) * usize::from(h.bits_allocated / 8);
        rle::check_frame(fragment, planes, h.pixels()).map_err(bad)?;
    }
    let decoded = obj
        .decode_pixel_data_frame(0)
        .map_err(|e| corrupt(name, &e))?;
    let planar = decoded.planar_configuration() == dicom_pixeldata::PlanarConfiguration::PixelFirst;
    let samples = samples(decoded.data(), &h, name)?;
    drop(decoded);

    let (pixels, raw_range, window) = match h.samples_per_pixel {
        1 => grey_pipeline(&samples, &h, options, name)?,
        _ => colour_to_grey(&samples, &h, planar),
    };
    // Colour is decoded to RGB whatever YBR variant was stored.
    let photometric = h.photometric;

    Ok(Radiograph {
        width: u32::from(h.columns),
        height: u32::from(h.rows),
        pixels,
        meta: Metadata {
            source: name.to_path_buf(),
            format: Format::Dicom,
            bit_depth: h.layout.bits_stored.min(255) as u8,
            photometric,
            window,
            pixel_spacing_mm: h.pixel_spacing_mm,
            body_part: h.body_part,
            modality: h.modality,
            chroma: None,
            transfer_syntax: Some(ts_uid),
            raw_range,
        },
    })
}

/// A DICOM file's data set up to, not including, the pixel data.
pub(crate) struct DicomHeader {
    pub header: DefaultDicomObject,
    /// The transfer syntax UID, padding trimmed.
    pub transfer_syntax: String,
    pub syntax: KnownSyntax,
}

/// The 128-byte preamble is optional in a stream (PS3.10 7.1): where the magic is.
fn split_preamble(bytes: &[u8]) -> (ReadPreamble, &[u8]) {
    if bytes.get(128..132) == Some(b"DICM") {
        (ReadPreamble::Always, &bytes[128..])
    } else {
        (ReadPreamble::Never, bytes)
    }
}

/// Parse everything before the pixel data, after checking every declared length against
/// the bytes present. With `decode_pixels`, transfer syntaxes whose pixel data fracdet
/// cannot decode are refused first; without, any syntax whose data set encoding is known
/// will do (a result writer needs only the header). Default memory budget; decoder panics
/// become [`IoError::Corrupt`], silently.
pub(crate) fn read_header(bytes: &[u8], name: &Path, decode_pixels: bool) -> Result<DicomHeader> {
    let options = ReadOptions::default();
    quiet::catch(|| read_header_with(bytes, name, decode_pixels, &options))
        .unwrap_or_else(|what| Err(corrupt_because(name, format!("decoder panicked: {what}"))))
}

/// [`read_header`] within `options`' budget: the data set (inflated, when deflated) must fit
/// in [`ReadOptions::max_decoded_bytes`].
fn read_header_with(
    bytes: &[u8],
    name: &Path,
    decode_pixels: bool,
    options: &ReadOptions,
) -> Result<DicomHeader> {
    let (preamble, from_magic) = split_preamble(bytes);

    // 1. File meta only: refuse transfer syntaxes we cannot handle before parsing further.
    // Every declared length is checked against the bytes present first (see dicom_scan).
    let after_magic = from_magic.get(4..).unwrap_or_default();
    let meta_end = 4 + dicom_scan::check_lengths(after_magic, dicom_scan::META, true)
        .map_err(|reason| corrupt_because(name, reason))?;
    // The meta parser reads as far as the group length (0002,0000) says, and the data set
    // parser starts where it stopped: both must be where the walk found the group's end,
    // or the data set walk below would check different elements than the parser reads.
    let mut meta_bytes = from_magic.get(..meta_end).unwrap_or(from_magic);
    let meta = FileMetaTable::from_reader(&mut meta_bytes).map_err(|e| corrupt(name, &e))?;
    if !meta_bytes.is_empty() {
        return Err(corrupt_because(
            name,
            format!(
                "file meta group length (0002,0000) disagrees with the group's elements ({} bytes left unread)",
                meta_bytes.len()
            ),
        ));
    }
    let ts_uid = transfer_syntax::trim_uid(meta.transfer_syntax()).to_string();
    let syntax = if decode_pixels {
        supported_syntax(name, &ts_uid)?
    } else {
        transfer_syntax::lookup(&ts_uid).ok_or_else(|| IoError::UnsupportedTransferSyntax {
            path: name.to_path_buf(),
            uid: ts_uid.clone(),
            name: "unknown transfer syntax".to_string(),
        })?
    };
    let stored = from_magic.get(meta_end..).unwrap_or_default();
    // Deflated: the parser would inflate as it goes and trust every length it meets, so the
    // data set is inflated here first, through a bounded reader, and walked like any other.
    let inflated = match syntax.encoding() {
        Some(_) => None,
        None => Some(inflate_bounded(stored, name, options)?),
    };
    let dataset = inflated.as_deref().unwrap_or(stored);
    check_decoded(
        name,
        || "the DICOM data set".to_string(),
        dataset.len() as u64,
        options,
    )?;
    let encoding = syntax.encoding().unwrap_or(dicom_scan::META);
    dicom_scan::check_lengths(dataset, encoding, false)
        .map_err(|reason| corrupt_because(name, reason))?;
    drop(inflated);

    let header = OpenFileOptions::new()
        .read_preamble(preamble)
        .read_until(tags::PIXEL_DATA)
        .from_reader(bytes)
        .map_err(|e| corrupt(name, &e))?;
    Ok(DicomHeader {
        header,
        transfer_syntax: ts_uid,
        syntax,
    })
}

/// A raw deflate stream (PS3.5 A.5) inflated, refused once it passes the budget. Counted
/// first so that a bomb costs no memory, then inflated into a buffer of the exact size.
fn inflate_bounded(stored: &[u8], name: &Path, options: &ReadOptions) -> Result<Vec<u8>> {
    use std::io::Read;
    let limit = options.max_decoded_bytes;
    let bad = |e: std::io::Error| corrupt_because(name, format!("deflated data set: {e}"));
    let mut counter = DeflateDecoder::new(stored).take(limit.saturating_add(1));
    let size = std::io::copy(&mut counter, &mut std::io::sink()).map_err(bad)?;
    if size > limit {
        return Err(IoError::OverBudget {
            path: name.to_path_buf(),
            what: "the deflated DICOM data set inflates past the limit".to_string(),
            limit,
            option: "max_decoded_bytes",
        });
    }
    let mut inflated = Vec::with_capacity(size as usize);
    DeflateDecoder::new(stored)
        .take(size)
        .read_to_end(&mut inflated)
        .map_err(bad)?;
    Ok(inflated)
}

fn supported_syntax(name: &Path, uid: &str) -> Result<KnownSyntax> {
    match transfer_syntax::lookup(uid) {
        Some(ts) if ts.supported => Ok(ts),
        Some(ts) => Err(IoError::UnsupportedTransferSyntax {
            path: name.to_path_buf(),
            uid: uid.to_string(),
            name: ts.name.to_string(),
        }),
        None => Err(IoError::UnsupportedTransferSyntax {
            path: name.to_path_buf(),
            uid: uid.to_string(),
            name: "unknown transfer syntax".to_string(),
        }),
    }
}

/// The technical attributes that decide how samples become grey values.
#[derive(Debug)]
struct Header {
    rows: u16,
    columns: u16,
    samples_per_pixel: u16,
    bits_allocated: u16,
    layout: SampleLayout,
    photometric: Photometric,
    rescale: (f64, f64),
    modality_lut: Option<Lut>,
    windows: Vec<(Window, WindowFunction)>,
    voi_lut: Option<Lut>,
    pixel_spacing_mm: Option<(f64, f64)>,
    body_part: Option<String>,
    modality: Option<String>,
}

impl Header {
    fn parse(obj: &InMemDicomObject, name: &Path) -> Result<Self> {
        let rows = required_u16(obj, tags::ROWS, "Rows", name)?;
        let columns = required_u16(obj, tags::COLUMNS, "Columns", name)?;
        let samples_per_pixel = optional_u16(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
        let bits_allocated = required_u16(obj, tags::BITS_ALLOCATED, "BitsAllocated", name)?;
        let bits_stored = optional_u16(obj, tags::BITS_STORED).unwrap_or(bits_allocated);
        let high_bit = optional_u16(obj, tags::HIGH_BIT).unwrap_or(bits_stored.wrapping_sub(1));
        let signed = optional_u16(obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1;
        let bad = |attribute: &'static str, reason: String| IoError::Dicom {
            path: name.to_path_buf(),
            attribute,
            reason,
        };
        if !matches!(bits_allocated, 8 | 16 | 32) {
            return Err(IoError::Unsupported {
                path: name.to_path_buf(),
                what: format!("DICOM BitsAllocated {bits_allocated} (8, 16 or 32 supported)"),
            });
        }
        if bits_stored == 0 || bits_stored > bits_allocated {
            return Err(bad(
                "BitsStored",
                format!("{bits_stored} with BitsAllocated {bits_allocated}"),
            ));
        }
        if high_bit >= bits_allocated || high_bit + 1 < bits_stored {
            return Err(bad(
                "HighBit",
                format!("{high_bit} with BitsStored {bits_stored}, BitsAllocated {bits_allocated}"),
            ));
        }
        let pi = optional_str(obj, tags::PHOTOMETRIC_INTERPRETATION).unwrap_or_default();
        let photometric = match (samples_per_pixel, pi.as_str()) {
            (1, "MONOCHROME1") => Photometric::Monochrome1,
            (1, "MONOCHROME2") | (1, "") => Photometric::Monochrome2,
            (3, "RGB" | "YBR_FULL" | "YBR_FULL_422") => Photometric::Rgb,
            (spp, pi) => {
                return Err(IoError::Unsupported {
                    path: name.to_path_buf(),
                    what: format!(
                        "DICOM PhotometricInterpretation {pi:?} with SamplesPerPixel {spp}"
                    ),
                });
            }
        };

        let slope = optional_f64(obj, tags::RESCALE_SLOPE).unwrap_or(1.0);
        let intercept = optional_f64(obj, tags::RESCALE_INTERCEPT).unwrap_or(0.0);
        if !slope.is_finite() || !intercept.is_finite() {
            return Err(bad(
                "RescaleSlope",
                format!("slope {slope}, intercept {intercept}"),
            ));
        }
        let modality_lut = first_lut(obj, tags::MODALITY_LUT_SEQUENCE, signed);

        let centers = optional_f64s(obj, tags::WINDOW_CENTER);
        let widths = optional_f64s(obj, tags::WINDOW_WIDTH);
        let function = optional_str(obj, tags::VOILUT_FUNCTION)
            .map(|s| WindowFunction::parse(&s))
            .unwrap_or(Some(WindowFunction::Linear));
        let windows = match function {
            Some(function) => centers
                .iter()
                .zip(&widths)
                .map(|(&center, &width)| (Window { center, width }, function))
                .filter(|(w, f)| w.center.is_finite() && f.accepts_width(w.width))
                .collect(),
            None => {
                tracing::warn!(
                    "{}: unknown VOI LUT Function, window ignored",
                    name.display()
                );
                Vec::new()
            }
        };
        let voi_lut = first_lut(obj, tags::VOILUT_SEQUENCE, signed);

        let pixel_spacing_mm =
            spacing(obj, tags::PIXEL_SPACING).or_else(|| spacing(obj, tags::IMAGER_PIXEL_SPACING));
        let body_part = optional_str(obj, tags::BODY_PART_EXAMINED).filter(|s| !s.is_empty());
        let modality = optional_str(obj, tags::MODALITY).filter(|s| !s.is_empty());

        Ok(Self {
            rows,
            columns,
            samples_per_pixel,
            bits_allocated,
            layout: SampleLayout {
                bits_stored,
                high_bit,
                signed,
            },
            photometric,
            rescale: (slope, intercept),
            modality_lut,
            windows,
            voi_lut,
            pixel_spacing_mm,
            body_part,
            modality,
        })
    }

    fn pixels(&self) -> usize {
        usize::from(self.rows) * usize::from(self.columns)
    }
}

/// Raw allocated samples of the first frame, as u32, in file order.
fn samples(data: &[u8], h: &Header, name: &Path) -> Result<Vec<u32>> {
    let bytes_per_sample = usize::from(h.bits_allocated / 8);
    let count = h.pixels() * usize::from(h.samples_per_pixel);
    let needed = count * bytes_per_sample;
    let Some(data) = data.get(..needed) else {
        return Err(IoError::Corrupt {
            path: name.to_path_buf(),
            format: LABEL,
            reason: format!(
                "pixel data holds {} bytes, the first frame needs {needed}",
                data.len()
            ),
        });
    };
    // dicom-pixeldata hands back samples in native byte order whatever the transfer syntax.
    Ok(match bytes_per_sample {
        1 => data.iter().map(|&b| u32::from(b)).collect(),
        2 => data
            .chunks_exact(2)
            .map(|c| u32::from(u16::from_ne_bytes([c[0], c[1]])))
            .collect(),
        _ => data
            .chunks_exact(4)
            .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    })
}

/// Pixels in [0, 1], the value range before windowing, and the linear window applied.
type Grey = (Vec<f32>, (f64, f64), Option<Window>);

/// Stored -> modality -> VOI -> [0, 1], MONOCHROME1 inverted. Returns the pixels, the
/// modality range, and the linear window applied (`None` when a VOI LUT table was used).
fn grey_pipeline(samples: &[u32], h: &Header, options: &ReadOptions, name: &Path) -> Result<Grey> {
    let (slope, intercept) = h.rescale;
    let modality = |raw: u32| -> f64 {
        let stored = h.layout.value(raw) as f64;
        match &h.modality_lut {
            Some(lut) => lut.lookup(stored),
            None => stored * slope + intercept,
        }
    };
    let (lo, hi) = samples
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| {
            let v = modality(r);
            (lo.min(v), hi.max(v))
        });
    if !(lo.is_finite() && hi.is_finite()) {
        return Err(IoError::Corrupt {
            path: name.to_path_buf(),
            format: LABEL,
            reason: "no finite pixel values".to_string(),
        });
    }

    enum Voi<'a> {
        Window(Window, WindowFunction),
        Table(&'a Lut),
    }
    let voi = if let Some(w) = options.window {
        Voi::Window(w, WindowFunction::Linear)
    } else if let Some(&(w, f)) = h.windows.first() {
        Voi::Window(w, f)
    } else if let Some(lut) = &h.voi_lut {
        Voi::Table(lut)
    } else {
        Voi::Window(min_max_window(lo, hi), WindowFunction::Linear)
    };
    let invert = h.photometric == Photometric::Monochrome1;
    let pixels = samples
        .iter()
        .map(|&r| {
            let x = modality(r);
            let y = match &voi {
                Voi::Window(w, f) => f.apply(*w, x),
                Voi::Table(lut) => lut.lookup_unit(x),
            };
            let y = if invert { 1.0 - y } else { y };
            y.clamp(0.0, 1.0) as f32
        })
        .collect();
    let window = match voi {
        Voi::Window(w, _) => Some(w),
        Voi::Table(_) => None,
    };
    Ok((pixels, (lo, hi), window))
}

/// Colour DICOM (rare for radiographs): luminance of the stored samples, full scale.
fn colour_to_grey(samples: &[u32], h: &Header, planar: bool) -> Grey {
    let n = h.pixels();
    let full = ((1u64 << h.layout.bits_stored.min(32)) - 1) as f64;
    let at = |i: usize, c: usize| -> f64 {
        let idx = if planar { c * n + i } else { i * 3 + c };
        samples.get(idx).map_or(0.0, |&r| h.layout.value(r) as f64)
    };
    let grey: Vec<f64> = (0..n)
        .map(|i| 0.2126 * at(i, 0) + 0.7152 * at(i, 1) + 0.0722 * at(i, 2))
        .collect();
    let range = grey
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let pixels = grey
        .iter()
        .map(|&v| (v / full).clamp(0.0, 1.0) as f32)
        .collect();
    (pixels, range, None)
}

/// The JPEG decoder sizes its output from the bitstream's own frame header and the DICOM
/// codec copies it into a buffer sized from Rows/Columns; make sure they agree (and that
/// the bitstream cannot ask for a giant allocation) before decoding.
fn check_jpeg_frame(obj: &DefaultDicomObject, h: &Header, name: &Path) -> Result<()> {
    let bad = |reason: String| IoError::Corrupt {
        path: name.to_path_buf(),
        format: LABEL,
        reason,
    };
    let first = first_fragment(obj, name)?;
    let sof = jpeg_frame_header(first)
        .ok_or_else(|| bad("no JPEG frame header in the first fragment".into()))?;
    if (sof.width, sof.height) != (h.columns, h.rows)
        || u16::from(sof.components) != h.samples_per_pixel
        || u16::from(sof.precision) > h.bits_allocated
    {
        return Err(bad(format!(
            "JPEG frame is {}x{}, {} component(s) of {} bits; the DICOM header says {}x{}, {} sample(s) in {} bits",
            sof.width,
            sof.height,
            sof.components,
            sof.precision,
            h.columns,
            h.rows,
            h.samples_per_pixel,
            h.bits_allocated
        )));
    }
    // The codec fills a short bitstream with made-up data; prove it is whole. A single
    // frame may be split over several fragments, which the codec joins.
    let frames = obj
        .get(tags::NUMBER_OF_FRAMES)
        .and_then(|e| e.to_int::<u32>().ok())
        .unwrap_or(1);
    let joined;
    let stream = match pixel_fragments(obj) {
        Some(all) if frames <= 1 && all.len() > 1 => {
            joined = all.concat();
            &joined[..]
        }
        _ => first,
    };
    jpeg_scan::check_complete(stream).map_err(|e| bad(format!("JPEG frame: {e}")))
}

fn pixel_fragments(obj: &DefaultDicomObject) -> Option<&[Vec<u8>]> {
    match obj.element(tags::PIXEL_DATA).ok()?.value() {
        DicomValue::PixelSequence(seq) => Some(seq.fragments()),
        _ => None,
    }
}

/// The first fragment of encapsulated pixel data: the first frame's for JPEG and RLE.
fn first_fragment<'a>(obj: &'a DefaultDicomObject, name: &Path) -> Result<&'a [u8]> {
    let bad = |reason: &str| corrupt_because(name, reason.to_string());
    let element = obj
        .element(tags::PIXEL_DATA)
        .map_err(|_| missing(name, "PixelData"))?;
    let DicomValue::PixelSequence(seq) = element.value() else {
        return Err(bad(
            "compressed transfer syntax but pixel data is not encapsulated",
        ));
    };
    seq.fragments()
        .first()
        .map(|f| &f[..])
        .ok_or_else(|| bad("encapsulated pixel data has no fragments"))
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct JpegFrameHeader {
    pub precision: u8,
    pub height: u16,
    pub width: u16,
    pub components: u8,
}

/// Walk JPEG markers (ITU T.81 B.1) to the first SOFn segment.
pub(crate) fn jpeg_frame_header(data: &[u8]) -> Option<JpegFrameHeader> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while *data.get(i)? != 0xFF {
            i += 1;
        }
        while *data.get(i)? == 0xFF {
            i += 1;
        }
        let marker = *data.get(i)?;
        i += 1;
        match marker {
            0x01 | 0xD0..=0xD7 => continue,
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*data.get(i)?, *data.get(i + 1)?]));
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let s = data.get(i + 2..i + 8)?;
            return Some(JpegFrameHeader {
                precision: s[0],
                height: u16::from_be_bytes([s[1], s[2]]),
                width: u16::from_be_bytes([s[3], s[4]]),
                components: s[5],
            });
        }
        i += len;
    }
}

fn corrupt(name: &Path, err: &dyn std::error::Error) -> IoError {
    let mut reason = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        source = s.source();
    }
    IoError::Corrupt {
        path: name.to_path_buf(),
        format: LABEL,
        reason,
    }
}

fn corrupt_because(name: &Path, reason: String) -> IoError {
    IoError::Corrupt {
        path: name.to_path_buf(),
        format: LABEL,
        reason,
    }
}

fn missing(name: &Path, attribute: &'static str) -> IoError {
    IoError::Dicom {
        path: name.to_path_buf(),
        attribute,
        reason: "missing".to_string(),
    }
}

fn required_u16(obj: &InMemDicomObject, tag: Tag, attr: &'static str, name: &Path) -> Result<u16> {
    let element = obj.get(tag).ok_or_else(|| missing(name, attr))?;
    element.to_int::<u16>().map_err(|e| IoError::Dicom {
        path: name.to_path_buf(),
        attribute: attr,
        reason: e.to_string(),
    })
}

fn optional_u16(obj: &InMemDicomObject, tag: Tag) -> Option<u16> {
    obj.get(tag)?.to_int::<u16>().ok()
}

fn optional_f64(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    optional_f64s(obj, tag).first().copied()
}

fn optional_f64s(obj: &InMemDicomObject, tag: Tag) -> Vec<f64> {
    obj.get(tag)
        .and_then(|e| e.to_multi_float64().ok())
        .unwrap_or_default()
}

fn optional_str(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let s = obj.get(tag)?.to_str().ok()?;
    Some(s.trim_end_matches(['\0', ' ']).trim().to_string())
}

fn spacing(obj: &InMemDicomObject, tag: Tag) -> Option<(f64, f64)> {
    match optional_f64s(obj, tag).as_slice() {
        [r, c, ..] if r.is_finite() && c.is_finite() && *r > 0.0 && *c > 0.0 => Some((*r, *c)),
        _ => None,
    }
}

/// The first item of a Modality or VOI LUT Sequence, when it is well formed.
fn first_lut(obj: &InMemDicomObject, sequence: Tag, signed: bool) -> Option<Lut> {
    let item = obj.get(sequence)?.items()?.first()?;
    let descriptor: Vec<i64> = item.get(tags::LUT_DESCRIPTOR)?.to_multi_int::<i64>().ok()?;
    let [entries, first, bits, ..] = descriptor[..] else {
        return None;
    };
    let entries = if entries == 0 { 65536 } else { entries } as usize;
    // The first mapped value is US or SS following PixelRepresentation (PS3.3 C.11.1.1).
    let first = if signed && first > 32767 {
        first - 65536
    } else {
        first
    };
    let data = item.get(tags::LUT_DATA)?;
    let mut values: Vec<u16> = match data.value() {
        DicomValue::Primitive(p) => match p {
            dicom_core::PrimitiveValue::U8(b) => b
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect(),
            other => other.to_multi_int::<u16>().ok()?,
        },
        _ => return None,
    };
    if values.len() < entries || !(1..=16).contains(&bits) {
        return None;
    }
    values.truncate(entries);
    Some(Lut {
        first,
        entries: values,
        bits: bits as u8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzz target for the header path (element-length walk, meta and data set parsing up
    /// to the pixel data), which the result writer uses without decoding pixels: bounded
    /// mutations of a small file, each answered without a panic, caught or not. Run longer
    /// with `FRACDET_FUZZ_SECONDS`.
    #[test]
    fn header_scan_survives_mutations() {
        use dicom_core::{DataElement, PrimitiveValue, VR};
        use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
        let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
        let text = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
        let mut seeds = Vec::new();
        for ts in [
            "1.2.840.10008.1.2",
            "1.2.840.10008.1.2.1",
            "1.2.840.10008.1.2.2",
            "1.2.840.10008.1.2.1.99",
        ] {
            let obj = InMemDicomObject::from_element_iter([
                text(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.1.1"),
                text(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4"),
                text(tags::PATIENT_NAME, VR::PN, "Doe^Jane"),
                us(tags::ROWS, 4),
                us(tags::COLUMNS, 4),
                us(tags::BITS_ALLOCATED, 16),
                DataElement::new(
                    tags::PIXEL_DATA,
                    VR::OW,
                    PrimitiveValue::U16(vec![7u16; 16].into()),
                ),
            ]);
            let mut out = Vec::new();
            obj.with_meta(FileMetaTableBuilder::new().transfer_syntax(ts))
                .unwrap()
                .write_all(&mut out)
                .unwrap();
            assert!(read_header(&out, Path::new("seed"), false).is_ok(), "{ts}");
            seeds.push(out);
        }
        // A fixed count by default, so every machine tries the same inputs; a deadline
        // only when asked for a longer search.
        let deadline = std::env::var("FRACDET_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .map(|s| std::time::Instant::now() + std::time::Duration::from_secs_f64(s));
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let mut runs = 0u32;
        let more = |runs: u32| match deadline {
            Some(deadline) => runs < 2000 || std::time::Instant::now() < deadline,
            None => runs < 200_000,
        };
        while more(runs) {
            let mut b = seeds[next() as usize % seeds.len()].clone();
            for _ in 0..1 + next() % 3 {
                if b.is_empty() {
                    break;
                }
                let i = next() as usize % b.len();
                match next() % 3 {
                    0 => b[i] = next() as u8,
                    1 => {
                        let v = [0u8, 0xFF, 0x7F][next() as usize % 3];
                        let end = (i + 4).min(b.len());
                        b[i..end].fill(v);
                    }
                    _ => b.truncate(i),
                }
            }
            if let Err(e) = read_header(&b, Path::new("fuzz"), false) {
                let text = e.to_string();
                assert!(!text.contains("panicked"), "mutation {runs}: {text}");
            }
            let (_, from_magic) = split_preamble(&b);
            for (explicit_vr, big_endian) in [(true, false), (false, false), (true, true)] {
                let enc = dicom_scan::Encoding {
                    explicit_vr,
                    big_endian,
                };
                if let Ok(end) = dicom_scan::check_lengths(from_magic, enc, false) {
                    assert!(end <= from_magic.len());
                }
            }
            runs += 1;
        }
    }

    #[test]
    fn finds_sof_after_other_segments() {
        // SOI, APP0 (length 4, 2 bytes payload), fill byte, SOF0 8 bits 3x2 1 component.
        let data = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB, 0xFF, 0xFF, 0xC0, 0x00, 0x0B, 8, 0x00,
            0x02, 0x00, 0x03, 1, 1, 0x11, 0,
        ];
        assert_eq!(
            jpeg_frame_header(&data),
            Some(JpegFrameHeader {
                precision: 8,
                height: 2,
                width: 3,
                components: 1
            })
        );
        assert_eq!(jpeg_frame_header(&data[..12]), None);
        assert_eq!(jpeg_frame_header(&[0xFF, 0xD8, 0xFF, 0xDA]), None);
    }
}
