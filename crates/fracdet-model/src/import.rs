//! Import of pretrained weights from PyTorch `.pth`/`.pt` files and safetensors (issue #3).
//!
//! [`load_weights`] reads every tensor of a file, drops the ones the [`ImportSpec`] skips,
//! renames the rest with its regex pairs, turns a 3-channel stem kernel into a 1-channel one
//! where the network is grayscale, and applies the result to a burn module. Any tensor the
//! network lacks, any parameter the file lacks and any shape that disagrees ends the import
//! with one [`ModelError::WeightMismatch`] that lists them all.
//!
//! Both PyTorch checkpoint layouts load: the zip archive `torch.save` writes since 1.6 and the
//! legacy pickle stream of older versions (`_use_new_zipfile_serialization=False`); burn-store's
//! `pytorch-reader` recognises each by its header, not by the extension. Safetensors files are
//! recognised by their JSON header and are taken to hold PyTorch-layout tensors (Linear weights
//! `[out, in]`, BatchNorm `weight`/`bias`), as exported from a PyTorch model.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::DType;
use burn_store::burn_pack::{Bytes, Tensor as PackTensor};
use burn_store::{
    ApplyError, BurnToPyTorchAdapter, ChainAdapter, FloatCastAdapter, ModuleSnapshot, ModuleStore,
    PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};
use regex::Regex;

use crate::ModelError;

/// Which container a weight file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFileFormat {
    /// `torch.save` output, zip (PyTorch >= 1.6) or legacy pickle (older).
    Pytorch,
    /// A safetensors file.
    Safetensors,
}

/// How a weight file's keys map onto a network, and what may be left out.
///
/// Order of operations on each file key: `skip` (matched against the key as stored in the file),
/// then `remap` pairs in order, then contiguous index renumbering if asked for. `allow_missing`
/// matches network parameters by their PyTorch-spelled name (after remapping), e.g. `fc.weight`.
#[derive(Debug, Clone)]
pub struct ImportSpec {
    /// `(regex, replacement)` pairs applied in order with `Regex::replace_all`; replacements
    /// may use `$1`-style groups.
    pub remap: Vec<(String, String)>,
    /// Regexes on the file's own keys; matching tensors are dropped before anything else.
    /// Default: `num_batches_tracked$` (a PyTorch BatchNorm counter burn has no use for).
    pub skip: Vec<String>,
    /// Regexes on network parameter names that may stay at their initial values because the
    /// file has nothing for them (a fresh classification head).
    pub allow_missing: Vec<String>,
    /// Accept any missing parameter (they keep their initial values). Default: false.
    pub allow_partial: bool,
    /// Renumber numeric path segments to 0, 1, 2, … per list (burn's `Vec` indices), after
    /// remapping. Lets 1-based names like `denselayer1` become `Vec` entries. Default: false.
    pub map_indices_contiguous: bool,
    /// Read tensors from this top-level key of a PyTorch checkpoint (e.g. `state_dict`).
    /// Safetensors files are flat and ignore it.
    pub top_level_key: Option<String>,
    /// Where the network wants a `[O, 1, kh, kw]` kernel and the file has `[O, 3, kh, kw]`,
    /// sum the file's kernel over the input-channel axis (see [`sum_rgb_kernel`]). Default: true.
    pub adapt_grayscale_stem: bool,
}

impl Default for ImportSpec {
    fn default() -> Self {
        Self {
            remap: Vec::new(),
            skip: vec![r"num_batches_tracked$".to_string()],
            allow_missing: Vec::new(),
            allow_partial: false,
            map_indices_contiguous: false,
            top_level_key: None,
            adapt_grayscale_stem: true,
        }
    }
}

impl ImportSpec {
    /// Add a `(regex, replacement)` key remapping.
    pub fn with_remap(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.remap.push((from.into(), to.into()));
        self
    }

    /// Drop file tensors whose key matches `pattern`.
    pub fn with_skip(mut self, pattern: impl Into<String>) -> Self {
        self.skip.push(pattern.into());
        self
    }

    /// Let network parameters matching `pattern` keep their initial values.
    pub fn with_allow_missing(mut self, pattern: impl Into<String>) -> Self {
        self.allow_missing.push(pattern.into());
        self
    }

