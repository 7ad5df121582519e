//! fracdet-model's Classifier under the training loop: head-only warm-up really freezes the
//! backbone, and a trained run predicts through `Predictor` with nothing but its directory.

mod common;

use burn::tensor::Device;
use common::{PngSource, tensors_of_with, write_dataset};
use fracdet_model::Classifier;
use fracdet_model::backbone::resnet::ResNetConfig;
use fracdet_train::checkpoint::{BEST_FILE, Checkpoint};
use fracdet_train::{
    BinaryClassifier, LabelledSource, LogObserver, Predictor, Start, StopFlag, StopReason,
    model_to_bytes, train_classifier,
};

fn tiny_resnet(device: &Device) -> Classifier {
    Classifier::ResNet(
        ResNetConfig::resnet18()
            .with_widths([4, 4, 8, 8])
            .with_stem_width(4)
            .with_in_channels(1)
            .init(device)
            .unwrap(),
    )
}

#[test]
fn backbone_group_excludes_only_the_head() {
    let device = Device::flex();
    let net = tiny_resnet(&device);
    let group = net.backbone_params().unwrap();
    use burn::store::ModuleSnapshot;
    let mut head = 0;
    for t in net.collect(None, None, true) {
        let Some(id) = t.param_id else { continue };
        let in_group = group.matches(&id.into(), None);
        if t.name.starts_with("fc.") {
            head += 1;
            assert!(!in_group, "{} is head", t.name);
        } else if !t.name.contains("running_") {
            assert!(in_group, "{} is backbone", t.name);
        }
    }
    assert_eq!(head, 2, "fc.weight and fc.bias");
}

#[test]
fn frozen_epoch_moves_only_the_head_and_predictor_reads_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let train = PngSource {
        items: write_dataset(&tmp.path().join("train"), 8),
    };
    let val = PngSource {
        items: write_dataset(&tmp.path().join("val"), 4),
    };
    let device = Device::flex();
    let mut cfg = common::grey_config("resnet18");
    cfg.epochs = 1;
    cfg.freeze_epochs = 1;
    cfg.batch_size = 4;
    cfg.lr = 1e-2;
    cfg.patience = None;
    let init = tiny_resnet(&device);
    let before = model_to_bytes(&init).unwrap();
    let run = tmp.path().join("run");
    let out = train_classifier(
        init,
        &cfg,
        &train,
        &val,
        &run,
        Start::Fresh,
        &device,
        &mut LogObserver,
        &StopFlag::new(),
    )
    .unwrap();
    assert_eq!(out.stop, StopReason::Completed);

    let after = Checkpoint::load(&run.join(BEST_FILE)).unwrap().model;
    let load = |bytes: &[u8]| tensors_of_with(bytes, || tiny_resnet(&Device::flex()));
    let (b, a) = (load(&before), load(&after));
    let mut head_moved = false;
    for (name, (_, vb)) in &b {
        let va = &a[name].1;
        // Collected with enum variant names: `ResNet.fc.weight`.
        if name.split('.').any(|part| part == "fc") {
            head_moved |= va != vb;
        } else if !name.contains("running_") && !name.contains("num_batches") {
            assert_eq!(va, vb, "{name} changed during a frozen epoch");
        }
    }
    assert!(head_moved, "the head trained");

    let predictor = Predictor::open(&run, &device, |c, d| {
        assert_eq!(c, &cfg);
        Ok(tiny_resnet(d))
    })
    .unwrap();
    let canvases: Vec<Vec<f32>> = (0..3).map(|i| val.load(i, None).unwrap()).collect();
    let p = predictor.probabilities(&canvases, &device).unwrap();
    assert_eq!(p.len(), 3);
    assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
    // Inference mode: the same image scores the same alone and in a batch.
    let single = predictor.probabilities(&canvases[1..2], &device).unwrap();
    assert!((single[0] - p[1]).abs() < 1e-5);
    assert!(predictor.probabilities(&[vec![0.0; 7]], &device).is_err());
}
