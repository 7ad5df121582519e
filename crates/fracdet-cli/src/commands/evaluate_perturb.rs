//! `fracdet evaluate --perturb`: the split scored again under each standard perturbation
//! (`fracdet_io::perturb`), and the AUROC drop against the unperturbed scores with a paired
//! bootstrap CI, as `perturbations.json` and a table on stderr.

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::Device;
use fracdet_detect::Scorer;
use fracdet_eval::compare_auroc;
use fracdet_eval::{BootstrapConfig, Estimate};
use fracdet_io::dataset::Sample;
use fracdet_io::perturb::Perturbation;
use serde::Serialize;

use super::evaluate::{Scored, score};

/// One row of the table.
#[derive(Debug, Serialize)]
pub(super) struct PerturbationRow {
    pub perturbation: Perturbation,
    pub name: String,
    /// AUROC under the perturbation, on the images scored both ways.
    pub auroc: Estimate,
    /// AUROC(perturbed) − AUROC(unperturbed), paired bootstrap CI: negative is a drop.
    pub difference: Estimate,
    pub p_value: Option<f64>,
    pub n: usize,
}

/// Scores `samples` under every [`Perturbation::STANDARD`] and compares each with
/// `baseline` (the unperturbed scores of the same split).
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    scorer: &Scorer,
    device: &Device,
    root: &Path,
    samples: &[Sample],
    baseline: &[Scored],
    batch: usize,
    assess_anyway: bool,
    cfg: &BootstrapConfig,
) -> anyhow::Result<Vec<PerturbationRow>> {
    let base: HashMap<&str, (bool, f32)> = baseline
        .iter()
        .map(|s| (s.name.as_str(), (s.label, s.score)))
        .collect();
    let mut rows = Vec::new();
    for p in Perturbation::STANDARD {
        let perturbed = score(
            scorer,
            device,
            root,
            samples.to_vec(),
            batch,
            assess_anyway,
            Some(p),
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
        eprintln!(
            "  {:<28} AUROC {}  difference {}",
            p.name(),
            show(&cmp.auroc_a),
            show_ci(&cmp.difference)
        );
        rows.push(PerturbationRow {
            perturbation: p,
            name: p.name(),
            auroc: cmp.auroc_a,
            difference: cmp.difference,
            p_value: cmp.p_value,
            n: labels.len(),
        });
    }
    Ok(rows)
}

fn show(e: &Estimate) -> String {
    e.value.map_or("n/a".into(), |v| format!("{v:.3}"))
}

fn show_ci(e: &Estimate) -> String {
    match (e.value, &e.ci) {
        (Some(v), Some(ci)) => format!("{v:+.3} [{:+.3}, {:+.3}]", ci.lower, ci.upper),
        (Some(v), None) => format!("{v:+.3}"),
        _ => "n/a".into(),
    }
}
