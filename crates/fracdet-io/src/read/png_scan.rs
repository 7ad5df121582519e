//! A pre-flight walk over PNG chunks, before the `png` crate sees the file.
//!
//! Why: the `png` crate inflates an iCCP profile (and zTXt/iTXt text) up to its whole
//! allocation limit, so a 1x1 image can cost hundreds of megabytes of RAM; and whether a
//! truncated IDAT stream is an error depends on where it was cut. This walk checks every
//! chunk length against the bytes present, inflates compressed metadata only up to
//! [`ReadOptions::max_metadata_bytes`](super::ReadOptions::max_metadata_bytes), and inflates
//! the image data into a byte counter (nothing kept) to prove it holds every row.

use std::io::Read;

use flate2::read::ZlibDecoder;

/// What the walk found wrong: an over-budget chunk or corrupt/missing data.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PngProblem {
    /// Compressed metadata inflating past the limit; the chunk type.
    MetadataTooLarge(&'static str),
    Corrupt(String),
}

const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Walk `bytes`, a PNG file. `Ok` means every chunk fits in the file, compressed
/// metadata inflates within `max_metadata`, and the image data inflates to at least the
/// size IHDR asks for.
pub(crate) fn check(bytes: &[u8], max_metadata: u64) -> Result<(), PngProblem> {
    let corrupt = |s: String| Err(PngProblem::Corrupt(s));
    let Some(mut rest) = bytes.strip_prefix(SIGNATURE) else {
        return corrupt("no PNG signature".into());
    };
    let mut offset = SIGNATURE.len();
    let mut ihdr: Option<&[u8]> = None;
    let mut idat: Vec<&[u8]> = Vec::new();
    loop {
        if rest.is_empty() {
            break;
        }
        let Some(header) = rest.get(..8) else {
            return corrupt(format!("chunk header at byte {offset} is cut off"));
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind: [u8; 4] = [header[4], header[5], header[6], header[7]];
        let Some(data) = rest.get(8..8 + len) else {
            return corrupt(format!(
                "chunk {} at byte {offset} claims {len} bytes, {} remain",
                String::from_utf8_lossy(&kind),
                rest.len() - 8
            ));
        };
        if rest.len() < 12 + len {
            return corrupt(format!(
                "chunk {} at byte {offset} has no CRC",
                String::from_utf8_lossy(&kind)
            ));
        }
        match &kind {
            b"IHDR" if ihdr.is_none() => ihdr = Some(data),
            b"IDAT" => idat.push(data),
            b"iCCP" => metadata("iCCP", after_keyword(data, 1), max_metadata)?,
            b"zTXt" => metadata("zTXt", after_keyword(data, 1), max_metadata)?,
            b"iTXt" => {
                // keyword \0 flag method language \0 translated keyword \0 text
                if let Some(rest) = after_keyword(data, 0)
                    && rest.first() == Some(&1)
                {
                    let text = rest
                        .get(2..)
                        .and_then(|r| skip_nul(r))
                        .and_then(|r| skip_nul(r));
                    metadata("iTXt", text, max_metadata)?;
                }
            }
            b"IEND" => break,
            _ => {}
        }
        offset += 12 + len;
        rest = &rest[12 + len..];
    }
    let Some(ihdr) = ihdr else {
        return corrupt("no IHDR chunk".into());
    };
    let Some(expected) = raw_size(ihdr) else {
        return corrupt("IHDR has an invalid colour type, bit depth or size".into());
    };
    let mut inflated = 0u64;
    let mut decoder = ZlibDecoder::new(Chunks { parts: idat, at: 0 });
    let mut buf = [0u8; 16 * 1024];
    while inflated < expected {
        match decoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => inflated += n as u64,
            Err(e) => {
                return corrupt(format!(
                    "image data (IDAT) stops inflating after {inflated} of the {expected} bytes IHDR needs: {e}"
                ));
            }
        }
    }
    if inflated < expected {
        return corrupt(format!(
            "image data inflates to {inflated} of the {expected} bytes IHDR needs (truncated IDAT)"
        ));
    }
    Ok(())
}

