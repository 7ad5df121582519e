//! `Classifier::feature_dim` (read from the head's input width, no forward pass) is the
//! channel count of the feature map the head pools, for every backbone family.

use burn::tensor::{Device, Tensor};
use fracdet_model::BackboneKind;

#[test]
fn feature_dim_is_the_pooled_feature_map_width() {
    let device = Device::flex();
    for kind in [
        BackboneKind::Resnet18,
        BackboneKind::Densenet121,
        BackboneKind::MobilenetV2,
        BackboneKind::EfficientnetLite0,
    ] {
        let model = kind.init(3, &device).unwrap();
        let features = model.features(Tensor::<4>::zeros([1, 3, 32, 32], &device));
        assert_eq!(model.feature_dim(), features.dims()[1], "{kind:?}");
    }
}
