//! A check of an RLE Lossless frame (PS3.5 Annex G) before dicom-rs decodes it.
//!
//! Why: dicom-rs's RLE decoder indexes its header and its decoded segments without bounds
//! checks, so a short fragment, a segment count beyond the header, or a literal run longer
//! than the data left makes it panic. It also expands each segment in full before taking
//! the bytes it needs, so runs that decode to far more than a plane are a memory bomb.
//! This walk decodes nothing; it counts what each segment would decode to.

/// Check the RLE `fragment` of one frame: `segments` byte planes (samples per pixel times
/// bytes per sample) of `plane` bytes each (rows x columns).
pub(crate) fn check_frame(fragment: &[u8], segments: usize, plane: usize) -> Result<(), String> {
    let Some(header) = fragment.get(..64) else {
        return Err(format!(
            "RLE fragment of {} bytes is shorter than its 64-byte header",
            fragment.len()
        ));
    };
    let word = |i: usize| {
        u32::from_le_bytes([
            header[4 * i],
            header[4 * i + 1],
            header[4 * i + 2],
            header[4 * i + 3],
        ]) as usize
    };
    let count = word(0);
    if count != segments || !(1..=15).contains(&count) {
        return Err(format!(
            "RLE header lists {count} segments, the image needs {segments}"
        ));
    }
    let mut bounds: Vec<usize> = (1..=count).map(word).collect();
    bounds.push(fragment.len());
    if bounds[0] != 64 || bounds.windows(2).any(|w| w[0] > w[1]) {
        return Err(format!(
            "RLE segment offsets {:?} are not increasing from 64 within {} bytes",
            &bounds[..count],
            fragment.len()
        ));
    }
    for (i, w) in bounds.windows(2).enumerate() {
        let decoded = decoded_len(&fragment[w[0]..w[1]])
            .map_err(|at| format!("RLE segment {} ends inside a run at byte {at}", i + 1))?;
        // Encoders write exactly one plane; a little slack for odd padding, but no bomb.
        if decoded < plane || decoded > 2 * plane + 128 {
            return Err(format!(
                "RLE segment {} decodes to {decoded} bytes, a plane is {plane}",
                i + 1
            ));
        }
    }
    Ok(())
}

/// Bytes a PackBits segment decodes to, or the offset of a repeat run missing its byte.
fn decoded_len(segment: &[u8]) -> Result<usize, usize> {
    let (mut i, mut out) = (0usize, 0usize);
    while i < segment.len() {
        let h = segment[i] as i8;
        let at = i;
        i += 1;
        match h {
            -128 => {}
            -127..=-1 => {
                if i >= segment.len() {
                    return Err(at);
                }
                out += (1 - isize::from(h)) as usize;
                i += 1;
            }
            _ => {
                // A literal run past the end yields only the bytes present, as in the
                // decoder (a zero pad byte at the end is such a run, and harmless).
                let n = h as usize + 1;
                out += n.min(segment.len() - i);
                i += n;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(segments: &[&[u8]]) -> Vec<u8> {
        let mut header = [0u32; 16];
        header[0] = segments.len() as u32;
        let mut at = 64;
        for (i, s) in segments.iter().enumerate() {
            header[i + 1] = at;
            at += s.len() as u32;
        }
        let mut out: Vec<u8> = header.iter().flat_map(|v| v.to_le_bytes()).collect();
        segments.iter().for_each(|s| out.extend_from_slice(s));
        out
    }

    #[test]
    fn honest_segments_pass_and_overlong_runs_do_not() {
        // Literal of 3, then 3 copies of 9: six bytes.
        let good: &[u8] = &[2, 1, 2, 3, 0xFE, 9];
        assert_eq!(decoded_len(good), Ok(6));
        assert_eq!(check_frame(&frame(&[good]), 1, 6), Ok(()));
        // A literal run of 100 with 3 bytes behind it.
        let long: &[u8] = &[99, 1, 2, 3];
        assert!(check_frame(&frame(&[long]), 1, 6).is_err());
        assert!(check_frame(&frame(&[good]), 2, 6).is_err());
        assert!(check_frame(&frame(&[good]), 1, 7).is_err());
        assert!(check_frame(&[1, 0, 0, 0], 1, 6).is_err());
        // A bomb: two bytes that decode to 128 each, many times over.
        let bomb: Vec<u8> = [0x81u8, 0].repeat(100);
        assert!(check_frame(&frame(&[&bomb]), 1, 6).is_err());
    }
}
