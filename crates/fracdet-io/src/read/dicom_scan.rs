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
    // The open sequences and items, innermost last: an item may only stand in a sequence,
    // an element only in an item or at the top, and each delimiter only closes its own
    // kind. Anything else would be read by the parser in some way of its own (a stray
    // item at the top level once made it claim 3.8 GB), so it is refused.
    let mut open: Vec<Open> = Vec::new();
    while pos + 8 <= data.len() {
        // Close the defined-length containers that end here.
        while let Some(o) = open.last()
            && o.end.is_some_and(|end| pos >= end)
        {
            if o.end != Some(pos) {
                return Err(format!(
                    "an element at byte {pos} runs past the end of its {}",
                    o.kind.name()
                ));
            }
            if let Some(previous) = o.restore {
                enc = previous;
            }
            open.pop();
        }
        let (Some(group), Some(element)) = (u16_at(pos, enc), u16_at(pos + 2, enc)) else {
            break;
        };
        if meta_only && group != 0x0002 {
            return Ok(pos);
        }
        let remaining = |header: usize| data.len() - (pos + header).min(data.len());
        let innermost = open.last().map(|o| o.kind);
        if group == 0xFFFE {
            let len = u32_at(pos + 4, enc).unwrap_or(0);
            let rest = remaining(8);
            match element {
                // A delimiter's length must be zero (PS3.5 7.5). The parser reads a
                // nonzero one as a value length — a stray delimiter claiming 4 GiB cost
                // 4 GiB — and would then stand elsewhere than this walk, so it is refused.
                0xE0DD | 0xE00D if len != 0 => {
                    return Err(format!(
                        "delimiter (FFFE,{element:04X}) at byte {pos} claims {len} bytes, not 0"
                    ));
                }
                0xE000 if in_fragments => {
                    if len == UNDEFINED || len as usize > rest {
                        return Err(format!(
                            "pixel data fragment at byte {pos} claims {len} bytes, {rest} remain"
                        ));
                    }
                    pos += 8 + len as usize;
                }
                0xE0DD if in_fragments => {
                    in_fragments = false;
                    pos += 8;
                }
                0xE000 if innermost == Some(Kind::Sequence) => {
                    if len != UNDEFINED && len as usize > rest {
                        return Err(format!(
                            "item at byte {pos} claims {len} bytes, {rest} remain"
                        ));
                    }
                    pos += 8;
                    // Descended into, so that its elements are checked as well.
                    open.push(Open::new(Kind::Item, pos, len));
                }
                0xE00D | 0xE0DD => {
                    let kind = if element == 0xE00D {
                        Kind::Item
                    } else {
                        Kind::Sequence
                    };
                    match open.last() {
                        Some(o) if o.kind == kind && o.end.is_none() => {
                            if let Some(previous) = o.restore {
                                enc = previous;
                            }
                            open.pop();
                        }
                        _ => {
                            return Err(format!(
                                "{} delimiter at byte {pos} outside an open {} of undefined length",
                                kind.name(),
                                kind.name()
                            ));
                        }
                    }
                    pos += 8;
                }
                0xE000 => {
                    return Err(format!("item at byte {pos} outside a sequence"));
                }
                // No other (FFFE,xxxx) exists; the parser would read its length as well.
                _ => {
                    return Err(format!(
                        "unknown item tag (FFFE,{element:04X}) at byte {pos}"
                    ));
                }
            }
            continue;
        }
        if innermost == Some(Kind::Sequence) || in_fragments {
            return Err(format!(
                "element ({group:04X},{element:04X}) at byte {pos} stands in a sequence, not in an item"
            ));
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
                let mut sequence = Open::new(Kind::Sequence, pos, len);
                if vr.as_ref() == Some(b"UN") {
                    sequence.restore = Some(enc);
                    enc = IMPLICIT_LE;
                }
                open.push(sequence);
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
        // Defined-length sequences are walked into; in implicit VR the parser takes SQ from
        // the dictionary, and so does this walk.
        let is_sequence = match vr {
            Some(vr) => &vr == b"SQ",
            None => implicit_is_sequence(group, element),
        };
        if is_sequence {
            open.push(Open::new(Kind::Sequence, pos, len));
        } else {
            pos += len as usize;
        }
    }
    Ok(if meta_only { pos } else { data.len() })
}

const IMPLICIT_LE: Encoding = Encoding {
    explicit_vr: false,
    big_endian: false,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sequence,
    Item,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Sequence => "sequence",
            Self::Item => "item",
        }
    }
}

