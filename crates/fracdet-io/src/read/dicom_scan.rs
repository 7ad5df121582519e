//! A pre-flight walk over DICOM element headers, so that no declared length larger than the
//! bytes actually present ever reaches the parser.
//!
//! Why: dicom-parser reserves and zero-fills a value buffer of the declared length before
//! reading it, so a 200-byte file declaring a 4 GiB element costs 4 GiB of memory before it
//! fails. This walk reads only headers (tag, VR, length), descends into sequences and items
//! so nested elements are checked too, and skips encapsulated pixel data fragments as
//! opaque. It does not validate anything else; the real parser still does that.

/// How the elements being walked are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Encoding {
    pub explicit_vr: bool,
    pub big_endian: bool,
}

pub(crate) const META: Encoding = Encoding {
    explicit_vr: true,
    big_endian: false,
};

const UNDEFINED: u32 = 0xFFFF_FFFF;
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);

/// Walk `data`. With `meta_only`, stop at the first element outside group 0002 and return
/// its offset (the end of the file meta group); otherwise walk to the end and return
/// `data.len()`. Errors say which element over-claims.
///
/// The walk must read the data exactly as dicom-parser will, or it checks other bytes than
/// the parser reads: so a numeric value whose length is no multiple of its size is
/// refused (the parser would read the whole values only and lose its place), and UN of
/// undefined length is walked as implicit VR little endian up to its delimiter, as the
/// parser reads it (PS3.5 6.2.2).
pub(crate) fn check_lengths(data: &[u8], enc: Encoding, meta_only: bool) -> Result<usize, String> {
    let mut enc = enc;
    let u16_at = |p: usize, enc: Encoding| -> Option<u16> {
        let b = [*data.get(p)?, *data.get(p + 1)?];
        Some(if enc.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |p: usize, enc: Encoding| -> Option<u32> {
        let b = [
            *data.get(p)?,
            *data.get(p + 1)?,
            *data.get(p + 2)?,
            *data.get(p + 3)?,
        ];
        Some(if enc.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    // Item tags are always little-endian in the meta group and LE syntaxes; in explicit BE
    // they are big-endian like everything else, which u16_at handles.
    let mut pos = 0usize;
    // Inside encapsulated pixel data, items are opaque fragments.
    let mut in_fragments = false;
    // Open containers of undefined length (sequences, items), and for each UN among them
    // the encoding to return to when it closes.
    let mut depth = 0u32;
    let mut restore: Vec<(u32, Encoding)> = Vec::new();
    while pos + 8 <= data.len() {
        let (Some(group), Some(element)) = (u16_at(pos, enc), u16_at(pos + 2, enc)) else {
            break;
        };
        if meta_only && group != 0x0002 {
            return Ok(pos);
        }
        let remaining = |header: usize| data.len() - (pos + header).min(data.len());
        if group == 0xFFFE {
            let len = u32_at(pos + 4, enc).unwrap_or(0);
            let rest = remaining(8);
            match element {
                0xE000 if in_fragments || len != UNDEFINED => {
                    if len as usize > rest {
                        return Err(format!(
                            "item at byte {pos} claims {len} bytes, {rest} remain"
                        ));
                    }
                    // A fragment is skipped; a defined-length item is descended into so
                    // its elements are checked as well.
                    pos += 8 + if in_fragments { len as usize } else { 0 };
                }
                0xE000 => {
                    depth += 1;
                    pos += 8;
                }
                0xE0DD if in_fragments => {
                    in_fragments = false;
                    pos += 8;
                }
                0xE0DD | 0xE00D => {
                    if let Some(&(d, previous)) = restore.last()
                        && d == depth
                    {
                        enc = previous;
                        restore.pop();
                    }
                    depth = depth.saturating_sub(1);
                    pos += 8;
                }
                _ => pos += 8,
            }
            continue;
        }
        let (len, header, vr) = if enc.explicit_vr {
            let vr = [data[pos + 4], data[pos + 5]];
            // As dicom-parser does: the 2-byte length only for the VRs that have one; any
            // other VR, unknown ones included (read as UN), has the 4-byte form.
            if !matches!(
                &vr,
                b"AE"
                    | b"AS"
                    | b"AT"
                    | b"CS"
                    | b"DA"
                    | b"DS"
                    | b"DT"
                    | b"FL"
                    | b"FD"
                    | b"IS"
                    | b"LO"
                    | b"LT"
                    | b"PN"
                    | b"SH"
                    | b"SL"
                    | b"SS"
                    | b"ST"
                    | b"TM"
                    | b"UI"
                    | b"UL"
                    | b"US"
            ) {
                let Some(len) = u32_at(pos + 8, enc) else {
                    break;
                };
                (len, 12, Some(vr))
            } else {
                (u32::from(u16_at(pos + 6, enc).unwrap_or(0)), 8, Some(vr))
            }
        } else {
            (u32_at(pos + 4, enc).unwrap_or(0), 8, None)
        };
        pos += header;
        if len == UNDEFINED {
            if (group, element) == PIXEL_DATA && vr.as_ref() != Some(b"SQ") {
                in_fragments = true;
            } else {
                // A sequence (or UN holding one): walk into it.
                depth += 1;
                if vr.as_ref() == Some(b"UN") {
                    restore.push((depth, enc));
                    enc = IMPLICIT_LE;
                }
            }
            continue;
        }
        let rest = data.len().saturating_sub(pos);
        if len as usize > rest {
            return Err(format!(
                "element ({group:04X},{element:04X}) claims {len} bytes, {rest} remain"
            ));
        }
        let size = match vr {
            Some(vr) => value_size(vr),
            None => implicit_value_size(group, element),
        };
        if !(len as usize).is_multiple_of(size) {
            return Err(format!(
                "element ({group:04X},{element:04X}) has {len} bytes, not a whole number of {size}-byte values"
            ));
        }
        // Defined-length sequences are walked into; in implicit VR a sequence is recognised
        // by its value starting with an item tag.
        let is_sequence = match vr {
            Some(vr) => &vr == b"SQ",
            None => {
                len >= 8
                    && u16_at(pos, enc) == Some(0xFFFE)
                    && matches!(u16_at(pos + 2, enc), Some(0xE000))
            }
        };
        if !is_sequence {
            pos += len as usize;
        }
    }
    Ok(if meta_only { pos } else { data.len() })
}

const IMPLICIT_LE: Encoding = Encoding {
    explicit_vr: false,
    big_endian: false,
};

/// Bytes per value of a numeric VR (1 for strings and bytes).
fn value_size(vr: [u8; 2]) -> usize {
    match &vr {
        b"US" | b"SS" | b"OW" => 2,
        b"UL" | b"SL" | b"FL" | b"OL" | b"OF" | b"AT" => 4,
        b"FD" | b"OD" | b"SV" | b"UV" | b"OV" => 8,
        _ => 1,
    }
}

/// In implicit VR the parser takes the VR from the dictionary: so does this walk.
fn implicit_value_size(group: u16, element: u16) -> usize {
    use dicom_core::dictionary::{DataDictionary, VirtualVr};
    let entry =
        dicom_dictionary_std::StandardDataDictionary.by_tag(dicom_core::Tag(group, element));
    match entry.map(|e| e.vr) {
        Some(VirtualVr::Exact(vr)) => value_size(vr.to_bytes()),
        // US or SS, OB or OW, US or OW: read as 16-bit values when not bytes.
        Some(VirtualVr::Xs | VirtualVr::Ox | VirtualVr::Px | VirtualVr::Lt) => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le_element(group: u16, element: u16, vr: &[u8; 2], len: u32, long: bool) -> Vec<u8> {
        let mut out = group.to_le_bytes().to_vec();
        out.extend_from_slice(&element.to_le_bytes());
        out.extend_from_slice(vr);
        if long {
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&len.to_le_bytes());
        } else {
            out.extend_from_slice(&(len as u16).to_le_bytes());
        }
        out
    }

    const EXPLICIT_LE: Encoding = Encoding {
        explicit_vr: true,
        big_endian: false,
    };

    #[test]
    fn honest_lengths_pass() {
        let mut d = le_element(0x0028, 0x0010, b"US", 2, false);
        d.extend_from_slice(&[4, 0]);
        d.extend(le_element(0x7FE0, 0x0010, b"OW", 4, true));
        d.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(check_lengths(&d, EXPLICIT_LE, false), Ok(d.len()));
    }

    #[test]
    fn over_claiming_element_is_caught() {
        let mut d = le_element(0x0009, 0x1000, b"OB", 0xFFFF_FFF0, true);
        d.extend_from_slice(&[0; 16]);
        let err = check_lengths(&d, EXPLICIT_LE, false).unwrap_err();
        assert!(err.contains("(0009,1000)"), "{err}");
    }

    #[test]
    fn nested_element_in_a_sequence_is_caught() {
        // SQ of defined length 24 holding one item of 16 whose element claims 1 GiB.
        let mut d = le_element(0x0028, 0x3010, b"SQ", 24, true);
        d.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        d.extend_from_slice(&16u32.to_le_bytes());
        d.extend(le_element(0x0028, 0x3006, b"OW", 1 << 30, true));
        d.extend_from_slice(&[0; 4]);
        assert!(check_lengths(&d, EXPLICIT_LE, false).is_err());
    }

    #[test]
    fn fragments_are_skipped_but_bounded() {
        let mut d = le_element(0x7FE0, 0x0010, b"OB", UNDEFINED, true);
        for len in [0u32, 4] {
            d.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
            d.extend_from_slice(&len.to_le_bytes());
            d.extend(std::iter::repeat_n(0xFFu8, len as usize));
        }
        d.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert_eq!(check_lengths(&d, EXPLICIT_LE, false), Ok(d.len()));
        let n = d.len();
        d[n - 16..n - 12].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
        assert!(check_lengths(&d[..n - 8], EXPLICIT_LE, false).is_err());
    }

    #[test]
    fn meta_walk_stops_at_the_dataset() {
        let mut d = le_element(0x0002, 0x0010, b"UI", 2, false);
        d.extend_from_slice(b"1\0");
        let end = d.len();
        d.extend(le_element(0x0008, 0x0016, b"UI", 0xFFFF, false));
        assert_eq!(check_lengths(&d, META, true), Ok(end));
    }

    #[test]
    fn odd_numeric_length_is_refused_as_the_parser_would_lose_its_place() {
        let mut d = le_element(0x0028, 0x0010, b"US", 3, false);
        d.extend_from_slice(&[4, 0, 0]);
        let err = check_lengths(&d, EXPLICIT_LE, false).unwrap_err();
        assert!(err.contains("(0028,0010)"), "{err}");
        // Implicit VR: Rows is US by the dictionary.
        let mut d = vec![0x28, 0x00, 0x10, 0x00, 3, 0, 0, 0, 4, 0, 0];
        assert!(check_lengths(&d, IMPLICIT_LE, false).is_err());
        d[4] = 2;
        d.pop();
        assert_eq!(check_lengths(&d, IMPLICIT_LE, false), Ok(d.len()));
    }

    #[test]
    fn un_of_undefined_length_is_walked_as_implicit_vr() {
        // UN (undefined) > item (undefined) > implicit element claiming 1 GiB.
        let mut d = le_element(0x0009, 0x1010, b"UN", UNDEFINED, true);
        d.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        d.extend_from_slice(&[0x09, 0x00, 0x20, 0x10]);
        d.extend_from_slice(&(1u32 << 30).to_le_bytes());
        assert!(check_lengths(&d, EXPLICIT_LE, false).is_err());
        // Honest content, then the delimiters, then explicit VR again.
        let mut d = le_element(0x0009, 0x1010, b"UN", UNDEFINED, true);
        d.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        d.extend_from_slice(&[0x09, 0x00, 0x20, 0x10, 2, 0, 0, 0, b'A', b'B']);
        d.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        d.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        let after = d.len();
        d.extend(le_element(0x0009, 0x1030, b"OB", 0x7FFF_0000, true));
        let err = check_lengths(&d, EXPLICIT_LE, false).unwrap_err();
        assert!(err.contains("(0009,1030)"), "{err}");
        assert_eq!(check_lengths(&d[..after], EXPLICIT_LE, false), Ok(after));
    }

    #[test]
    fn unknown_vr_has_the_long_length_form_like_the_parser() {
        // A flipped VR byte turns a UI into "U\x01": the parser reads it as UN, whose
        // 4-byte length here comes from the text that follows.
        let mut d = le_element(0x0008, 0x0018, b"U\x01", 0, false);
        d.extend_from_slice(b"1.2.3.4.5.6.7.8.");
        let err = check_lengths(&d, EXPLICIT_LE, false).unwrap_err();
        assert!(err.contains("(0008,0018)"), "{err}");
    }
}
