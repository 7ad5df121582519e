//! `fracdet data check` on small generated datasets, both layouts.

mod common;

use std::path::Path;

/// 40x30 grey image; every seed gives distinct content.
fn write_image(path: &Path, seed: u32) {
    common::write_grey_png(path, 40, 30, |x, y| {
        ((x * 7 + y * 3 + seed * 29) % 256) as u8
    });
}

const CORRUPT: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDRtruncated";

fn check(dir: &Path) -> (i32, String, String) {
    let out = common::fracdet(&["data", "check", dir.to_str().unwrap()]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `images` and `fractured` numbers of a split's row.
fn row(stdout: &str, split: &str) -> (usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(split))
        .unwrap_or_else(|| panic!("no {split} row in:\n{stdout}"));
    let n: Vec<usize> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    (n[0], n[1])
}

/// FracAtlas layout: 5 train (2 fractured), 3 val (1 fractured), boxes inside the images.
fn fracatlas(root: &Path) {
    let mut labels = String::from(
        "image,fractured,hand,leg,hip,shoulder,mixed,hardware,multiscan,frontal,lateral,oblique,width,height,split,group\n",
    );
    for i in 0..8u32 {
        let split = if i < 5 { "train" } else { "val" };
        let fractured = u8::from(i % 3 == 0);
        labels += &format!("IMG{i}.png,{fractured},1,0,0,0,0,0,0,1,0,0,40,30,{split},{i}\n");
        write_image(&root.join(format!("images/IMG{i}.png")), i);
    }
    std::fs::write(root.join("labels.csv"), labels).unwrap();
    std::fs::write(
        root.join("boxes.csv"),
        "image,x_min,y_min,x_max,y_max\nIMG0.png,1,2,10,12\nIMG3.png,5,5,39.5,29\nIMG6.png,0,0,40,30\n",
    )
    .unwrap();
}

/// Folder layout: train 3 fractured + 4 normal, test 1 + 2, class names in mixed forms.
fn folders(root: &Path) {
    let mut seed = 100;
    for (split, class, n) in [
        ("train", "Fractured", 3),
        ("train", "not_fractured", 4),
        ("Test", "POSITIVE", 1),
        ("Test", "Normal", 2),
    ] {
        for i in 0..n {
            write_image(
                &root.join(split).join(class).join(format!("x{i}.png")),
                seed,
            );
            seed += 1;
        }
    }
}

#[test]
fn clean_fracatlas_layout_passes() {
    let dir = tempfile::tempdir().unwrap();
    fracatlas(dir.path());
    let (code, out, err) = check(dir.path());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(row(&out, "train"), (5, 2));
    assert_eq!(row(&out, "val"), (3, 1));
    assert!(out.contains("problems: 0"), "{out}");
}

#[test]
fn corrupt_file_in_fracatlas_layout_is_named_and_the_rest_counted() {
    let dir = tempfile::tempdir().unwrap();
    fracatlas(dir.path());
    std::fs::write(dir.path().join("images/IMG4.png"), CORRUPT).unwrap();
    let (code, out, _) = check(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("IMG4.png"), "{out}");
    assert_eq!(row(&out, "train"), (4, 2));
    assert_eq!(row(&out, "val"), (3, 1));
    assert!(out.contains("problems: 1"), "{out}");
}

#[test]
fn fracatlas_table_problems_are_all_listed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fracatlas(root);
    std::fs::remove_file(root.join("images/IMG7.png")).unwrap(); // label without image
    write_image(&root.join("images/extra.png"), 50); // image without label
    std::fs::copy(root.join("images/IMG1.png"), root.join("images/IMG5.png")).unwrap(); // duplicate, across splits
    let mut boxes = std::fs::read_to_string(root.join("boxes.csv")).unwrap();
    boxes += "IMG3.png,30,20,41,25\n"; // outside the 40 x 30 image
    std::fs::write(root.join("boxes.csv"), boxes).unwrap();
    let (code, out, _) = check(root);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("labels.csv:9: image") && out.contains("IMG7.png does not exist"),
        "{out}"
    );
    assert!(out.contains("extra.png: image has no label"), "{out}");
    assert!(
        out.contains("identical files") && out.contains("IMG1.png") && out.contains("IMG5.png"),
        "{out}"
    );
    assert!(
        out.contains("IMG3.png: box (30, 20, 41, 25) extends outside the 40x30 image"),
        "{out}"
    );
    assert!(out.contains("problems: 4"), "{out}");
}

#[test]
fn malformed_table_is_an_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    fracatlas(dir.path());
    let mut labels = std::fs::read_to_string(dir.path().join("labels.csv")).unwrap();
    labels += "IMG9.png,maybe,1,0,0,0,0,0,0,1,0,0,40,30,train,9\n";
    std::fs::write(dir.path().join("labels.csv"), labels).unwrap();
    let (code, _, err) = check(dir.path());
    assert_eq!(code, 1);
    assert!(
        err.contains("labels.csv:10") && err.contains("maybe"),
        "{err}"
    );
}

#[test]
fn clean_folder_layout_passes() {
    let dir = tempfile::tempdir().unwrap();
    folders(dir.path());
    let (code, out, err) = check(dir.path());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(row(&out, "train"), (7, 3));
    assert_eq!(row(&out, "test"), (3, 1));
    assert!(out.contains("folders"), "{out}");
}

#[test]
fn corrupt_file_in_folder_layout_is_named_and_the_rest_counted() {
    let dir = tempfile::tempdir().unwrap();
    folders(dir.path());
    let bad = dir.path().join("train/not_fractured/broken.png");
    std::fs::write(&bad, CORRUPT).unwrap();
    std::fs::create_dir_all(dir.path().join("train/unsure")).unwrap();
    let (code, out, _) = check(dir.path());
    assert_eq!(code, 1, "{out}");
    let named = format!("unreadable: {}: ", bad.display());
    assert!(out.contains(&named), "{out}");
    assert!(out.contains("unsure: not a class folder"), "{out}");
    assert_eq!(row(&out, "train"), (7, 3));
    assert_eq!(row(&out, "test"), (3, 1));
    assert!(out.contains("problems: 2"), "{out}");
}

#[test]
fn unknown_layout_is_an_error() {
    // A folder that is not a dataset is a usage error (#16 item 9): exit 2, as for bad flags.
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = check(dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("unknown dataset layout"), "{err}");
}
