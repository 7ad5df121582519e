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
use fracdet_io::BBox;
use fracdet_run::mpr::BoxWeighting;
use fracdet_run::mpr::boxes::{BoxGrid, MAX_LOG_DISTANCE};

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

/// The box term: `1 − GIoU` between the boxes decoded from `boxes` (`[N, 4, gh, gw]`
/// raw log-distances, [`BoxGrid::decode`]) and each regressing cell's target box; `side` is
/// the canvas side the targets are in. [`BoxWeighting::PerCell`] averages over the batch's
/// regressing cells, [`BoxWeighting::PerBox`] first within each box, then over boxes. Zero
/// when no cell regresses; `None` when the shapes disagree. GIoU (Rezatofighi et al. 2019)
/// is scale-free per cell and, unlike an L1 on distances, measures the overlap the box
/// metrics score; but a large box has more cells, hence the per-box weighting.
pub fn box_loss(
    boxes: Tensor<4>,
    targets: &[ImageTargets],
    side: u32,
    weighting: BoxWeighting,
) -> Option<Tensor<1>> {
    let [n, four, gh, gw] = boxes.dims();
    let g = gh * gw;
    if four != 4 || targets.len() != n {
        return None;
    }
    let device = boxes.device();
    let grid = BoxGrid {
        grid_w: gw,
        grid_h: gh,
        side,
    };
    let count: usize = targets.iter().map(|t| t.regress.len()).sum();
    if count == 0 {
        return Some(Tensor::<1>::zeros([1], &device));
    }
    // Dense per-cell arrays: centres, targets (a dummy unit box where no target, masked).
    let mut centre = [vec![0.0f32; n * g], vec![0.0f32; n * g]];
    let mut target: [Vec<f32>; 4] = std::array::from_fn(|_| vec![0.0f32; n * g]);
    let mut mask = vec![0.0f32; n * g];
    for (k, t) in targets.iter().enumerate() {
        for cell in 0..g {
            let (cx, cy) = grid.centre(cell);
            let j = k * g + cell;
            centre[0][j] = cx;
            centre[1][j] = cy;
            target[0][j] = cx - 1.0;
            target[1][j] = cy - 1.0;
            target[2][j] = cx + 1.0;
            target[3][j] = cy + 1.0;
        }
        let weights = cell_weights(&t.regress, weighting);
        for ((cell, b), w) in t.regress.iter().zip(weights) {
            if *cell >= g {
                return None;
            }
            let j = k * g + cell;
            [target[0][j], target[1][j], target[2][j], target[3][j]] =
                [b.x_min, b.y_min, b.x_max, b.y_max];
            mask[j] = w;
        }
    }
    let total_weight: f32 = mask.iter().sum();
    let dense = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [n, g]), &device);
    let [cx, cy] = centre.map(dense);
    let [tx0, ty0, tx1, ty1] = target.map(dense);
    let mask = dense(mask);
    let (cw, ch) = grid.cell();
    let raw: Tensor<3> = boxes.reshape([n, 4, g]);
    let dist = |c: usize, scale: f32| -> Tensor<2> {
        raw.clone()
            .slice([0..n, c..c + 1, 0..g])
            .reshape([n, g])
            .clamp(-MAX_LOG_DISTANCE, MAX_LOG_DISTANCE)
            .exp()
            .mul_scalar(scale)
    };
    let px0 = cx.clone() - dist(0, cw);
    let py0 = cy.clone() - dist(1, ch);
    let px1 = cx + dist(2, cw);
    let py1 = cy + dist(3, ch);
    let area_p = (px1.clone() - px0.clone()) * (py1.clone() - py0.clone());
    let area_t = (tx1.clone() - tx0.clone()) * (ty1.clone() - ty0.clone());
    let iw = (px1.clone().min_pair(tx1.clone()) - px0.clone().max_pair(tx0.clone())).clamp_min(0.0);
    let ih = (py1.clone().min_pair(ty1.clone()) - py0.clone().max_pair(ty0.clone())).clamp_min(0.0);
    let inter = iw * ih;
    let union = (area_p + area_t - inter.clone()).clamp_min(1e-6);
    let ew = px1.max_pair(tx1) - px0.min_pair(tx0);
    let eh = py1.max_pair(ty1) - py0.min_pair(ty0);
    let enclosing = (ew * eh).clamp_min(1e-6);
    let giou = inter / union.clone() - (enclosing.clone() - union) / enclosing;
    let per_cell = giou.neg().add_scalar(1.0) * mask;
    Some(
        per_cell
            .sum()
            .div_scalar(total_weight.max(f32::MIN_POSITIVE)),
    )
}

