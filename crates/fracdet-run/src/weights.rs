//! Model weights to and from bytes (burnpack, which keeps parameter ids) and run directories.

use std::path::Path;

use burn::module::Module;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Bytes;

use crate::checkpoint::Checkpoint;
use crate::error::{Result, RunError};

/// Serialise every parameter and running statistic of `model`.
pub fn model_to_bytes<M: Module>(model: &M) -> Result<Vec<u8>> {
    // BatchNorm running statistics updated in training steps live in per-thread slots
    // until synced, and serialisation reads the synced value; `valid()` syncs them (the
    // copy it returns is not needed).
    let _ = model.valid();
    let mut store = BurnpackStore::from_bytes(None);
    model
        .save_into(&mut store)
        .map_err(|e| model_error(e.to_string()))?;
    let bytes = store.get_bytes().map_err(|e| model_error(e.to_string()))?;
    Ok(bytes.to_vec())
}

fn model_error(reason: String) -> RunError {
    RunError::Serialise {
        what: "model weights",
        reason,
    }
}

/// Load weights written by [`model_to_bytes`] into `model`, which must have the same
/// architecture; every tensor must be present. `origin` names the file in errors.
pub fn model_from_bytes<M: Module>(mut model: M, bytes: Vec<u8>, origin: &Path) -> Result<M> {
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes)));
    model
        .load_from(&mut store)
        .map_err(|e| RunError::format(origin, format!("weights do not fit the network: {e}")))?;
    Ok(model)
}

/// Load a run's weights for prediction: `best.ckpt`, or `last.ckpt` when no epoch has
/// finished with a validation score yet.
pub fn load_run_weights<M: Module>(model: M, run_dir: &Path) -> Result<M> {
    let path = crate::checkpoint::prediction_checkpoint(run_dir);
    let ckpt = Checkpoint::load(&path)?;
    model_from_bytes(model, ckpt.model, &path)
}
