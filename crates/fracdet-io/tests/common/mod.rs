//! Fixtures shared by the reader hardening, fuzz and memory tests: valid files of every
//! kind fracdet reads, and the hostile variants of issue #16, all generated here.

#![allow(dead_code)] // each test binary uses its own subset

use std::io::Write;

use dicom_core::value::{PixelFragmentSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use image::GrayImage;

pub const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
pub const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
pub const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
pub const DEFLATED: &str = "1.2.840.10008.1.2.1.99";
pub const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
pub const RLE: &str = "1.2.840.10008.1.2.5";

/// xorshift64*: deterministic, no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A grey picture with structure and noise, so JPEG scans carry real coefficients.
pub fn grey(w: u32, h: u32) -> Vec<u8> {
    let mut rng = Rng(0x5EED ^ u64::from(w * 31 + h));
    (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let base = (x * 255 / w.max(1) + y * 97 / h.max(1)) % 256;
            (base as u64 + rng.next() % 24) as u8
        })
        .collect()
}

pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = GrayImage::from_raw(w, h, grey(w, h)).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode(&grey(w, h), w, h, image::ExtendedColorType::L8)
        .unwrap();
    out
}

pub fn jpeg_rgb(w: u32, h: u32) -> Vec<u8> {
    let g = grey(w, h);
    let rgb: Vec<u8> = g
        .iter()
        .flat_map(|&v| [v, v.wrapping_mul(3), 255 - v])
        .collect();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode(&rgb, w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// Offset of the last start-of-scan marker.
pub fn last_sos(jpeg: &[u8]) -> usize {
    jpeg.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap()
}

/// The first `fraction` of the entropy-coded data, then an end-of-image marker: what a
/// cut-off download patched by a naive "repair" looks like.
pub fn jpeg_cut_with_eoi(jpeg: &[u8], fraction: f64) -> Vec<u8> {
    let sos = last_sos(jpeg);
    let scan = jpeg.len() - 2 - sos;
    let mut out = jpeg[..sos + (scan as f64 * fraction) as usize].to_vec();
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// The frame header's height replaced by `height`.
pub fn jpeg_with_height(jpeg: &[u8], height: u16) -> Vec<u8> {
    let sof = jpeg
        .windows(2)
        .position(|w| w[0] == 0xFF && matches!(w[1], 0xC0..=0xC2))
        .unwrap();
    let mut out = jpeg.to_vec();
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
    out
}

/// A 1x1 PNG whose iCCP profile is `inflated` zero bytes, deflated (a zlib bomb).
pub fn png_iccp_bomb(inflated: usize) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    let mut left = inflated;
    while left > 0 {
        let n = left.min(zeros.len());
        z.write_all(&zeros[..n]).unwrap();
        left -= n;
    }
    let mut data = b"bomb\0\0".to_vec();
    data.extend(z.finish().unwrap());
    let base = png(1, 1);
    // Signature (8) + IHDR chunk (25), then the profile, before any IDAT.
    let mut out = base[..33].to_vec();
    out.extend(png_chunk(b"iCCP", &data));
    out.extend_from_slice(&base[33..]);
    out
}

/// A PNG whose single IDAT chunk holds only the first `fraction` of its zlib stream,
/// with a correct length and CRC and the IEND chunk after it: rows are missing, yet every
/// chunk is well formed.
pub fn png_short_idat(w: u32, h: u32, fraction: f64) -> Vec<u8> {
    let base = png(w, h);
    let mut out = base[..8].to_vec();
    let mut rest = &base[8..];
    let mut idat = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = rest[4..8].try_into().unwrap();
        let data = &rest[8..8 + len];
        match &kind {
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => {
                let cut = (idat.len() as f64 * fraction) as usize;
                out.extend(png_chunk(b"IDAT", &idat[..cut]));
                out.extend(png_chunk(b"IEND", &[]));
            }
            _ => out.extend_from_slice(&rest[..12 + len]),
        }
        rest = &rest[12 + len..];
    }
    out
}

fn us(tag: Tag, v: u16) -> InMemElement {
    DataElement::new(tag, VR::US, PrimitiveValue::from(v))
}

/// A monochrome DICOM of `cols` x `rows` with the given pixel data element.
pub fn dicom_with(
    cols: u16,
    rows: u16,
    bits: u16,
    pixels: InMemElement,
    extra: Vec<InMemElement>,
    ts: &str,
) -> Vec<u8> {
    let mut elements = vec![
        DataElement::new(
            tags::SOP_CLASS_UID,
            VR::UI,
            PrimitiveValue::from("1.2.840.10008.5.1.4.1.1.1.1"),
        ),
        DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3.4"),
        ),
        us(tags::SAMPLES_PER_PIXEL, 1),
        DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from("MONOCHROME2"),
        ),
        us(tags::ROWS, rows),
        us(tags::COLUMNS, cols),
        us(tags::BITS_ALLOCATED, bits),
        us(tags::BITS_STORED, bits.min(12)),
        us(tags::HIGH_BIT, bits.min(12) - 1),
        us(tags::PIXEL_REPRESENTATION, 0),
    ];
    elements.extend(extra);
    elements.push(pixels);
    let mut out = Vec::new();
    InMemDicomObject::from_element_iter(elements)
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(ts))
        .unwrap()
        .write_all(&mut out)
        .unwrap();
    out
}

