//! The file framing every checkpoint kind shares: a magic line, then sections, each a
//! little-endian `u64` length followed by that many bytes. The first section is the training
//! state as JSON; the rest are opaque byte blobs (burnpacks). Only the magic and the blob
//! names differ between kinds, so the encoding lives here once.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::atomic::write_atomic;
use crate::error::{Result, RunError};

/// `magic`, then `state` as JSON, then each of `blobs`, all length-prefixed.
pub(crate) fn encode<S: Serialize>(magic: &[u8], state: &S, blobs: &[&[u8]]) -> Result<Vec<u8>> {
    let state = serde_json::to_vec(state).map_err(|e| RunError::Serialise {
        what: "training state",
        reason: e.to_string(),
    })?;
    let sections = std::iter::once(&state[..]).chain(blobs.iter().copied());
    let mut out = Vec::with_capacity(
        magic.len() + 8 + state.len() + blobs.iter().map(|b| 8 + b.len()).sum::<usize>(),
    );
    out.extend_from_slice(magic);
    for section in sections {
        out.extend_from_slice(&(section.len() as u64).to_le_bytes());
        out.extend_from_slice(section);
    }
    Ok(out)
}

/// The inverse of [`encode`]: checks `magic` (`not_this_kind` names what the file is not,
/// for the error), reads the state and one blob per entry of `names`, and refuses
/// truncated files and trailing bytes.
pub(crate) fn decode<S: DeserializeOwned, const N: usize>(
    bytes: &[u8],
    path: &Path,
    magic: &[u8],
    not_this_kind: &str,
    names: [&str; N],
) -> Result<(S, [Vec<u8>; N])> {
    let mut rest = bytes
        .strip_prefix(magic)
        .ok_or_else(|| RunError::format(path, format!("{not_this_kind} (bad magic)")))?;
    let mut sections = Vec::with_capacity(N + 1);
    for name in std::iter::once("state").chain(names) {
        let truncated = || RunError::format(path, format!("truncated checkpoint ({name} section)"));
        let (len, tail) = rest.split_first_chunk::<8>().ok_or_else(truncated)?;
        let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| truncated())?;
        if tail.len() < len {
            return Err(truncated());
        }
        let (section, tail) = tail.split_at(len);
        sections.push(section);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(RunError::format(path, "trailing bytes after checkpoint"));
    }
    let state: S = serde_json::from_slice(sections[0])
        .map_err(|e| RunError::format(path, format!("bad training state: {e}")))?;
    // The loop above pushed exactly N sections after the state.
    let mut blobs = sections[1..].iter();
    let blobs = std::array::from_fn(|_| blobs.next().map(|b| b.to_vec()).unwrap_or_default());
    Ok((state, blobs))
}

/// Replace `path` atomically with `bytes`.
pub(crate) fn save(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, bytes)
}

/// Read `path` whole.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| RunError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let p = Path::new("x.ckpt");
        let bytes = encode(b"M\n", &7u32, &[&[1, 2], &[]]).unwrap();
        assert_eq!(
            bytes,
            [
                b"M\n".as_slice(),
                &1u64.to_le_bytes(),
                b"7",
                &2u64.to_le_bytes(),
                &[1, 2],
                &0u64.to_le_bytes(),
            ]
            .concat()
        );
        let (state, [a, b]) = decode::<u32, 2>(&bytes, p, b"M\n", "not M", ["a", "b"]).unwrap();
        assert_eq!((state, a, b), (7, vec![1, 2], vec![]));
        let err = decode::<u32, 2>(&bytes, p, b"N\n", "not N", ["a", "b"]).unwrap_err();
        assert!(err.to_string().contains("not N (bad magic)"), "{err}");
        for cut in [3, 11, bytes.len() - 1] {
            assert!(decode::<u32, 2>(&bytes[..cut], p, b"M\n", "not M", ["a", "b"]).is_err());
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode::<u32, 2>(&long, p, b"M\n", "not M", ["a", "b"]).is_err());
    }
}
