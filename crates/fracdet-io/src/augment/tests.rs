use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

const S: u32 = 224;

/// A black canvas with a white square over `b` (whole pixels).
fn square(b: &BBox) -> Vec<f32> {
    let s = S as usize;
    let mut img = vec![0.0; s * s];
    for y in b.y_min as usize..b.y_max as usize {
        for x in b.x_min as usize..b.x_max as usize {
            img[y * s + x] = 1.0;
        }
    }
    img
}

/// Box around the pixels brighter than 0.5.
fn bright_box(img: &[f32]) -> Option<BBox> {
    let s = S as usize;
    BBox::enclosing(
        img.iter()
            .enumerate()
            .filter(|(_, v)| **v > 0.5)
            .flat_map(|(i, _)| {
                let (x, y) = ((i % s) as f32, (i / s) as f32);
                [(x, y), (x + 1.0, y + 1.0)]
            }),
    )
}

fn assert_close(a: &BBox, b: &BBox, tol: f32, what: &str) {
    let d = [
        (a.x_min - b.x_min).abs(),
        (a.y_min - b.y_min).abs(),
        (a.x_max - b.x_max).abs(),
        (a.y_max - b.y_max).abs(),
    ];
    assert!(
        d.iter().all(|v| *v <= tol),
        "{what}: pixels {a:?} vs box {b:?}"
    );
}

#[test]
fn boxes_follow_a_bright_square_under_each_geometric_transform() {
    let b = BBox::new(60.0, 80.0, 100.0, 130.0);
    let img = square(&b);
    let cases = [
        (
            "flip",
            Affine::about_centre(S, true, 0.0, 1.0, 0.0, 0.0),
            0.01,
        ),
        (
            "rotate +10",
            Affine::about_centre(S, false, 10f32.to_radians(), 1.0, 0.0, 0.0),
            1.5,
        ),
        (
            "rotate -10",
            Affine::about_centre(S, false, -10f32.to_radians(), 1.0, 0.0, 0.0),
            1.5,
        ),
        (
            "scale 1.1 + shift",
            Affine::about_centre(S, false, 0.0, 1.1, 7.0, -9.0),
            1.0,
        ),
        (
            "scale 0.9 + shift",
            Affine::about_centre(S, false, 0.0, 0.9, -11.0, 5.0),
            1.0,
        ),
        (
            "all",
            Affine::about_centre(S, true, 8f32.to_radians(), 1.05, 4.0, 6.0),
            1.5,
        ),
    ];
    for (what, t, tol) in cases {
        let out = warp_affine(&img, S, &t);
        let seen = bright_box(&out).expect("square still visible");
        let mapped = t.map_bbox(&b, S as f32, 0.0).expect("box kept");
        assert_close(&seen, &mapped, tol, what);
        // And the transform really moved something (except where it should not).
        assert!(
            seen != b || what == "none",
            "{what} left the square in place"
        );
    }
}

#[test]
fn inverse_undoes_forward() {
    let t = Affine::about_centre(S, true, 0.1, 1.07, 3.0, -2.0);
    let inv = t.inverse().unwrap();
    for &(x, y) in &[(0.0, 0.0), (112.0, 50.0), (223.0, 200.5)] {
        let (u, v) = t.apply(x, y);
        let (bx, by) = inv.apply(u, v);
        assert!((bx - x).abs() < 1e-3 && (by - y).abs() < 1e-3);
    }
    let singular = Affine {
        a: 0.0,
        b: 0.0,
        c: 0.0,
        d: 0.0,
        tx: 0.0,
        ty: 0.0,
    };
    assert!(singular.inverse().is_none());
    assert!(
        warp_affine(&square(&BBox::new(0.0, 0.0, 5.0, 5.0)), S, &singular)
            .iter()
            .all(|v| *v == 0.0)
    );
}