/// Each regressing cell's weight in the box term, in `regress` order: 1, or (per box) one
/// over the number of cells regressing the same box, so that each box's weights sum to 1.
fn cell_weights(regress: &[(usize, BBox)], weighting: BoxWeighting) -> Vec<f32> {
    match weighting {
        BoxWeighting::PerCell => vec![1.0; regress.len()],
        BoxWeighting::PerBox => regress
            .iter()
            .map(|(_, b)| 1.0 / regress.iter().filter(|(_, o)| o == b).count() as f32)
            .collect(),
    }
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
                regress: vec![],
            },
            ImageTargets {
                label: true,
                cells: None,
                regress: vec![],
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
            regress: vec![],
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
            regress: vec![],
        }];
        assert!(mpr_loss(cells, image, &wrong, &w).is_none());
    }

    #[test]
    fn box_loss_is_zero_on_the_target_and_grows_with_misfit() {
        let device = Device::flex();
        // One image, 2x2 cells on a 32 px canvas; cell 0 (centre 8, 8) regresses a box.
        let target = BBox::new(2.0, 4.0, 14.0, 12.0);
        let grid = BoxGrid {
            grid_w: 2,
            grid_h: 2,
            side: 32,
        };
        let raw = grid.encode(0, &target).unwrap();
        let t = vec![ImageTargets {
            label: true,
            cells: Some(vec![1.0, 0.0, 0.0, 0.0]),
            regress: vec![(0, target)],
        }];
        let head = |raw: [f32; 4]| {
            let mut v = vec![0.0f32; 16];
            for (c, x) in raw.iter().enumerate() {
                v[c * 4] = *x;
            }
            Tensor::<4>::from_data(TensorData::new(v, [1, 4, 2, 2]), &device)
        };
        let exact: f32 = box_loss(head(raw), &t, 32, BoxWeighting::PerCell)
            .unwrap()
            .into_scalar();
        assert!(exact.abs() < 1e-5, "{exact}");
        // Predicting one cell (16 px) on each side, (-8, -8, 24, 24), holds the target:
        // IoU 96/1024, enclosing = union, so the loss is 1 - 0.09375.
        let off: f32 = box_loss(head([0.0; 4]), &t, 32, BoxWeighting::PerCell)
            .unwrap()
            .into_scalar();
        assert!((off - 0.906_25).abs() < 1e-5, "{off}");
        // Other cells' outputs do not matter; no regressing cell gives zero; bad shapes None.
        let none = vec![ImageTargets {
            label: false,
            cells: Some(vec![0.0; 4]),
            regress: vec![],
        }];
        let zero: f32 = box_loss(head([3.0; 4]), &none, 32, BoxWeighting::PerBox)
            .unwrap()
            .into_scalar();
        assert_eq!(zero, 0.0);
        assert!(
            box_loss(
                Tensor::<4>::zeros([1, 3, 2, 2], &device),
                &t,
                32,
                BoxWeighting::PerCell
            )
            .is_none()
        );
    }

    #[test]
    fn per_box_weighting_counts_each_box_once_whatever_its_cells() {
        let device = Device::flex();
        // 2x2 cells on 32 px. A large box regressed by cells 0, 1, 2 (each predicting it
        // exactly: loss 0) and a small one by cell 3 (predicting a unit box: loss > 0).
        let grid = BoxGrid {
            grid_w: 2,
            grid_h: 2,
            side: 32,
        };
        let large = BBox::new(1.0, 1.0, 31.0, 31.0);
        let small = BBox::new(18.0, 18.0, 30.0, 28.0);
        let mut v = vec![0.0f32; 16];
        for cell in 0..3 {
            for (c, x) in grid.encode(cell, &large).unwrap().iter().enumerate() {
                v[c * 4 + cell] = *x;
            }
        }
        let head = || Tensor::<4>::from_data(TensorData::new(v.clone(), [1, 4, 2, 2]), &device);
        let t = vec![ImageTargets {
            label: true,
            cells: Some(vec![1.0; 4]),
            regress: vec![(0, large), (1, large), (2, large), (3, small)],
        }];
        let alone = vec![ImageTargets {
            label: true,
            cells: Some(vec![0.0, 0.0, 0.0, 1.0]),
            regress: vec![(3, small)],
        }];
        let miss: f32 = box_loss(head(), &alone, 32, BoxWeighting::PerCell)
            .unwrap()
            .into_scalar();
        assert!(miss > 0.1, "{miss}");
        let per_cell: f32 = box_loss(head(), &t, 32, BoxWeighting::PerCell)
            .unwrap()
            .into_scalar();
        let per_box: f32 = box_loss(head(), &t, 32, BoxWeighting::PerBox)
            .unwrap()
            .into_scalar();
        assert!((per_cell - miss / 4.0).abs() < 1e-5, "{per_cell} vs {miss}");
        assert!((per_box - miss / 2.0).abs() < 1e-5, "{per_box} vs {miss}");
    }
}
