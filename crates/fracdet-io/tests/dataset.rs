//! Dataset indexing: layouts, labels, boxes, metadata, typed errors.

use std::path::Path;

use fracdet_io::dataset::{Dataset, Issue, Layout, Split, View, without_region};
use fracdet_io::{BBox, IoError};

const HEADER: &str = "image,fractured,hand,leg,hip,shoulder,mixed,hardware,multiscan,frontal,lateral,oblique,width,height,split,group\n";

fn touch(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"not decoded while indexing").unwrap();
}

fn fracatlas(root: &Path, rows: &str, boxes: &str) {
    std::fs::write(root.join("labels.csv"), format!("{HEADER}{rows}")).unwrap();
    std::fs::write(
        root.join("boxes.csv"),
        format!("image,x_min,y_min,x_max,y_max\n{boxes}"),
    )
    .unwrap();
}

#[test]
fn fracatlas_labels_boxes_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for name in ["a.jpg", "b.jpg", "c.jpg", "d.jpg"] {
        touch(&root.join("images").join(name));
    }
    fracatlas(
        root,
        "a.jpg,1,1,0,0,0,0,1,0,1,1,0,100,80,train,7\n\
         b.jpg,0,0,1,1,0,1,0,1,0,0,1,100,80,val,8\n\
         c.jpg,0,0,0,0,1,0,0,0,1,0,0,100,80,train,9\n\
         d.jpg,1,0,0,1,0,0,0,0,0,1,0,100,80,train,9\n",
        "a.jpg,1.5,2,30,40.25\na.jpg,50,50,60,70\nd.jpg,0,0,10,10\n",
    );
    assert_eq!(Layout::detect(root).unwrap(), Layout::FracAtlas);
    let ds = Dataset::open(root).unwrap();
    assert!(ds.issues.is_empty(), "{:?}", ds.issues);
    assert_eq!(ds.splits(), vec![Split::Train, Split::Val]);
    let train = ds.split(Split::Train);
    assert_eq!(train.len(), 3);
    let a = &train[0];
    assert_eq!(a.image, root.join("images/a.jpg"));
    assert_eq!(a.label, Some(true));
    assert_eq!(
        a.boxes,
        vec![
            BBox::new(1.5, 2.0, 30.0, 40.25),
            BBox::new(50.0, 50.0, 60.0, 70.0)
        ]
    );
    assert_eq!(a.meta.body_part.as_deref(), Some("hand"));
    assert_eq!(a.meta.hardware, Some(true));
    assert_eq!(a.meta.views, vec![View::Frontal, View::Lateral]);
    assert_eq!(a.meta.group.as_deref(), Some("7"));
    assert_eq!(a.meta.declared_size, Some((100, 80)));
    let b = &ds.split(Split::Val)[0];
    assert_eq!(b.label, Some(false));
    assert_eq!(b.meta.body_part.as_deref(), Some("mixed"));
    assert_eq!(b.meta.multiscan, Some(true));
    assert_eq!(b.meta.views, vec![View::Oblique]);
    assert_eq!(train[1].meta.body_part.as_deref(), Some("shoulder"));
    assert_eq!(train[2].meta.body_part.as_deref(), Some("hip"));
}

#[test]
fn a_left_out_region_takes_the_mixed_images_that_show_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for name in ["hand.jpg", "hip.jpg", "legs_hips.jpg", "leg.jpg"] {
        touch(&root.join("images").join(name));
    }
    fracatlas(
        root,
        "hand.jpg,0,1,0,0,0,0,0,0,1,0,0,100,80,train,1\n\
         hip.jpg,1,0,0,1,0,0,0,0,1,0,0,100,80,train,2\n\
         legs_hips.jpg,0,0,1,1,0,1,0,0,1,0,0,100,80,train,3\n\
         leg.jpg,0,0,1,0,0,0,0,0,1,0,0,100,80,train,4\n",
        "",
    );
    let train = Dataset::open(root).unwrap().split(Split::Train);
    let mixed = train
        .iter()
        .find(|s| s.image.ends_with("legs_hips.jpg"))
        .unwrap();
    assert_eq!(mixed.meta.body_part.as_deref(), Some("mixed"));
    assert_eq!(mixed.meta.regions, vec!["leg", "hip"]);
    assert!(mixed.shows_region("hip") && mixed.shows_region("leg"));
    assert!(!mixed.shows_region("hand"));

    let names = |samples: &[fracdet_io::dataset::Sample]| -> Vec<String> {
        let mut n: Vec<String> = samples
            .iter()
            .map(|s| s.image.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    let kept = without_region(train.clone(), Some("hip"));
    assert_eq!(names(&kept), vec!["hand.jpg", "leg.jpg"]);
    assert_eq!(without_region(train.clone(), None).len(), train.len());
}

#[test]
fn fracatlas_problems_become_issues() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    touch(&root.join("images/a.jpg"));
    touch(&root.join("images/b.jpg"));
    touch(&root.join("images/stray.png"));
    touch(&root.join("images/notes.txt"));
    fracatlas(
        root,
        "a.jpg,1,1,0,0,0,0,0,0,1,0,0,10,10,train,1\n\
         b.jpg,0,1,0,0,0,0,0,0,1,0,0,10,10,train,2\n\
         gone.jpg,0,1,0,0,0,0,0,0,1,0,0,10,10,val,3\n\
         a.jpg,1,1,0,0,0,0,0,0,1,0,0,10,10,train,1\n",
        "a.jpg,5,5,1,1\nb.jpg,1,1,2,2\nghost.jpg,1,1,2,2\n",
    );
    let ds = Dataset::open(root).unwrap();
    assert_eq!(ds.samples.len(), 2);
    let labels = root.join("labels.csv");
    let boxes = root.join("boxes.csv");
    let want = vec![
        Issue::MissingImage {
            table: labels.clone(),
            line: 4,
            image: root.join("images/gone.jpg"),
        },
        Issue::DuplicateLabel {
            table: labels,
            line: 5,
            image: "a.jpg".into(),
        },
        Issue::InvalidBox {
            table: boxes.clone(),
            line: 2,
            image: "a.jpg".into(),
            bbox: BBox::new(5.0, 5.0, 1.0, 1.0),
        },
        Issue::BoxOnNegative {
            table: boxes.clone(),
            line: 3,
            image: "b.jpg".into(),
        },
        Issue::BoxWithoutLabel {
            table: boxes,
            line: 4,
            image: "ghost.jpg".into(),
        },
        Issue::UnlabelledImage {
            image: root.join("images/stray.png"),
        },
    ];
    assert_eq!(ds.issues, want);
    // Every issue names its file; table issues their line.
    assert!(ds.issues[0].to_string().contains("labels.csv:4:"));
}

