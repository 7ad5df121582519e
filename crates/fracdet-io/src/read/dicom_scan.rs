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
pub(crate) fn check_lengths(data: &[u8], enc: Encoding, meta_only: bool) -> Result<usize, String> {
    let u16_at = |p: usize| -> Option<u16> {
        let b = [*data.get(p)?, *data.get(p + 1)?];
        Some(if enc.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |p: usize| -> Option<u32> {
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
    while pos + 8 <= data.len() {
        let (Some(group), Some(element)) = (u16_at(pos), u16_at(pos + 2)) else {
            break;
        };
        if meta_only && group != 0x0002 {
            return Ok(pos);
        }
        let remaining = |header: usize| data.len() - (pos + header).min(data.len());
        if group == 0xFFFE {
            let len = u32_at(pos + 4).unwrap_or(0);
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
                0xE0DD => {
                    in_fragments = false;
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
                let Some(len) = u32_at(pos + 8) else { break };
                (len, 12, Some(vr))
            } else {
                (u32::from(u16_at(pos + 6).unwrap_or(0)), 8, Some(vr))
            }
        } else {
            (u32_at(pos + 4).unwrap_or(0), 8, None)
        };
        pos += header;
        if len == UNDEFINED {
            // UN of undefined length holds a sequence in implicit VR (PS3.5 6.2.2), which
            // this walk would misread; stop checking rather than refuse a valid file.
            if vr.as_ref() == Some(b"UN") {
                return Ok(if meta_only { pos } else { data.len() });
            }
            // Undefined length: a sequence (walk into it) or encapsulated pixel data.
            if (group, element) == PIXEL_DATA && vr.as_ref() != Some(b"SQ") {
                in_fragments = true;
            }
            continue;
        }
        let rest = data.len().saturating_sub(pos);
        if len as usize > rest {
            return Err(format!(
                "element ({group:04X},{element:04X}) claims {len} bytes, {rest} remain"
            ));
        }
        // Defined-length sequences are walked into; in implicit VR a sequence is recognised
        // by its value starting with an item tag.
        let is_sequence = match vr {
            Some(vr) => &vr == b"SQ",
            None => {
                len >= 8 && u16_at(pos) == Some(0xFFFE) && matches!(u16_at(pos + 2), Some(0xE000))
            }
        };
        if !is_sequence {
            pos += len as usize;
        }
    }
    Ok(if meta_only { pos } else { data.len() })
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
    fn unknown_vr_has_the_long_length_form_like_the_parser() {
        // A flipped VR byte turns a UI into "U\x01": the parser reads it as UN, whose
        // 4-byte length here comes from the text that follows.
        let mut d = le_element(0x0008, 0x0018, b"U\x01", 0, false);
        d.extend_from_slice(b"1.2.3.4.5.6.7.8.");
        let err = check_lengths(&d, EXPLICIT_LE, false).unwrap_err();
        assert!(err.contains("(0008,0018)"), "{err}");
    }
}