    /// Skip a pretrained head and keep the network's fresh one: drops file keys matching
    /// `^{prefix}\.` and allows the network's `{prefix}.*` parameters to be missing.
    /// `prefix` is the head's name in the file (`fc` for torchvision ResNets).
    pub fn with_fresh_head(self, prefix: &str) -> Self {
        let escaped = regex::escape(prefix);
        self.with_skip(format!(r"^{escaped}\."))
            .with_allow_missing(format!(r"^{escaped}\."))
    }

    /// See [`ImportSpec::allow_partial`].
    pub fn with_allow_partial(mut self, allow: bool) -> Self {
        self.allow_partial = allow;
        self
    }

    /// See [`ImportSpec::map_indices_contiguous`].
    pub fn with_map_indices_contiguous(mut self, map: bool) -> Self {
        self.map_indices_contiguous = map;
        self
    }

    /// See [`ImportSpec::top_level_key`].
    pub fn with_top_level_key(mut self, key: impl Into<String>) -> Self {
        self.top_level_key = Some(key.into());
        self
    }

    /// See [`ImportSpec::adapt_grayscale_stem`].
    pub fn with_adapt_grayscale_stem(mut self, adapt: bool) -> Self {
        self.adapt_grayscale_stem = adapt;
        self
    }
}

/// What an import did, for logs and for checks in tests.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// The container the file turned out to be (`None` only for a default report).
    pub format: Option<WeightFileFormat>,
    /// Network parameters loaded from the file (burn names, e.g. `bn1.gamma`).
    pub applied: Vec<String>,
    /// File keys dropped by [`ImportSpec::skip`] (as stored in the file).
    pub skipped: Vec<String>,
    /// Network parameters left at their initial values, all allowed by the spec (PyTorch
    /// spelling, like [`ModelError::WeightMismatch`]).
    pub missing: Vec<String>,
    /// Kernels summed from 3 input channels to 1 (names after remapping).
    pub adapted_stems: Vec<String>,
}

/// Compiled form of an [`ImportSpec`]; compiling first means a bad pattern is a typed error,
/// not a panic deep inside burn-store.
struct CompiledSpec {
    remap: Vec<(Regex, String)>,
    skip: Vec<Regex>,
    allow_missing: Vec<Regex>,
}

fn compile(spec: &ImportSpec) -> Result<CompiledSpec, ModelError> {
    let re = |p: &str| {
        Regex::new(p).map_err(|e| ModelError::Config(format!("bad import pattern '{p}': {e}")))
    };
    Ok(CompiledSpec {
        remap: spec
            .remap
            .iter()
            .map(|(from, to)| Ok((re(from)?, to.clone())))
            .collect::<Result<_, ModelError>>()?,
        skip: spec.skip.iter().map(|p| re(p)).collect::<Result<_, _>>()?,
        allow_missing: spec
            .allow_missing
            .iter()
            .map(|p| re(p))
            .collect::<Result<_, _>>()?,
    })
}

/// Load the weights in `path` into `model`, following `spec`.
///
/// Returns the loaded module and a report, or [`ModelError::WeightMismatch`] listing every
/// missing, unexpected and mis-shaped tensor, [`ModelError::WeightFormat`] for a file that is
/// neither a PyTorch checkpoint nor safetensors, [`ModelError::Io`] for an unreadable path and
/// [`ModelError::Config`] for an invalid regex in `spec`. Float tensors are cast to `f32`.
///
/// The model is consumed either way; on error nothing half-loaded escapes.
pub fn load_weights<M: Module>(
    model: M,
    path: &Path,
    spec: &ImportSpec,
) -> Result<(M, ImportReport), ModelError> {
    compile(spec)?;
    let format = sniff_format(path)?;
    let raw = read_tensors(path, format, spec)?;
    let (model, mut report) = apply_tensors(model, raw, spec, path)?;
    report.format = Some(format);
    Ok((model, report))
}

