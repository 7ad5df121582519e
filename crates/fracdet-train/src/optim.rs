//! Optimizer state to and from checkpoint bytes (burnpacks keyed by parameter id).

use std::path::Path;

use burn::optim::ModuleOptimizer;
use burn::tensor::Bytes;

use crate::RunError;
use crate::error::Result;

/// The optimizer's moments and step counts as bytes.
pub(crate) fn optimizer_bytes(optim: &ModuleOptimizer) -> Result<Vec<u8>> {
    optim.into_bytes().map(|b| b.to_vec()).map_err(|e| {
        RunError::Serialise {
            what: "optimizer state",
            reason: e.to_string(),
        }
        .into()
    })
}

/// `optim` with the state in `bytes` (from `path`); unchanged when `bytes` is empty (a
/// checkpoint written before the first step, or one for prediction only).
pub(crate) fn load_optimizer(
    optim: ModuleOptimizer,
    bytes: Vec<u8>,
    path: &Path,
) -> Result<ModuleOptimizer> {
    if bytes.is_empty() {
        return Ok(optim);
    }
    optim
        .from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| RunError::format(path, format!("bad optimizer state: {e}")).into())
}
