//! The subgroups a report breaks its metrics down by: body part, hardware and view, from
//! the dataset's own records of each image.

use fracdet_eval::{BootstrapConfig, SubgroupAnalysis, subgroup_analysis};
use fracdet_io::dataset::View;

use super::scoring::ScoredImage;
use crate::error::Result;

/// (attribute, one group name per image) for each attribute the dataset records for some
/// image; images it does not record it for are in group "unknown".
pub fn subgroup_keys(scored: &[ScoredImage]) -> Vec<(&'static str, Vec<String>)> {
    let body: Vec<Option<String>> = scored
        .iter()
        .map(|s| s.sample.meta.body_part.clone())
        .collect();
    let hardware: Vec<Option<String>> = scored
        .iter()
        .map(|s| {
            s.sample.meta.hardware.map(|h| {
                if h {
                    "hardware".into()
                } else {
                    "no hardware".into()
                }
            })
        })
        .collect();
    let view: Vec<Option<String>> = scored
        .iter()
        .map(|s| match s.sample.meta.views.as_slice() {
            [] => None,
            [one] => Some(
                match one {
                    View::Frontal => "frontal",
                    View::Lateral => "lateral",
                    View::Oblique => "oblique",
                }
                .to_string(),
            ),
            _ => Some("several views".to_string()),
        })
        .collect();
    [("body_part", body), ("hardware", hardware), ("view", view)]
        .into_iter()
        .filter(|(_, keys)| keys.iter().any(Option::is_some))
        .map(|(name, keys)| {
            let keys = keys
                .into_iter()
                .map(|k| k.unwrap_or_else(|| "unknown".into()))
                .collect();
            (name, keys)
        })
        .collect()
}

/// The metrics of every subgroup of [`subgroup_keys`], decisions at `threshold` (on the
/// score).
pub fn subgroups(
    scored: &[ScoredImage],
    threshold: f64,
    cfg: &BootstrapConfig,
) -> Result<Vec<SubgroupAnalysis>> {
    let labels: Vec<bool> = scored.iter().map(|s| s.label).collect();
    let scores: Vec<f32> = scored.iter().map(|s| s.score).collect();
    subgroup_keys(scored)
        .into_iter()
        .map(|(name, keys)| {
            Ok(subgroup_analysis(
                name, &labels, &scores, &keys, threshold, cfg,
            )?)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::testing::image;

    #[test]
    fn only_recorded_attributes_form_subgroups() {
        let mut a = image("a.png", true, 0.9);
        a.sample.meta.hardware = Some(true);
        a.sample.meta.views = vec![View::Frontal, View::Lateral];
        let mut b = image("b.png", false, 0.2);
        b.sample.meta.hardware = Some(false);
        b.sample.meta.views = vec![View::Oblique];
        let c = image("c.png", false, 0.1);
        let keys = subgroup_keys(&[a, b, c]);
        // No image records a body part: no body-part rows, rather than one "unknown" row.
        assert_eq!(
            keys,
            vec![
                (
                    "hardware",
                    vec!["hardware".into(), "no hardware".into(), "unknown".into()]
                ),
                (
                    "view",
                    vec!["several views".into(), "oblique".into(), "unknown".into()]
                ),
            ]
        );
        assert!(subgroup_keys(&[image("d.png", true, 0.5)]).is_empty());
    }
}