/// [`load_weights`] for tensors already in memory (named as in their source, PyTorch layout),
/// e.g. from burn-store's readers or built by a test. `source` only names them in errors.
pub fn apply_tensors<M: Module>(
    mut model: M,
    raw: Vec<PackTensor>,
    spec: &ImportSpec,
    source: &Path,
) -> Result<(M, ImportReport), ModelError> {
    let path = source;
    let compiled = compile(spec)?;
    let mut report = ImportReport::default();

    // Skip on the file's own names, so a user can name keys as `torch.load` shows them.
    let mut kept = Vec::with_capacity(raw.len());
    for tensor in raw {
        if compiled.skip.iter().any(|r| r.is_match(&tensor.name)) {
            report.skipped.push(tensor.name);
        } else {
            kept.push(tensor);
        }
    }
    report.skipped.sort();

    let mut other = Vec::new();
    let mut renamed: BTreeMap<String, String> = BTreeMap::new();
    for tensor in &mut kept {
        let mut name = tensor.name.clone();
        for (from, to) in &compiled.remap {
            name = from.replace_all(&name, to.as_str()).into_owned();
        }
        if let Some(first) = renamed.insert(name.clone(), tensor.name.clone()) {
            other.push(format!(
                "file keys '{first}' and '{}' both remap to '{name}'",
                tensor.name
            ));
        }
        tensor.name = name;
    }
    if spec.map_indices_contiguous {
        kept = burn_store::map_indices_contiguous(kept).0;
    }

    // The network's own parameter names and shapes, in PyTorch spelling, to find stems to
    // adapt and to name mismatches the way the file does.
    let expected: BTreeMap<String, Vec<usize>> = model
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|t| (t.name.clone(), t.shape.to_vec()))
        .collect();

    if spec.adapt_grayscale_stem {
        let mut adapted = Vec::with_capacity(kept.len());
        for tensor in kept {
            let wants_gray = matches!(
                (expected.get(&tensor.name).map(Vec::as_slice), &tensor.shape[..]),
                (Some([o, 1, kh, kw]), [fo, 3, fkh, fkw]) if o == fo && kh == fkh && kw == fkw
            );
            if wants_gray {
                let name = tensor.name.clone();
                match gray_stem(tensor) {
                    Ok(t) => {
                        report.adapted_stems.push(name);
                        adapted.push(t);
                    }
                    Err(reason) => other.push(format!("{name}: {reason}")),
                }
            } else {
                adapted.push(tensor);
            }
        }
        kept = adapted;
    }

    let adapter = ChainAdapter::new(PyTorchToBurnAdapter, FloatCastAdapter::to(DType::F32));
    let result = model.apply(kept, None, Some(Box::new(adapter)), true);

    let mut missing = Vec::new();
    for (name, _) in result.missing {
        let torch_name = burn_to_torch_name(&name);
        let allowed = spec.allow_partial
            || compiled
                .allow_missing
                .iter()
                .any(|r| r.is_match(&torch_name));
        if allowed {
            report.missing.push(torch_name);
        } else {
            missing.push(torch_name);
        }
    }
    let mut mis_shaped = Vec::new();
    for error in result.errors {
        match error {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => mis_shaped.push(format!(
                "{}: network {:?}, file {:?}",
                burn_to_torch_name(&path),
                expected.to_vec(),
                found.to_vec()
            )),
            other_error => other.push(other_error.to_string()),
        }
    }
    let unexpected = result.unused;

    if missing.is_empty() && unexpected.is_empty() && mis_shaped.is_empty() && other.is_empty() {
        report.applied = result.applied;
        tracing::debug!(
            path = %path.display(),
            applied = report.applied.len(),
            skipped = report.skipped.len(),
            missing = report.missing.len(),
            "weights loaded"
        );
        Ok((model, report))
    } else {
        Err(ModelError::WeightMismatch {
            path: path.to_path_buf(),
            missing,
            unexpected,
            mis_shaped,
            other,
        })
    }
}

/// Burn's parameter path in PyTorch spelling: the last `gamma`/`beta` become `weight`/`bias`.
///
/// Only normalisation layers have parameters named so in this crate's networks.
fn burn_to_torch_name(name: &str) -> String {
    if let Some(stem) = name.strip_suffix(".gamma") {
        format!("{stem}.weight")
    } else if let Some(stem) = name.strip_suffix(".beta") {
        format!("{stem}.bias")
    } else {
        name.to_string()
    }
}

