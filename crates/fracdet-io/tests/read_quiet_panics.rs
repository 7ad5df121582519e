//! Issue #16 item 7: a decoder panic must not print to the user's terminal. One test, alone
//! in its binary, because it owns the process-wide panic hook.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fracdet_io::read::{ReadOptions, read_radiograph_bytes};

#[test]
fn hostile_files_print_no_panic_message() {
    // Installed before the first read, as in the CLI and the server: whatever the reader
    // does must go through (or around) this hook, which stands in for the default one.
    let printed = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&printed);
    std::panic::set_hook(Box::new(move |_| {
        count.fetch_add(1, Ordering::SeqCst);
    }));

    let mut hostile = vec![common::rle_overlong_run(40, 30)];
    // Every truncation of the RLE frame's last segment, and a header listing 15 segments.
    let good = common::rle_frame(&common::samples16(8, 8));
    for cut in (64..good.len()).step_by(7) {
        hostile.push(common::dicom_rle(8, 8, good[..cut].to_vec()));
    }
    let mut fifteen = good.clone();
    fifteen[0] = 15;
    hostile.push(common::dicom_rle(8, 8, fifteen));
    hostile.push(common::dicom_rle(8, 8, good[..3].to_vec()));

    for (i, bytes) in hostile.iter().enumerate() {
        let result = read_radiograph_bytes(bytes, Path::new("rle.dcm"), &ReadOptions::default());
        assert!(result.is_err(), "case {i} read as an image");
        assert_eq!(
            printed.load(Ordering::SeqCst),
            0,
            "case {i} printed a panic"
        );
    }

    // Panics elsewhere still reach the hook.
    let _ = std::panic::catch_unwind(|| panic!("not a decoder"));
    assert_eq!(printed.load(Ordering::SeqCst), 1);
}
