//! Reading tensors back into host memory.

use burn::tensor::Tensor;

use crate::error::{Result, TrainError};

/// The values of `t` as f32, in row-major order.
pub(crate) fn tensor_values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| TrainError::Tensor(format!("{e:?}")))
}