/// Inflate a compressed metadata chunk's zlib stream into a counter, no further than the
/// limit. `compressed` is `None` when the chunk is malformed; the decoder judges those.
fn metadata(kind: &'static str, compressed: Option<&[u8]>, limit: u64) -> Result<(), PngProblem> {
    let Some(compressed) = compressed else {
        return Ok(());
    };
    let mut decoder = ZlibDecoder::new(compressed).take(limit + 1);
    match std::io::copy(&mut decoder, &mut std::io::sink()) {
        Ok(n) if n > limit => Err(PngProblem::MetadataTooLarge(kind)),
        // A corrupt stream is left to the decoder, which ignores a broken iCCP.
        _ => Ok(()),
    }
}

/// The bytes after a NUL-terminated keyword and `skip` more (the compression method).
fn after_keyword(data: &[u8], skip: usize) -> Option<&[u8]> {
    skip_nul(data)?.get(skip..)
}

fn skip_nul(data: &[u8]) -> Option<&[u8]> {
    let nul = data.iter().position(|&b| b == 0)?;
    data.get(nul + 1..)
}

/// Filtered image data size from IHDR (PNG spec 7.2, Adam7 passes when interlaced).
fn raw_size(ihdr: &[u8]) -> Option<u64> {
    let be = |r: std::ops::Range<usize>| -> Option<u64> {
        Some(u64::from(u32::from_be_bytes(ihdr.get(r)?.try_into().ok()?)))
    };
    let (w, h) = (be(0..4)?, be(4..8)?);
    let depth = u64::from(*ihdr.get(8)?);
    let channels = match ihdr.get(9)? {
        0 | 3 => 1,
        2 => 3,
        4 => 2,
        6 => 4,
        _ => return None,
    };
    if !matches!(depth, 1 | 2 | 4 | 8 | 16) || w == 0 || h == 0 {
        return None;
    }
    let bits = depth * channels;
    let pass = |pw: u64, ph: u64| -> u64 {
        if pw == 0 || ph == 0 {
            0
        } else {
            ph * (1 + (pw * bits).div_ceil(8))
        }
    };
    if *ihdr.get(12)? == 0 {
        return Some(pass(w, h));
    }
    // Adam7: (x start, y start, x step, y step) of the seven passes.
    const ADAM7: [(u64, u64, u64, u64); 7] = [
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ];
    Some(
        ADAM7
            .iter()
            .map(|&(x0, y0, dx, dy)| {
                pass(
                    w.saturating_sub(x0).div_ceil(dx),
                    h.saturating_sub(y0).div_ceil(dy),
                )
            })
            .sum(),
    )
}

/// The IDAT chunks' data as one stream.
struct Chunks<'a> {
    parts: Vec<&'a [u8]>,
    at: usize,
}

impl Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(part) = self.parts.get_mut(self.at) {
            if part.is_empty() {
                self.at += 1;
                continue;
            }
            let n = part.len().min(buf.len());
            buf[..n].copy_from_slice(&part[..n]);
            *part = &part[n..];
            return Ok(n);
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam7_size_matches_the_passes() {
        // 8x8 grey 8-bit: pass sizes 1x1, 1x1, 2x1, 2x2, 4x2, 4x4, 8x4 pixels.
        let mut ihdr = [0u8; 13];
        ihdr[..4].copy_from_slice(&8u32.to_be_bytes());
        ihdr[4..8].copy_from_slice(&8u32.to_be_bytes());
        ihdr[8] = 8;
        assert_eq!(raw_size(&ihdr), Some(8 * 9));
        ihdr[12] = 1;
        let passes = [(1, 1), (1, 1), (2, 1), (2, 2), (4, 2), (4, 4), (8, 4)];
        let expected: u64 = passes.iter().map(|&(w, h)| h * (1 + w)).sum();
        assert_eq!(raw_size(&ihdr), Some(expected));
    }
}
