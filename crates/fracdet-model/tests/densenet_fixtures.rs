//! DenseNet import against fixtures from tools/make_fixtures.py (torchvision key layout,
//! 1-based `denseblockN.denselayerM` names renumbered onto burn `Vec`s).

mod import_fixtures;

use burn::module::Module;
use fracdet_model::backbone::densenet::DenseNetConfig;
use fracdet_model::import::load_weights;
use import_fixtures::*;

fn small_config() -> DenseNetConfig {
    let cfg = &expected("densenet121_small")["config"];
    let n = |k: &str| cfg[k].as_u64().expect("count") as usize;
    let blocks: [usize; 4] = dims(cfg, "block_config");
    DenseNetConfig::new(blocks.to_vec())
        .with_growth_rate(n("growth_rate"))
        .with_init_features(n("init_features"))
        .with_bn_size(n("bn_size"))
}

fn check_outputs(file: &str) {
    let cfg = small_config();
    let device = device();
    let (model, report) = load_weights(
        cfg.init(&device).expect("init"),
        &fixture(file),
        &cfg.import_spec(true),
    )
    .unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(report.missing.is_empty(), "{:?}", report.missing);
    let model = model.valid();
    let exp = expected("densenet121_small");
    let out = &exp["outputs"];
    let features = model.forward_features(fixture_input(dims(&exp, "input_shape"), &device));
    assert_eq!(features.dims(), dims::<4>(out, "features_shape"));
    assert_eq!(features.dims()[1], cfg.out_channels());
    assert_close(
        &format!("{file} features"),
        &values(features.clone()),
        &floats(out, "features"),
    );
    assert_close(
        &format!("{file} logits"),
        &values(model.forward_head(features)),
        &floats(out, "logits"),
    );
}

#[test]
fn densenet121_zip_pth_matches_reference() {
    check_outputs("densenet121_small.pth");
}

#[test]
fn densenet121_legacy_pth_with_old_key_spelling_matches_reference() {
    check_outputs("densenet121_small_oldkeys_legacy.pth");
}

#[test]
fn full_size_channel_counts() {
    assert_eq!(DenseNetConfig::densenet121().out_channels(), 1024);
    assert_eq!(DenseNetConfig::densenet169().out_channels(), 1664);
}