pub fn samples16(cols: u16, rows: u16) -> Vec<u16> {
    (0..u32::from(cols) * u32::from(rows))
        .map(|i| (i * 37 % 4096) as u16)
        .collect()
}

/// Native 16-bit DICOM in transfer syntax `ts` (deflated included).
pub fn dicom(cols: u16, rows: u16, ts: &str, extra: Vec<InMemElement>) -> Vec<u8> {
    let pixels = DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(samples16(cols, rows).into()),
    );
    dicom_with(cols, rows, 16, pixels, extra, ts)
}

pub fn encapsulated(fragment: Vec<u8>) -> InMemElement {
    let mut fragment = fragment;
    if fragment.len() % 2 == 1 {
        fragment.push(0);
    }
    DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::from(PixelFragmentSequence::new(vec![0u32], vec![fragment])),
    )
}

pub fn dicom_jpeg(cols: u16, rows: u16, jpeg: Vec<u8>) -> Vec<u8> {
    dicom_with(cols, rows, 8, encapsulated(jpeg), vec![], JPEG_BASELINE)
}

/// DICOM RLE (PS3.5 G) of 16-bit samples: two PackBits segments of literal runs.
pub fn rle_frame(samples: &[u16]) -> Vec<u8> {
    let planes: [Vec<u8>; 2] = [
        samples.iter().map(|v| (v >> 8) as u8).collect(),
        samples.iter().map(|v| (v & 0xFF) as u8).collect(),
    ];
    let segments: Vec<Vec<u8>> = planes
        .iter()
        .map(|plane| {
            let mut seg = Vec::new();
            for run in plane.chunks(128) {
                seg.push((run.len() - 1) as u8);
                seg.extend_from_slice(run);
            }
            if seg.len() % 2 == 1 {
                seg.push(0x80);
            }
            seg
        })
        .collect();
    rle_with_segments(&segments)
}

pub fn rle_with_segments(segments: &[Vec<u8>]) -> Vec<u8> {
    let mut header = [0u32; 16];
    header[0] = segments.len() as u32;
    let mut offset = 64u32;
    for (i, seg) in segments.iter().enumerate() {
        header[i + 1] = offset;
        offset += seg.len() as u32;
    }
    let mut out: Vec<u8> = header.iter().flat_map(|v| v.to_le_bytes()).collect();
    for seg in segments {
        out.extend_from_slice(seg);
    }
    out
}

pub fn dicom_rle(cols: u16, rows: u16, frame: Vec<u8>) -> Vec<u8> {
    dicom_with(cols, rows, 16, encapsulated(frame), vec![], RLE)
}

