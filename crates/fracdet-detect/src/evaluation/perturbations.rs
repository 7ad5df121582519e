//! Robustness: the split scored again under each standard perturbation
//! (`fracdet_io::perturb`), and the AUROC drop against the unperturbed scores with a paired
//! bootstrap CI (`perturbations.json`).

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::Device;
use fracdet_eval::{BootstrapConfig, Estimate, compare_auroc};
use fracdet_io::dataset::Sample;
use fracdet_io::perturb::Perturbation;
use serde::Serialize;

use super::error::Result;
use super::scoring::{ScoreOptions, ScoredImage, score_split};
use crate::scorer::Scorer;

/// One perturbation's result.
#[derive(Debug, Clone, Serialize)]
pub struct PerturbationRow {
    pub perturbation: Perturbation,
    pub name: String,
    /// AUROC under the perturbation, on the images scored both ways.
    pub auroc: Estimate,
    /// AUROC(perturbed) − AUROC(unperturbed), paired bootstrap CI: negative is a drop.
    pub difference: Estimate,
    pub p_value: Option<f64>,
    pub n: usize,
}

/// Scores `samples` under every [`Perturbation::STANDARD`] (with `options`' batch and
/// applicability setting) and compares each with `baseline`, the unperturbed scores of the
/// same split; `on_row` sees each row as it is done (a pass over the split each).
#[allow(clippy::too_many_arguments)]
pub fn perturbation_rows(
    scorer: &Scorer,
    device: &Device,
    root: &Path,
    samples: &[Sample],
    baseline: &[ScoredImage],
    options: &ScoreOptions,
    cfg: &BootstrapConfig,
    mut on_row: impl FnMut(&PerturbationRow),
) -> Result<Vec<PerturbationRow>> {
    let base: HashMap<&str, (bool, f32)> = baseline
        .iter()
        .map(|s| (s.name.as_str(), (s.label, s.score)))
        .collect();
    let mut rows = Vec::new();
    for p in Perturbation::STANDARD {
        let perturbed = score_split(
            scorer,
            device,
            root,
            samples,
            &ScoreOptions {
                perturb: Some(p),
                ..*options
            },
        )?;
        let (mut labels, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
        for s in &perturbed.scored {
            if let Some(&(label, unperturbed)) = base.get(s.name.as_str()) {
                labels.push(label);
                a.push(s.score);
                b.push(unperturbed);
            }
        }
        let cmp = compare_auroc(&labels, &a, &b, cfg)?;
        let row = PerturbationRow {
            perturbation: p,
            name: p.name(),
            auroc: cmp.auroc_a,
            difference: cmp.difference,
            p_value: cmp.p_value,
            n: labels.len(),
        };
        on_row(&row);
        rows.push(row);
    }
    Ok(rows)
}
