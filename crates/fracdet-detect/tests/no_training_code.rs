//! Data flows one way: fracdet-detect, fracdet-server and fracdet-dicom-node read trained
//! runs through fracdet-run and never link the training code. This walks the workspace's
//! dependency graph as cargo reads it (normal and build edges; dev-dependencies are not
//! linked into the libraries) and fails if fracdet-train is reachable from any of them.
//!
//! `--no-deps` keeps to the workspace's own packages: a full resolve would want the
//! manifests of every platform's crates, which an offline machine lacks, and only a
//! workspace crate can depend on fracdet-train (a path dependency) anyway.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

/// Workspace package name -> names of the packages it depends on, dev-dependencies left out.
fn dependency_graph() -> HashMap<String, Vec<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--no-deps",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .map(|d| d["name"].as_str().expect("dependency name").to_string())
                .collect();
            (p["name"].as_str().expect("package name").to_string(), deps)
        })
        .collect()
}

/// Every package `root` depends on, directly or not.
fn reachable(graph: &HashMap<String, Vec<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_string()];
    while let Some(p) = todo.pop() {
        for d in graph.get(&p).into_iter().flatten() {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn detect_and_server_do_not_depend_on_the_training_crate() {
    let graph = dependency_graph();
    // The walk sees the edges it is meant to judge: the CLI trains, so it reaches
    // fracdet-train; detect reaches fracdet-run.
    assert!(reachable(&graph, "fracdet-cli").contains("fracdet-train"));
    for root in ["fracdet-detect", "fracdet-server", "fracdet-dicom-node"] {
        let deps = reachable(&graph, root);
        assert!(deps.contains("fracdet-run"), "{root}: {deps:?}");
        assert!(
            !deps.contains("fracdet-train"),
            "{root} depends on fracdet-train; inference must go through fracdet-run"
        );
    }
}