/// An RLE DICOM whose second segment's last literal run claims 128 bytes and has 2: the
/// decoder of dicom-rs 0.10 indexes past its decoded segment and panics.
pub fn rle_overlong_run(cols: u16, rows: u16) -> Vec<u8> {
    let samples = samples16(cols, rows);
    let mut frame = rle_frame(&samples);
    let mut segments: Vec<Vec<u8>> = Vec::new();
    {
        let count = u32::from_le_bytes(frame[..4].try_into().unwrap()) as usize;
        let offsets: Vec<usize> = (0..count)
            .map(|i| u32::from_le_bytes(frame[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
            .chain([frame.len()])
            .collect();
        for w in offsets.windows(2) {
            segments.push(frame[w[0]..w[1]].to_vec());
        }
    }
    let last = segments.last_mut().unwrap();
    last.truncate(last.len() / 2);
    last.extend_from_slice(&[127, 1, 2]);
    if last.len() % 2 == 1 {
        last.push(0x80);
    }
    frame = rle_with_segments(&segments);
    dicom_rle(cols, rows, frame)
}

/// A private OB element, 4 bytes, to forge.
pub fn private_marker() -> InMemElement {
    DataElement::new(
        Tag(0x0009, 0x1000),
        VR::OB,
        PrimitiveValue::U8(vec![0xAB; 4].into()),
    )
}

/// Where the data set starts: after "DICM" and the file meta group, whose length is the
/// value of (0002,0000).
pub fn dataset_start(dcm: &[u8]) -> usize {
    let magic = 128 + 4;
    let group_len = u32::from_le_bytes(dcm[magic + 8..magic + 12].try_into().unwrap()) as usize;
    magic + 12 + group_len
}

/// A Deflated Explicit VR Little Endian DICOM whose private element (0009,1000) claims
/// about 4 GiB, re-deflated: a few hundred bytes on disk.
pub fn deflated_forged_length() -> Vec<u8> {
    use std::io::Read;
    let dcm = dicom(2, 2, DEFLATED, vec![private_marker()]);
    let start = dataset_start(&dcm);
    let mut inflated = Vec::new();
    flate2::read::DeflateDecoder::new(&dcm[start..])
        .read_to_end(&mut inflated)
        .unwrap();
    let header = [0x09, 0x00, 0x00, 0x10, b'O', b'B', 0, 0, 4, 0, 0, 0];
    let at = inflated
        .windows(header.len())
        .position(|w| w == header)
        .expect("private element in the data set");
    inflated[at + 8..at + 12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&inflated).unwrap();
    let mut out = dcm[..start].to_vec();
    out.extend(z.finish().unwrap());
    out
}

/// A Deflated DICOM whose data set inflates to `inflated` bytes: a private OB element of
/// zeros, honest length, deflating to almost nothing.
pub fn deflated_bomb(inflated: usize) -> Vec<u8> {
    use std::io::Read;
    let dcm = dicom(2, 2, DEFLATED, vec![private_marker()]);
    let start = dataset_start(&dcm);
    let mut plain = Vec::new();
    flate2::read::DeflateDecoder::new(&dcm[start..])
        .read_to_end(&mut plain)
        .unwrap();
    let header = [0x09, 0x00, 0x00, 0x10, b'O', b'B', 0, 0, 4, 0, 0, 0];
    let at = plain
        .windows(header.len())
        .position(|w| w == header)
        .unwrap();
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&plain[..at + 8]).unwrap();
    z.write_all(&(inflated as u32).to_le_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut left = inflated;
    while left > 0 {
        let n = left.min(zeros.len());
        z.write_all(&zeros[..n]).unwrap();
        left -= n;
    }
    z.write_all(&plain[at + 16..]).unwrap();
    let mut out = dcm[..start].to_vec();
    out.extend(z.finish().unwrap());
    out
}

/// Rebuild a PNG, passing every chunk's type and data through `edit` (CRCs recomputed).
pub fn png_edit(png: &[u8], mut edit: impl FnMut(&[u8; 4], &[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut out = png[..8].to_vec();
    let mut rest = &png[8..];
    while rest.len() >= 12 {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = rest[4..8].try_into().unwrap();
        out.extend(png_chunk(&kind, &edit(&kind, &rest[8..8 + len])));
        rest = &rest[12 + len..];
    }
    out
}

/// A PNG whose IDAT is a complete, valid zlib stream of only the first `fraction` of
/// the filtered rows: every chunk and checksum is right, the rows are simply missing.
pub fn png_fewer_rows(w: u32, h: u32, fraction: f64) -> Vec<u8> {
    use std::io::Read;
    png_edit(&png(w, h), |kind, data| {
        if kind != b"IDAT" {
            return data.to_vec();
        }
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(data)
            .read_to_end(&mut raw)
            .unwrap();
        raw.truncate((raw.len() as f64 * fraction) as usize);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&raw).unwrap();
        z.finish().unwrap()
    })
}

/// The IHDR height replaced by `height`, CRC fixed.
pub fn png_with_height(png: &[u8], height: u32) -> Vec<u8> {
    png_edit(png, |kind, data| {
        let mut data = data.to_vec();
        if kind == b"IHDR" {
            data[4..8].copy_from_slice(&height.to_be_bytes());
        }
        data
    })
}