#[test]
fn malformed_tables_are_typed_errors_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    touch(&root.join("images/a.jpg"));
    for (rows, boxes, file, line, what) in [
        (
            "a.jpg,yes,1,0,0,0,0,0,0,1,0,0,10,10,train,1\n",
            "",
            "labels.csv",
            2,
            "fractured",
        ),
        (
            "a.jpg,1,1,0,0,0,0,0,0,1,0,0,10,10,holdout,1\n",
            "",
            "labels.csv",
            2,
            "split",
        ),
        (
            "a.jpg,1,1,0,0,0,0,0,0,1,0,0,10,10,train,1\n../x.jpg,1,1,0,0,0,0,0,0,1,0,0,10,10,train,1\n",
            "",
            "labels.csv",
            3,
            "leaves images",
        ),
        (
            "a.jpg,1,1,0,0,0,0,0,0,1,0,0,10,10,train\n",
            "",
            "labels.csv",
            2,
            "",
        ),
        (
            "a.jpg,1,1,0,0,0,0,0,0,1,0,0,10,10,train,1\n",
            "a.jpg,1,2,x,4\n",
            "boxes.csv",
            2,
            "coordinate",
        ),
    ] {
        fracatlas(root, rows, boxes);
        match Dataset::open(root) {
            Err(IoError::Table {
                path,
                line: l,
                reason,
            }) => {
                assert!(
                    path.ends_with(file) && l == line && reason.contains(what),
                    "{path:?}:{l}: {reason}"
                );
            }
            other => panic!("expected a table error for {rows:?}/{boxes:?}, got {other:?}"),
        }
    }
    std::fs::write(root.join("labels.csv"), "image,split\na.jpg,train\n").unwrap();
    assert!(matches!(
        Dataset::open(root),
        Err(IoError::Table { line: 1, .. })
    ));
}

#[test]
fn folder_layout_classes_splits_and_strays() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for p in [
        "train/Fractured/a.png",
        "train/Fractured/sub/b.JPG",
        "train/NOT FRACTURED/c.png",
        "train/not_fractured/d.dcm",
        "Val/abnormal/e.jpeg",
        "Val/Normal/f",
        "test/negative/g.png",
        "test/positive/.DS_Store",
        "test/positive/readme.txt",
        "train/loose.png",
        "train/maybe/h.png",
        "other/fractured/i.png",
    ] {
        touch(&root.join(p));
    }
    assert_eq!(Layout::detect(root).unwrap(), Layout::Folders);
    let ds = Dataset::open(root).unwrap();
    let got: Vec<(String, Split, Option<bool>)> = ds
        .samples
        .iter()
        .map(|s| {
            (
                s.image.strip_prefix(root).unwrap().display().to_string(),
                s.split,
                s.label,
            )
        })
        .collect();
    let want = vec![
        ("Val/Normal/f", Split::Val, Some(false)),
        ("Val/abnormal/e.jpeg", Split::Val, Some(true)),
        ("test/negative/g.png", Split::Test, Some(false)),
        ("train/Fractured/a.png", Split::Train, Some(true)),
        ("train/Fractured/sub/b.JPG", Split::Train, Some(true)),
        ("train/NOT FRACTURED/c.png", Split::Train, Some(false)),
        ("train/not_fractured/d.dcm", Split::Train, Some(false)),
    ];
    let want: Vec<_> = want
        .into_iter()
        .map(|(p, s, l)| (p.to_string(), s, l))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        ds.issues,
        vec![
            Issue::UnlabelledImage {
                image: root.join("train/loose.png")
            },
            Issue::UnknownClassFolder {
                folder: root.join("train/maybe")
            },
        ]
    );
}

#[test]
fn unknown_layout_and_missing_root_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Layout::detect(dir.path()),
        Err(IoError::Dataset { .. })
    ));
    assert!(matches!(
        Dataset::open(dir.path().join("nope")),
        Err(IoError::Dataset { .. })
    ));
}
