//! `warm_start`: a new MPR run's network takes a trained run's weights, and only when the
//! two runs describe the same network and inputs.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use fracdet_model::grid_detector::GridDetector;
use fracdet_run::checkpoint::BEST_FILE;
use fracdet_run::mpr::{MprCheckpoint, MprConfig, MprState, warm_start};
use fracdet_run::tensors::tensor_values;
use fracdet_run::weights::model_to_bytes;

fn config() -> MprConfig {
    let mut c = MprConfig::new(64, Vec::new());
    c.stride = 8;
    c.box_head = true;
    c
}

fn state() -> MprState {
    MprState {
        epoch: 1,
        global_step: 1,
        seed: 0,
        image_pos_weight: 1.0,
        cell_pos_weight: 1.0,
        best_auroc: Some(0.5),
        best_epoch: Some(0),
        epochs_without_improvement: 0,
        history: vec![],
        finished: None,
        partial: None,
    }
}

/// Cell and box outputs of `model` (inference mode) on a fixed 64² input.
fn outputs(model: &GridDetector, device: &Device) -> Vec<f32> {
    let x: Vec<f32> = (0..64 * 64)
        .map(|i| ((i * 37) % 101) as f32 / 101.0)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(x, [1, 1, 64, 64]), device);
    let out = model.clone().valid().forward_all(x);
    let mut v = tensor_values(out.cells).unwrap();
    v.extend(tensor_values(out.boxes.unwrap()).unwrap());
    v
}

#[test]
fn a_new_run_starts_from_the_trained_runs_weights_and_refuses_another_network() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let source_config = config();
    let trained = source_config.detector().init(&device).unwrap();
    source_config.save(dir.path()).unwrap();
    MprCheckpoint {
        state: state(),
        model: model_to_bytes(&trained).unwrap(),
        optimizer: Vec::new(),
    }
    .save(&dir.path().join(BEST_FILE))
    .unwrap();

    // A fine-tuning run: another size, rate and loss, the same network.
    let mut new = config();
    new.size = 128;
    new.lr = 1e-5;
    let fresh = new.detector().init(&device).unwrap();
    let before = outputs(&fresh, &device);
    let expected = outputs(&trained, &device);
    assert_ne!(before, expected, "two fresh networks should differ");
    let started = warm_start(fresh, &new, dir.path()).unwrap();
    assert_eq!(outputs(&started, &device), expected);

    // Another stride (so another grid and feature pyramid) is refused by name.
    let mut other = config();
    other.stride = 16;
    let err = warm_start(other.detector().init(&device).unwrap(), &other, dir.path())
        .expect_err("a stride-16 run cannot start from a stride-8 one");
    assert!(err.to_string().contains("stride"), "{err}");
}