/// An open sequence or item: where it ends when its length is defined, and for a UN of
/// undefined length (read as implicit VR) the encoding to return to when it closes.
#[derive(Debug)]
struct Open {
    kind: Kind,
    end: Option<usize>,
    restore: Option<Encoding>,
}

impl Open {
    fn new(kind: Kind, value_start: usize, len: u32) -> Self {
        Self {
            kind,
            end: (len != UNDEFINED).then(|| value_start + len as usize),
            restore: None,
        }
    }
}

/// Bytes per value of a numeric VR (1 for strings and bytes).
fn value_size(vr: [u8; 2]) -> usize {
    match &vr {
        b"US" | b"SS" | b"OW" => 2,
        b"UL" | b"SL" | b"FL" | b"OL" | b"OF" | b"AT" => 4,
        b"FD" | b"OD" | b"SV" | b"UV" | b"OV" => 8,
        _ => 1,
    }
}

/// Whether the dictionary makes (group,element) a sequence in implicit VR.
fn implicit_is_sequence(group: u16, element: u16) -> bool {
    use dicom_core::dictionary::{DataDictionary, VirtualVr};
    let entry =
        dicom_dictionary_std::StandardDataDictionary.by_tag(dicom_core::Tag(group, element));
    matches!(
        entry.map(|e| e.vr),
        Some(VirtualVr::Exact(dicom_core::VR::SQ))
    )
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
    fn delimiter_with_a_length_is_refused() {
        // Fuzz mutant: a stray sequence delimiter claiming 0xFF000000 bytes made the parser
        // allocate 4.28 GB (tests/fuzz_corpus/stray_delimiter_4gib.dcm).
        for (element, len) in [(0xE0DDu16, 0xFF00_0000u32), (0xE00D, 4), (0xE0DD, 1)] {
            let mut d = vec![0xFE, 0xFF];
            d.extend_from_slice(&element.to_le_bytes());
            d.extend_from_slice(&len.to_le_bytes());
            d.extend_from_slice(&[0; 8]);
            let err = check_lengths(&d, EXPLICIT_LE, false).unwrap_err();
            assert!(err.contains("not 0"), "{err}");
        }
        let mut d = vec![0xFE, 0xFF, 0x10, 0xE0, 0, 0, 0, 0];
        d.extend_from_slice(&[0; 8]);
        assert!(check_lengths(&d, EXPLICIT_LE, false).is_err());
    }

    #[test]
    fn items_and_elements_must_stand_where_the_standard_puts_them() {
        // Fuzz mutant: the pixel data header lost, its offset-table item left at the top
        // level (tests/fuzz_corpus/regressions/item_at_top_level_3gib.dcm).
        let mut d = vec![0xFE, 0xFF, 0x00, 0xE0, 4, 0, 0, 0];
        d.extend_from_slice(&[0; 12]);
        assert!(
            check_lengths(&d, EXPLICIT_LE, false)
                .unwrap_err()
                .contains("outside a sequence")
        );
        // An element directly in a sequence, not in an item.
        let mut d = le_element(0x0028, 0x3010, b"SQ", UNDEFINED, true);
        d.extend(le_element(0x0028, 0x3006, b"US", 2, false));
        d.extend_from_slice(&[0, 0]);
        assert!(
            check_lengths(&d, EXPLICIT_LE, false)
                .unwrap_err()
                .contains("not in an item")
        );
        // An item delimiter closing a sequence.
        let mut d = le_element(0x0028, 0x3010, b"SQ", UNDEFINED, true);
        d.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        assert!(check_lengths(&d, EXPLICIT_LE, false).is_err());
        // An element running past the end of its defined-length item.
        let mut d = le_element(0x0028, 0x3010, b"SQ", 18, true);
        d.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 6, 0, 0, 0]);
        d.extend(le_element(0x0028, 0x3006, b"US", 2, false));
        d.extend_from_slice(&[0, 0]);
        d.extend(le_element(0x0028, 0x0010, b"US", 2, false));
        d.extend_from_slice(&[4, 0]);
        assert!(
            check_lengths(&d, EXPLICIT_LE, false)
                .unwrap_err()
                .contains("past the end")
        );
        // Well nested, defined and undefined lengths mixed: fine, and the walk is back at
        // the top level after it.
        let mut d = le_element(0x0028, 0x3010, b"SQ", 34, true);
        d.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 10, 0, 0, 0]);
        d.extend(le_element(0x0028, 0x3006, b"US", 2, false));
        d.extend_from_slice(&[0, 0]);
        d.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        d.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        d.extend(le_element(0x0028, 0x0010, b"US", 2, false));
        d.extend_from_slice(&[4, 0]);
        assert_eq!(check_lengths(&d, EXPLICIT_LE, false), Ok(d.len()));
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
