//! MPR networks (issue #5): shapes, compositing, spectral norm and residual maps.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, TensorData, s};
use fracdet_model::mpr::{
    DiscriminatorConfig, InpainterConfig, phase_mask, residual_maps, sn_conv2d,
};

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn square_mask(n: usize, size: usize, y0: usize, x0: usize, side: usize) -> Tensor<4> {
    let mut m = vec![0.0f32; n * size * size];
    for i in 0..n {
        for y in y0..y0 + side {
            for x in x0..x0 + side {
                m[i * size * size + y * size + x] = 1.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(m, [n, 1, size, size]), &Device::flex())
}

#[test]
fn inpainter_keeps_shape_range_and_unmasked_pixels_bit_exact() {
    let device = Device::flex();
    let g = InpainterConfig::new().init(&device).unwrap();
    let x = Tensor::<4>::random([2, 1, 64, 48], Distribution::Uniform(0.0, 1.0), &device);
    let mask = {
        let m = square_mask(2, 64, 16, 8, 16);
        m.slice([0..2, 0..1, 0..64, 0..48])
    };
    let out = g.forward(x.clone(), mask.clone());
    assert_eq!(out.dims(), [2, 1, 64, 48]);
    let (xs, os, ms) = (to_vec(x), to_vec(out), to_vec(mask));
    let mut changed = 0;
    for ((a, b), m) in xs.iter().zip(&os).zip(&ms) {
        assert!((0.0..=1.0).contains(b), "{b}");
        if *m == 0.0 {
            assert_eq!(a.to_bits(), b.to_bits(), "unmasked pixel changed");
        } else if a != b {
            changed += 1;
        }
    }
    assert!(
        changed > 400,
        "G drew the masked pixels ({changed} of 512 differ)"
    );
}

#[test]
fn inpainter_ignores_what_lies_under_the_mask() {
    let device = Device::flex();
    let g = InpainterConfig::new().init(&device).unwrap();
    let x = Tensor::<4>::random([1, 1, 32, 32], Distribution::Uniform(0.0, 1.0), &device);
    let mask = square_mask(1, 32, 8, 8, 16);
    let scribbled = x.clone() + mask.clone() * 0.7;
    let a = to_vec(g.draw(x, mask.clone()));
    let b = to_vec(g.draw(scribbled, mask));
    assert_eq!(a, b);
}

#[test]
fn discriminator_gives_a_patch_logit_map() {
    let device = Device::flex();
    let d = DiscriminatorConfig::new().init(&device).unwrap();
    let x = Tensor::<4>::random([3, 2, 64, 64], Distribution::Uniform(0.0, 1.0), &device);
    assert_eq!(d.forward(x).dims(), [3, 1, 8, 8]);
    let x = Tensor::<4>::random([1, 2, 128, 128], Distribution::Uniform(0.0, 1.0), &device);
    assert_eq!(d.forward(x).dims(), [1, 1, 16, 16]);
}

#[test]
fn bad_configurations_are_errors_not_panics() {
    let device = Device::flex();
    assert!(InpainterConfig::new().with_width(0).init(&device).is_err());
    assert!(
        InpainterConfig::new()
            .with_dilations(vec![0])
            .init(&device)
            .is_err()
    );
    assert!(
        DiscriminatorConfig::new()
            .with_layers(0)
            .init(&device)
            .is_err()
    );
    let g = InpainterConfig::new().init(&device).unwrap();
    let x = Tensor::<4>::zeros([1, 1, 64, 64], &device);
    assert!(residual_maps(&g, x.clone(), &[]).is_err());
    assert!(residual_maps(&g, x.clone(), &[0]).is_err());
    assert!(residual_maps(&g, x, &[65]).is_err());
    let rgb = Tensor::<4>::zeros([1, 3, 64, 64], &device);
    assert!(residual_maps(&g, rgb, &[16]).is_err());
    let odd = Tensor::<4>::zeros([1, 1, 40, 40], &device);
    assert!(residual_maps(&g, odd, &[16]).is_err());
}

/// Largest singular value of a row-major `rows x cols` matrix, by plain power iteration.
fn largest_singular_value(w: &[f32], rows: usize, cols: usize) -> f64 {
    let mut v = vec![1.0f64; cols];
    let mut sigma = 0.0;
    for _ in 0..500 {
        let u: Vec<f64> = (0..rows)
            .map(|r| (0..cols).map(|c| w[r * cols + c] as f64 * v[c]).sum())
            .collect();
        let nu = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        let vn: Vec<f64> = (0..cols)
            .map(|c| (0..rows).map(|r| w[r * cols + c] as f64 * u[r] / nu).sum())
            .collect();
        sigma = vn.iter().map(|x| x * x).sum::<f64>().sqrt();
        v = vn.iter().map(|x| x / sigma).collect();
    }
    sigma
}

#[test]
fn spectral_norm_brings_the_largest_singular_value_to_one() {
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let mut layer = sn_conv2d(8, 16, 3, 1, 1, &device);
    // Far from 1 whatever the random draw: Xavier init alone gives σ ≈ 1.
    layer.conv.weight = layer.conv.weight.map(|w| w * 4.0);
    let layer = layer.fork(&ad);
    let w = to_vec(layer.weight_matrix());
    let (rows, cols) = (16, 8 * 9);
    let raw = largest_singular_value(&w, rows, cols);
    assert!(
        (raw - 1.0).abs() > 0.1,
        "test needs an unnormalised weight, σ = {raw}"
    );
    // Training forwards advance the power iteration one step each.
    let x = Tensor::<4>::random([1, 8, 8, 8], Distribution::Normal(0.0, 1.0), &ad);
    let mut sigmas = Vec::new();
    for _ in 0..300 {
        let _ = layer.forward(x.clone());
        sigmas.push(to_vec(layer.sigma())[0] as f64);
    }
    let estimate = *sigmas.last().unwrap();
    assert!(
        (estimate - raw).abs() < 2e-3 * raw,
        "power iteration converged: {estimate} vs {raw}"
    );
    let normalised: Vec<f32> = w.iter().map(|x| x / estimate as f32).collect();
    let top = largest_singular_value(&normalised, rows, cols);
    assert!(
        (top - 1.0).abs() < 2e-3,
        "largest singular value of W/σ is {top}"
    );
    // The estimate is state that is saved with the weights and reused for inference.
    let inference = layer.valid();
    let again = to_vec(inference.sigma())[0] as f64;
    assert!(
        (again - estimate).abs() < 1e-5 * estimate,
        "{again} vs {estimate}"
    );
}

#[test]
fn residual_maps_follow_the_phases_and_batch_consistently() {
    let device = Device::flex();
    let g = InpainterConfig::new().init(&device).unwrap();
    let size = 64;
    let x = Tensor::<4>::random([2, 1, size, size], Distribution::Uniform(0.0, 1.0), &device);
    let scales = [16, 32];
    let maps = residual_maps(&g, x.clone(), &scales).unwrap();
    assert_eq!(maps.dims(), [2, 2, size, size]);
    let all = to_vec(maps);
    assert!(all.iter().all(|v| *v >= 0.0 && v.is_finite()));

    // One image at a time gives the same maps as the batch.
    let second = to_vec(residual_maps(&g, x.clone().slice(s![1..2]), &scales).unwrap());
    let plane = scales.len() * size * size;
    let worst = second
        .iter()
        .zip(&all[plane..])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "batched and single maps differ by {worst}");

    // A pixel's value is |x - G(x)| from the pass whose mask covers it.
    let phase = 4;
    let m = phase_mask(size, 32, phase);
    let mt = Tensor::<4>::from_data(TensorData::new(m.clone(), [1, 1, size, size]), &device);
    let x0 = x.slice(s![0..1]);
    let direct = to_vec((x0.clone() - g.forward(x0.clone(), mt)).abs());
    let scale32 = &all[size * size..2 * size * size];
    for i in 0..size * size {
        if m[i] > 0.5 {
            assert!((direct[i] - scale32[i]).abs() < 1e-5, "pixel {i}");
        }
    }
}