/// Sum a `[O, 3, kh, kw]` kernel (row-major, as PyTorch stores it) over its input-channel
/// axis, giving the `[O, 1, kh, kw]` kernel that responds to a gray image `g` exactly as the
/// original responds to the RGB image `(g, g, g)`.
///
/// Returns `None` when `data.len()` is not `O * 3 * kh * kw` for the given `shape`.
pub fn sum_rgb_kernel(shape: [usize; 4], data: &[f32]) -> Option<Vec<f32>> {
    let [o, c, kh, kw] = shape;
    let plane = kh.checked_mul(kw)?;
    if c != 3 || o.checked_mul(3)?.checked_mul(plane)? != data.len() {
        return None;
    }
    let mut out = vec![0.0f32; o * plane];
    for (oi, filter) in data.chunks_exact(3 * plane).enumerate() {
        let dst = &mut out[oi * plane..(oi + 1) * plane];
        for channel in filter.chunks_exact(plane) {
            for (d, s) in dst.iter_mut().zip(channel) {
                *d += s;
            }
        }
    }
    Some(out)
}

/// Replace a 3-input-channel kernel tensor by its channel sum.
fn gray_stem(tensor: PackTensor) -> Result<PackTensor, String> {
    let shape: [usize; 4] = tensor
        .shape
        .to_vec()
        .try_into()
        .map_err(|_| "stem kernel is not 4-D".to_string())?;
    let (name, dtype, _, param_id, bytes) = tensor
        .into_parts()
        .map_err(|e| format!("cannot read stem kernel: {e:?}"))?;
    let values: Vec<f32> = match dtype {
        DType::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        DType::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        other => {
            return Err(format!(
                "stem kernel dtype {other:?} cannot be adapted to 1 channel"
            ));
        }
    };
    let summed = sum_rgb_kernel(shape, &values)
        .ok_or_else(|| format!("stem kernel data does not fit its shape {shape:?}"))?;
    let [o, _, kh, kw] = shape;
    Ok(PackTensor::new(
        name,
        DType::F32,
        [o, 1, kh, kw],
        param_id,
        Bytes::from_elems(summed),
    ))
}

/// Tell a safetensors file (8-byte little-endian header length, then a JSON object) from
/// anything else, which is left to the PyTorch reader to recognise or refuse.
fn sniff_format(path: &Path) -> Result<WeightFileFormat, ModelError> {
    let io_err = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mut head = [0u8; 9];
    let mut filled = 0;
    while filled < head.len() {
        let n = file.read(&mut head[filled..]).map_err(io_err)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    if filled == head.len() && head[8] == b'{' {
        Ok(WeightFileFormat::Safetensors)
    } else {
        Ok(WeightFileFormat::Pytorch)
    }
}

/// Every tensor of the file under its stored name, no remapping.
fn read_tensors(
    path: &Path,
    format: WeightFileFormat,
    spec: &ImportSpec,
) -> Result<Vec<PackTensor>, ModelError> {
    let format_err = |reason: String| ModelError::WeightFormat {
        path: PathBuf::from(path),
        reason,
    };
    match format {
        WeightFileFormat::Pytorch => {
            let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
            if let Some(key) = &spec.top_level_key {
                store = store.with_top_level_key(key.clone());
            }
            let tensors = store
                .get_all_tensors()
                .map_err(|e| format_err(e.to_string()))?;
            Ok(tensors.values().cloned().collect())
        }
        WeightFileFormat::Safetensors => {
            let mut store = SafetensorsStore::from_file(path).map_indices_contiguous(false);
            let tensors = store
                .get_all_tensors()
                .map_err(|e| format_err(e.to_string()))?;
            Ok(tensors.values().cloned().collect())
        }
    }
}

/// Names and shapes (PyTorch spelling) of a module's parameters and buffers, sorted by name.
///
/// Handy to write an [`ImportSpec`]: diff this against the keys `torch.load` shows.
pub fn parameter_shapes<M: Module>(model: &M) -> Vec<(String, Vec<usize>)> {
    let mut shapes: Vec<(String, Vec<usize>)> = model
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|t| (t.name.clone(), t.shape.to_vec()))
        .collect();
    shapes.sort();
    shapes
}
