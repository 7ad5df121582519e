//! Fuzzing the readers on stable Rust, as ordinary tests: random bytes behind each magic,
//! truncations, and a time-bounded mutation loop per reader (PNG, JPEG, DICOM) over a seed
//! corpus (generated here, plus the committed files in `fuzz_corpus/`). Every input must be
//! answered with a value or an error — never a panic, not even one the reader catches —
//! and no read may allocate beyond its budget (a counting allocator measures each one).
//!
//! By default 60,000 mutations per reader from a fixed seed (the same inputs on every
//! machine). Longer runs: `FRACDET_FUZZ_SECONDS=600 FRACDET_FUZZ_SEED=7 cargo test
//! --release -p fracdet-io --test read_fuzz -- --nocapture` (seconds per reader).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use fracdet_io::read::{ReadOptions, read_radiograph_bytes};
use fracdet_io::{IoError, Radiograph};

/// Counts live heap bytes and their high-water mark, across all threads (decoders use
/// rayon).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new) };
        if !q.is_null() {
            if new >= layout.size() {
                let now =
                    LIVE.fetch_add(new - layout.size(), Ordering::Relaxed) + new - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Measurements need the process to themselves: the tests here run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A small budget, so that "within budget" is a sharp statement about small inputs.
fn options() -> ReadOptions {
    ReadOptions {
        max_pixels: 1 << 20,
        max_decoded_bytes: 8 << 20,
        max_metadata_bytes: 1 << 20,
        ..ReadOptions::default()
    }
}

/// What one read may allocate at most: the budget for decoded data, fracdet's working
/// copies (4 bytes per sample for the raw samples, 4 per pixel for the result, 4 more
/// for a colour or 16-bit intermediate), and copies of the input. Measured peaks are
/// printed by `mutations_stay_within_budget` for comparison.
fn allocation_bound(input: usize, o: &ReadOptions) -> usize {
    (o.max_decoded_bytes + 12 * o.max_pixels) as usize + 3 * input + (1 << 20)
}

/// Read and check: never a caught panic, a consistent image when it reads, and the
/// allocation bound. Returns the peak bytes allocated during the read.
fn read_checked(bytes: &[u8], what: &str) -> (usize, Result<Radiograph, IoError>) {
    let o = options();
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let result = read_radiograph_bytes(bytes, Path::new("fuzz"), &o);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    match &result {
        Ok(r) => {
            assert_eq!(r.pixels.len(), (r.width * r.height) as usize, "{what}");
            assert!(u64::from(r.width) * u64::from(r.height) <= o.max_pixels);
            assert!(r.pixels.iter().all(|v| (0.0..=1.0).contains(v)), "{what}");
        }
        Err(e) => {
            let text = e.to_string();
            assert!(!text.contains("panicked"), "{what}: {text}");
        }
    }
    let bound = allocation_bound(bytes.len(), &o);
    assert!(
        peak <= bound,
        "{what}: allocated {peak} bytes, bound {bound}"
    );
    (peak, result)
}

fn corpus_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus")
}

/// The seeds, by reader: generated here, plus the committed files.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let png16 = {
        let v: Vec<u16> = (0..24 * 16).map(|i| (i * 173 % 65536) as u16).collect();
        let img = image::ImageBuffer::<image::Luma<u16>, _>::from_raw(24, 16, v).unwrap();
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let mut s = vec![
        ("png", png(40, 30)),
        ("png", png16),
        ("jpeg", jpeg(40, 30)),
        ("jpeg", jpeg_rgb(24, 20)),
        ("dicom", dicom(40, 30, EXPLICIT_LE, vec![])),
        ("dicom", dicom(12, 10, IMPLICIT_LE, vec![])),
        ("dicom", dicom(12, 10, EXPLICIT_BE, vec![])),
        ("dicom", dicom(12, 10, DEFLATED, vec![private_marker()])),
        ("dicom", dicom_rle(16, 12, rle_frame(&samples16(16, 12)))),
        ("dicom", dicom_jpeg(40, 30, jpeg(40, 30))),
    ];
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir())
        .expect("fuzz corpus folder")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let kind = match path.extension().and_then(|e| e.to_str()) {
            Some("png") => "png",
            Some("jpg") => "jpeg",
            Some("dcm") => "dicom",
            _ => continue,
        };
        s.push((kind, std::fs::read(&path).unwrap()));
    }
    s
}

const INTERESTING: [u32; 8] = [
    0,
    1,
    0x7F,
    0xFF,
    0xFFFF,
    0x7FFF_FFFF,
    0xFFFF_FFF0,
    0xFFFF_FFFF,
];

