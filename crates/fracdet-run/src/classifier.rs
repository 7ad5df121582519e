//! fracdet-model's [`Classifier`] as a [`BinaryClassifier`].

use burn::module::{ParamGroup, ParamId};
use burn::store::ModuleSnapshot;
use burn::tensor::Tensor;
use fracdet_model::Classifier;

use crate::model::BinaryClassifier;

/// Top-level names of the head (the final linear layer) in fracdet-model's networks:
/// ResNet's `fc`, the others' `classifier`.
const HEAD_PREFIXES: [&str; 2] = ["fc.", "classifier."];

impl BinaryClassifier for Classifier {
    fn logits(&self, images: Tensor<4>) -> Tensor<1> {
        let logits = self.forward(images);
        let [n, _] = logits.dims();
        // One output: [N, 1] -> [N].
        logits.reshape([n])
    }

    fn backbone_params(&self) -> Option<ParamGroup> {
        // Names come from burn-store's collector, which walks the module without
        // materialising any tensor.
        let ids: Vec<ParamId> = self
            .collect(None, None, true)
            .into_iter()
            .filter(|t| !HEAD_PREFIXES.iter().any(|p| t.name.starts_with(p)))
            .filter_map(|t| t.param_id.map(ParamId::from))
            .collect();
        Some(ParamGroup::from_ids(ids))
    }
}
