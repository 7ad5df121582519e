//! `--device` end to end: a global option accepted after the subcommand, and a backend that
//! this build lacks is a one-line error naming the Cargo feature, before any model is opened.

use std::process::Command;

fn fracdet(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fracdet"))
        .args(args)
        // A set RUST_BACKTRACE adds the backtrace after the one-line error.
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run fracdet")
}

#[test]
fn a_backend_not_compiled_in_names_its_feature() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples/IMG0000065.jpg");
    for (device, feature, compiled) in [
        ("cuda", "cuda", cfg!(feature = "cuda")),
        ("wgpu", "wgpu", cfg!(feature = "wgpu")),
        ("tch", "tch", cfg!(feature = "tch")),
    ] {
        if compiled {
            continue;
        }
        // The run directory does not exist: the device error must come first.
        let out = fracdet(&[
            "predict",
            "--device",
            device,
            "--model",
            "no-such-run",
            sample,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{device}: {stderr}");
        assert!(
            stderr.contains(&format!("--features {feature}")) && stderr.lines().count() == 1,
            "{device}: {stderr}"
        );
    }
}

#[test]
fn an_unknown_device_is_a_usage_error() {
    let out = fracdet(&["--device", "tpu", "data", "check", "."]);
    assert_eq!(out.status.code(), Some(2));
}