/// One mutation of `seed`: the kinds of damage that broke readers before (byte flips,
/// forged length and size fields, truncation with or without an end marker, lost or
/// repeated ranges, a splice with another seed).
fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        let n = b.len().max(1);
        match rng.below(7) {
            0 => {
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(n);
                    if let Some(x) = b.get_mut(i) {
                        *x = rng.next() as u8;
                    }
                }
            }
            1 | 2 => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let bytes = if rng.below(2) == 0 {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                let width = [1, 2, 4][rng.below(3)];
                let at = rng.below(n);
                for (k, &x) in bytes[4 - width..].iter().enumerate() {
                    if let Some(y) = b.get_mut(at + k) {
                        *y = x;
                    }
                }
            }
            3 => {
                b.truncate(rng.below(n));
                if rng.below(2) == 0 {
                    b.extend_from_slice(&[0xFF, 0xD9]);
                }
            }
            4 => {
                let at = rng.below(n);
                let len = rng.below(64).min(b.len() - at.min(b.len()));
                b.drain(at.min(b.len())..at.min(b.len()) + len);
            }
            5 => {
                let at = rng.below(n).min(b.len());
                let len = rng.below(64).min(b.len() - at);
                let copy = b[at..at + len].to_vec();
                let to = rng.below(n).min(b.len());
                b.splice(to..to, copy);
            }
            _ => {
                let cut = rng.below(n).min(b.len());
                let from = rng.below(other.len().max(1)).min(other.len());
                b.truncate(cut);
                b.extend_from_slice(&other[from..]);
            }
        }
    }
    b
}

/// By default a fixed number of mutations per reader (about 3 s each on the 2-core
/// development machine), so that every run of the suite, on any machine, tries the same
/// inputs: a failure reproduces, a pass means the same everywhere. `FRACDET_FUZZ_SECONDS`
/// turns it into a time-bounded search instead (with `FRACDET_FUZZ_SEED`, a new one).
const DEFAULT_MUTATIONS: u64 = 60_000;

fn fuzz_seconds() -> Option<f64> {
    std::env::var("FRACDET_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
}

fn fuzz(kind: &str, salt: u64) {
    let _guard = serial();
    let seeds: Vec<Vec<u8>> = seeds()
        .into_iter()
        .filter(|(k, _)| *k == kind)
        .map(|(_, b)| b)
        .collect();
    assert!(!seeds.is_empty());
    let seed = std::env::var("FRACDET_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15u64);
    let mut rng = Rng(seed ^ salt);
    let deadline = fuzz_seconds().map(|s| Instant::now() + Duration::from_secs_f64(s));
    let (mut runs, mut ok, mut max_peak) = (0u64, 0u64, 0usize);
    let more = |runs: u64| match deadline {
        // At least 300 mutations per reader, however slow the machine.
        Some(deadline) => runs < 300 || Instant::now() < deadline,
        None => runs < DEFAULT_MUTATIONS,
    };
    while more(runs) {
        let a = &seeds[rng.below(seeds.len())];
        let b = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, a, b);
        let what = format!("{kind} mutation {runs} (FRACDET_FUZZ_SEED={seed})");
        let checked = std::panic::catch_unwind(|| read_checked(&input, &what));
        let (peak, result) = checked.unwrap_or_else(|panic| {
            // Keep the input for the corpus (under a name that says what it broke).
            let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{kind}.bin"));
            let _ = std::fs::write(&path, &input);
            eprintln!("failing input saved to {}", path.display());
            std::panic::resume_unwind(panic)
        });
        max_peak = max_peak.max(peak);
        ok += u64::from(result.is_ok());
        runs += 1;
    }
    eprintln!("{kind}: {runs} mutations, {ok} read as images, peak allocation {max_peak} bytes");
}

#[test]
fn png_mutations_never_panic_and_stay_within_budget() {
    fuzz("png", 1);
}

#[test]
fn jpeg_mutations_never_panic_and_stay_within_budget() {
    fuzz("jpeg", 2);
}

#[test]
fn dicom_mutations_never_panic_and_stay_within_budget() {
    fuzz("dicom", 3);
}

/// Inputs that once broke a reader (`fuzz_corpus/regressions/`, named for what they
/// broke): each must now be an error, within the budget, without a panic.
#[test]
fn past_failures_are_errors_within_budget() {
    let _guard = serial();
    let dir = corpus_dir().join("regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (_, result) = read_checked(&std::fs::read(&path).unwrap(), &name);
        assert!(result.is_err(), "{name} read as an image");
        n += 1;
    }
    assert!(n > 0, "no regression inputs in {}", dir.display());
}

#[test]
fn every_seed_reads() {
    let _guard = serial();
    for (kind, bytes) in seeds() {
        let (_, r) = read_checked(&bytes, kind);
        if let Err(e) = r {
            panic!("{kind} seed of {} bytes: {e}", bytes.len());
        }
    }
}

#[test]
fn truncations_at_every_tenth_are_errors() {
    let _guard = serial();
    for (name, bytes) in seeds() {
        for tenth in 0..10 {
            let cut = bytes.len() * tenth / 10;
            let (_, result) = read_checked(&bytes[..cut], name);
            assert!(
                result.is_err(),
                "{name} cut to {cut} of {} bytes read as an image",
                bytes.len()
            );
        }
    }
}

#[test]
fn random_bytes_behind_each_magic_never_panic() {
    let _guard = serial();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut preamble = vec![0u8; 128];
    preamble.extend_from_slice(b"DICM");
    let magics: [&[u8]; 5] = [
        b"\x89PNG\r\n\x1a\n",
        &[0xFF, 0xD8, 0xFF],
        &preamble,
        b"DICM",
        b"",
    ];
    for magic in magics {
        for _ in 0..200 {
            let len = rng.below(600);
            let mut bytes = magic.to_vec();
            bytes.extend((0..len).map(|_| rng.next() as u8));
            let _ = read_checked(&bytes, "random");
        }
    }
}
