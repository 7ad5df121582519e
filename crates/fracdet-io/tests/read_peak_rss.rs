//! Issue #16 acceptance: no input of the hostile set or the fuzz corpus makes one read peak
//! over 1 GiB of RSS or print a panic message. Each input is read in a child process (this
//! test binary again, running only `child_reads_one_input`), whose VmHWM from
//! /proc/self/status is the peak of exactly that read. Linux only; elsewhere the test says
//! it skipped.

mod common;

use std::path::Path;
use std::process::Command;

use fracdet_io::read::{ReadOptions, read_radiograph_bytes};

const INPUT: &str = "FRACDET_RSS_INPUT";
const LIMIT_KIB: u64 = 1 << 20;

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The child: read one file with the default options, report the peak.
#[test]
fn child_reads_one_input() {
    let Ok(path) = std::env::var(INPUT) else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let result = read_radiograph_bytes(&bytes, Path::new(&path), &ReadOptions::default());
    let outcome = match result {
        Ok(r) => format!("read {}x{}", r.width, r.height),
        Err(e) => format!("error: {e}"),
    };
    println!("RSS-RESULT {} kB; {outcome}", vm_hwm_kib().unwrap_or(0));
}

#[test]
fn no_input_peaks_over_1_gib_or_prints_a_panic() {
    if vm_hwm_kib().is_none() {
        eprintln!("SKIPPED: no /proc/self/status VmHWM on this platform");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut inputs: Vec<(String, Vec<u8>)> = vec![
        (
            "deflated-forged-length.dcm".into(),
            common::deflated_forged_length(),
        ),
        (
            "deflated-bomb-600MiB.dcm".into(),
            common::deflated_bomb(600 << 20),
        ),
        (
            "png-iccp-bomb-600MiB.png".into(),
            common::png_iccp_bomb(600 << 20),
        ),
        (
            "jpeg-half-plus-eoi.jpg".into(),
            common::jpeg_cut_with_eoi(&common::jpeg(819, 512), 0.5),
        ),
        (
            "jpeg-height-54016.jpg".into(),
            common::jpeg_with_height(&common::jpeg(819, 64), 54016),
        ),
        (
            "rle-overlong-run.dcm".into(),
            common::rle_overlong_run(40, 30),
        ),
        (
            "png-fewer-rows.png".into(),
            common::png_fewer_rows(200, 150, 0.5),
        ),
    ];
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus");
    let regressions = std::fs::read_dir(corpus.join("regressions")).unwrap();
    for entry in std::fs::read_dir(&corpus).unwrap().chain(regressions) {
        let path = entry.unwrap().path();
        if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("jpg" | "png" | "dcm")
        ) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            inputs.push((name, std::fs::read(&path).unwrap()));
        }
    }
    let exe = std::env::current_exe().unwrap();
    let mut worst = 0;
    for (name, bytes) in inputs {
        let path = dir.path().join(&name);
        std::fs::write(&path, &bytes).unwrap();
        let out = Command::new(&exe)
            .args([
                "--exact",
                "child_reads_one_input",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(INPUT, &path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("RSS-RESULT ").map(|(_, r)| r))
            .unwrap_or_else(|| panic!("{name}: child gave no result\n{stdout}\n{stderr}"));
        let kib: u64 = line.split_whitespace().next().unwrap().parse().unwrap();
        eprintln!(
            "{name} ({} bytes): peak RSS {} MiB; {}",
            bytes.len(),
            kib / 1024,
            line
        );
        assert!(
            !stderr.contains("panicked"),
            "{name} printed a panic:\n{stderr}"
        );
        assert!(kib < LIMIT_KIB, "{name}: peak RSS {kib} kB");
        worst = worst.max(kib);
    }
    eprintln!("worst peak RSS {} MiB", worst / 1024);
}
