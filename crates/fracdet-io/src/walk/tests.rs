use std::os::unix::fs::symlink;

use super::*;

fn any(_: &Path) -> bool {
    true
}

fn names(root: &Path, paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .collect()
}

fn reasons(walk: &Walk) -> Vec<(String, SkipReason)> {
    walk.skipped
        .iter()
        .map(|s| {
            (
                s.path.file_name().unwrap().to_string_lossy().into_owned(),
                s.reason.clone(),
            )
        })
        .collect()
}

#[test]
fn links_to_self_and_parent_are_loops_not_recursion() {
    // The reported hang: sub/self -> . and sub/up -> .. must end, each file found once.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("in");
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::write(root.join("a.png"), b"a").unwrap();
    fs::write(root.join("sub/b.png"), b"b").unwrap();
    symlink(".", root.join("sub/self")).unwrap();
    symlink("..", root.join("sub/up")).unwrap();
    let w = walk(&root, WalkOptions::default(), &any).unwrap();
    assert_eq!(names(&root, &w.files), ["a.png", "sub/b.png"]);
    let r = reasons(&w);
    assert!(r.contains(&("self".into(), SkipReason::Loop)), "{r:?}");
    assert!(r.contains(&("up".into(), SkipReason::Loop)), "{r:?}");
}

#[test]
fn a_link_out_of_the_tree_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("in");
    let other = dir.path().join("other-patient");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&other).unwrap();
    fs::write(other.join("secret.png"), b"s").unwrap();
    symlink(&other, root.join("elsewhere")).unwrap();
    symlink(other.join("secret.png"), root.join("one.png")).unwrap();
    let w = walk(&root, WalkOptions::default(), &any).unwrap();
    assert!(w.files.is_empty(), "{:?}", w.files);
    assert_eq!(w.skipped.len(), 2);
    assert!(
        w.skipped
            .iter()
            .all(|s| matches!(s.reason, SkipReason::LinkLeavesTree { .. })),
        "{:?}",
        w.skipped
    );
}

#[test]
fn a_link_inside_the_tree_is_followed_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("x")).unwrap();
    fs::write(root.join("x/a.png"), b"a").unwrap();
    symlink(root.join("x"), root.join("y")).unwrap();
    symlink("x/a.png", root.join("b.png")).unwrap();
    let w = walk(root, WalkOptions::default(), &any).unwrap();
    // b.png comes first (sorted), so the original is the second sighting.
    assert_eq!(names(root, &w.files), ["b.png"]);
    let r = reasons(&w);
    assert!(
        r.iter()
            .any(|(n, why)| n == "a.png" && matches!(why, SkipReason::SameFileAgain { .. })),
        "{r:?}"
    );
    assert!(r.contains(&("y".into(), SkipReason::Loop)), "{r:?}");
}

#[test]
fn pipes_dangling_and_looping_links_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("ok.png"), b"a").unwrap();
    let fifo = root.join("pipe.dcm");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status();
    let have_fifo = status.is_ok_and(|s| s.success());
    if !have_fifo {
        eprintln!("notice: mkfifo unavailable; the FIFO part of this test is skipped");
    }
    symlink("nowhere.png", root.join("dangling.png")).unwrap();
    symlink("loop-b", root.join("loop-a")).unwrap();
    symlink("loop-a", root.join("loop-b")).unwrap();
    let w = walk(root, WalkOptions::default(), &any).unwrap();
    assert_eq!(names(root, &w.files), ["ok.png"]);
    let r = reasons(&w);
    assert!(
        r.contains(&("dangling.png".into(), SkipReason::DanglingLink)),
        "{r:?}"
    );
    assert!(r.contains(&("loop-a".into(), SkipReason::Loop)), "{r:?}");
    assert!(r.contains(&("loop-b".into(), SkipReason::Loop)), "{r:?}");
    if have_fifo {
        assert!(r.contains(&("pipe.dcm".into(), SkipReason::Fifo)), "{r:?}");
    }
}

#[test]
fn output_folders_are_not_entered() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("fracdet-out/overlays")).unwrap();
    fs::write(root.join("fracdet-out").join(OUTPUT_MARKER), b"{}").unwrap();
    fs::write(root.join("fracdet-out/overlays/a.png"), b"o").unwrap();
    fs::write(root.join("a.png"), b"a").unwrap();
    let w = walk(root, WalkOptions::default(), &any).unwrap();
    assert_eq!(names(root, &w.files), ["a.png"]);
    assert_eq!(
        reasons(&w),
        [("fracdet-out".into(), SkipReason::OutputFolder)]
    );
}

#[test]
fn non_recursive_walk_stays_in_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::write(root.join("sub/a.png"), b"a").unwrap();
    fs::write(root.join("b.png"), b"b").unwrap();
    let options = WalkOptions {
        recursive: false,
        ..WalkOptions::default()
    };
    let w = walk(root, options, &any).unwrap();
    assert_eq!(names(root, &w.files), ["b.png"]);
    assert!(w.skipped.is_empty());
}

#[test]
fn non_utf8_names_print_distinctly() {
    use std::os::unix::ffi::OsStrExt;
    let a = OsStr::from_bytes(b"scan\xff.png");
    let b = OsStr::from_bytes(b"scan\xfe.png");
    assert_eq!(escape_os_str(a), "scan\\xFF.png");
    assert_ne!(escape_os_str(a), escape_os_str(b));
    assert_eq!(escape_os_str(OsStr::new("ré.png")), "ré.png");
}