#[test]
fn boxes_pushed_off_the_canvas_are_dropped() {
    let b = BBox::new(0.0, 0.0, 20.0, 20.0);
    let t = Affine::about_centre(S, false, 0.0, 1.0, -15.0, 0.0);
    // 5 of 20 columns remain: 25% visible.
    assert!(t.map_bbox(&b, S as f32, 0.4).is_none());
    assert_eq!(
        t.map_bbox(&b, S as f32, 0.2),
        Some(BBox::new(0.0, 0.0, 5.0, 20.0))
    );
}

#[test]
fn full_augment_is_deterministic_and_moves_boxes_with_pixels() {
    let b = BBox::new(90.0, 60.0, 130.0, 110.0);
    let img = square(&b);
    let content = BBox::new(0.0, 0.0, S as f32, S as f32);
    let cfg = AugmentConfig {
        brightness: 0.0,
        contrast: 0.0,
        gamma_range: (1.0, 1.0),
        min_box_visible: 0.0,
        ..AugmentConfig::default()
    };
    for seed in 0..20 {
        let (a1, b1) = augment(
            &img,
            S,
            content,
            &[b],
            &cfg,
            &mut ChaCha8Rng::seed_from_u64(seed),
        );
        let (a2, b2) = augment(
            &img,
            S,
            content,
            &[b],
            &cfg,
            &mut ChaCha8Rng::seed_from_u64(seed),
        );
        assert_eq!(a1, a2);
        assert_eq!(b1, b2);
        assert_eq!(b1.len(), 1);
        assert_close(
            &bright_box(&a1).unwrap(),
            &b1[0],
            1.5,
            &format!("seed {seed}"),
        );
    }
    let (x, _) = augment(
        &img,
        S,
        content,
        &[b],
        &cfg,
        &mut ChaCha8Rng::seed_from_u64(1),
    );
    let (y, _) = augment(
        &img,
        S,
        content,
        &[b],
        &cfg,
        &mut ChaCha8Rng::seed_from_u64(2),
    );
    assert_ne!(x, y, "different seeds, different augmentations");
}

#[test]
fn photometric_stays_in_range_and_spares_padding() {
    let s = S as usize;
    let img: Vec<f32> = (0..s * s)
        .map(|i| {
            if (i % s) < 20 {
                0.0
            } else {
                (i % 97) as f32 / 96.0
            }
        })
        .collect();
    let content = BBox::new(20.0, 0.0, S as f32, S as f32);
    let mut out = img.clone();
    let p = Photometric {
        brightness: 0.3,
        contrast: 1.5,
        gamma: 0.7,
    };
    apply_photometric(&mut out, S, content, &p);
    assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(
        (0..s).all(|y| out[y * s..y * s + 20].iter().all(|v| *v == 0.0)),
        "padding changed"
    );
    assert!(out[25] > img[25], "brightness had no effect");
    assert_eq!(p.apply_value(0.5), (0.5f32.powf(0.7) - 0.5) * 1.5 + 0.8);
}

#[test]
fn erasing_paints_one_rectangle() {
    let img = vec![0.5; (S * S) as usize];
    let cfg = AugmentConfig {
        hflip_prob: 0.0,
        rotate_deg: 0.0,
        scale_range: (1.0, 1.0),
        translate_frac: 0.0,
        brightness: 0.0,
        contrast: 0.0,
        gamma_range: (1.0, 1.0),
        erasing: Some(ErasingConfig {
            prob: 1.0,
            area_range: (0.05, 0.05),
            aspect_range: (1.0, 1.0),
        }),
        acquisition: None,
        min_box_visible: 0.4,
    };
    let full = BBox::new(0.0, 0.0, S as f32, S as f32);
    let (out, _) = augment(&img, S, full, &[], &cfg, &mut ChaCha8Rng::seed_from_u64(3));
    let changed = out.iter().filter(|v| (**v - 0.5).abs() > 1e-6).count();
    let want = (0.05 * (S * S) as f32).sqrt().round().powi(2) as usize;
    assert_eq!(changed, want);
}
