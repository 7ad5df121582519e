//! The grid detector's loss: weighted BCE over cells plus λ times weighted BCE of the
//! image logit (the noisy-OR or max of the cells).
//!
//! The cell term is the mean over the cells of images that have cell targets (fractured
//! images without boxes are left out of it and train through the image term only); its
//! positive weight is negative / positive cells over the training set, so positive and
//! negative cells weigh the same in total.

use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Tensor, TensorData};

use crate::loss::weighted_bce_with_logits;
use crate::mpr::targets::ImageTargets;

/// Weights of the loss, fixed for a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossWeights {
    /// Positive weight of the cell term.
    pub cell_pos_weight: f32,
    /// Positive weight of the image term.
    pub image_pos_weight: f32,
    /// λ: the image term's weight in the total.
    pub image_weight: f32,
}

/// The loss of one batch, each a `[1]` tensor in the same graph.
pub struct MprLoss {
    /// `cell + λ · image`.
    pub total: Tensor<1>,
    pub cell: Tensor<1>,
    pub image: Tensor<1>,
}

/// Loss of a batch: `cells` `[N, gh, gw]` cell logits, `image` `[N]` image logits, and the
/// images' targets (cell targets, when present, must have `gh * gw` values). Returns `None`
/// when the shapes disagree.
pub fn mpr_loss(
    cells: Tensor<3>,
    image: Tensor<1>,
    targets: &[ImageTargets],
    weights: &LossWeights,
) -> Option<MprLoss> {
    let [n, gh, gw] = cells.dims();
    let g = gh * gw;
    if targets.len() != n || image.dims() != [n] {
        return None;
    }
    let device = cells.device();
    let labels: Vec<f32> = targets
        .iter()
        .map(|t| if t.label { 1.0 } else { 0.0 })
        .collect();
    let labels = Tensor::<1>::from_data(TensorData::new(labels, [n]), &device);
    let image_term = weighted_bce_with_logits(image, labels, weights.image_pos_weight);

    let mut y = Vec::with_capacity(n * g);
    let mut mask = Vec::with_capacity(n);
    for t in targets {
        match &t.cells {
            Some(c) if c.len() == g => {
                y.extend_from_slice(c);
                mask.push(1.0f32);
            }
            Some(_) => return None,
            None => {
                y.extend(std::iter::repeat_n(0.0f32, g));
                mask.push(0.0);
            }
        }
    }
    let valid = mask.iter().filter(|&&m| m > 0.0).count();
    let cell_term = if valid == 0 {
        Tensor::<1>::zeros([1], &device)
    } else {
        let z: Tensor<2> = cells.reshape([n, g]);
        let y = Tensor::<2>::from_data(TensorData::new(y, [n, g]), &device);
        let m = Tensor::<2>::from_data(TensorData::new(mask, [n, 1]), &device);
        cell_bce_sum(z, y, m, weights.cell_pos_weight).div_scalar((valid * g) as f32)
    };
    let total = cell_term.clone() + image_term.clone().mul_scalar(weights.image_weight);
    Some(MprLoss {
        total,
        cell: cell_term,
        image: image_term,
    })
}

/// `Σ m · -(w·y·log σ(z) + (1 - y)·log σ(-z))` over all cells, as a `[1]` tensor.
fn cell_bce_sum(z: Tensor<2>, y: Tensor<2>, mask: Tensor<2>, pos_weight: f32) -> Tensor<1> {
    let log_p = log_sigmoid(z.clone());
    let log_not_p = log_sigmoid(z.neg());
    let not_y = y.clone().neg().add_scalar(1.0);
    let per_cell = y.mul(log_p).mul_scalar(pos_weight) + not_y.mul(log_not_p);
    per_cell.mul(mask).sum().neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn bce(z: f64, y: f64, w: f64) -> f64 {
        let p = 1.0 / (1.0 + (-z).exp());
        -(w * y * p.ln() + (1.0 - y) * (1.0 - p).ln())
    }

    #[test]
    fn matches_hand_computed_values() {
        let device = Device::flex();
        // Two images, 1x2 cells each: image 0 fractured with targets [1, 0]; image 1
        // fractured without boxes (image term only).
        let z = [2.0f32, -1.0, 0.5, 3.0];
        let cells = Tensor::<3>::from_data(TensorData::new(z.to_vec(), [2, 1, 2]), &device);
        let image = Tensor::<1>::from_floats([1.5f32, -0.5], &device);
        let targets = vec![
            ImageTargets {
                label: true,
                cells: Some(vec![1.0, 0.0]),
            },
            ImageTargets {
                label: true,
                cells: None,
            },
        ];
        let w = LossWeights {
            cell_pos_weight: 4.0,
            image_pos_weight: 2.0,
            image_weight: 0.5,
        };
        let loss = mpr_loss(cells, image, &targets, &w).unwrap();
        let cell: f32 = loss.cell.into_scalar();
        let img: f32 = loss.image.into_scalar();
        let total: f32 = loss.total.into_scalar();
        // Cell term: mean over image 0's two cells only.
        let want_cell = (bce(2.0, 1.0, 4.0) + bce(-1.0, 0.0, 4.0)) / 2.0;
        let want_img = (bce(1.5, 1.0, 2.0) + bce(-0.5, 1.0, 2.0)) / 2.0;
        assert!(
            (cell as f64 - want_cell).abs() < 1e-5,
            "{cell} vs {want_cell}"
        );
        assert!((img as f64 - want_img).abs() < 1e-5, "{img} vs {want_img}");
        assert!((total as f64 - (want_cell + 0.5 * want_img)).abs() < 1e-5);
        // Concretely: 4·log(1+e^-2) = 0.50771, log(1+e^-1) = 0.31326 -> 0.41049.
        assert!((cell - 0.410_49).abs() < 1e-4, "{cell}");
    }

    #[test]
    fn no_cell_targets_and_bad_shapes() {
        let device = Device::flex();
        let cells = Tensor::<3>::zeros([1, 2, 2], &device);
        let image = Tensor::<1>::zeros([1], &device);
        let unknown = vec![ImageTargets {
            label: true,
            cells: None,
        }];
        let w = LossWeights {
            cell_pos_weight: 1.0,
            image_pos_weight: 1.0,
            image_weight: 1.0,
        };
        let l = mpr_loss(cells.clone(), image.clone(), &unknown, &w).unwrap();
        let cell: f32 = l.cell.into_scalar();
        assert_eq!(cell, 0.0);
        let ln2 = std::f32::consts::LN_2;
        let total: f32 = l.total.into_scalar();
        assert!((total - ln2).abs() < 1e-6);
        let wrong = vec![ImageTargets {
            label: false,
            cells: Some(vec![0.0; 3]),
        }];
        assert!(mpr_loss(cells, image, &wrong, &w).is_none());
    }
}
