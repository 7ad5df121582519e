//! Reading tensors back into host memory.

use burn::tensor::Tensor;

use crate::error::{Result, RunError};

/// The values of `t` as f32, in row-major order.
pub fn tensor_values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| RunError::Tensor(format!("{e:?}")))
}
