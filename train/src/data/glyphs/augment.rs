//! Geometric and stroke jitter of glyph images (DATASETS.md §3.1).
//!
//! One similarity transform about the image centre `c = (15.5, 15.5)`:
//! `q = s R(θ) (p − c) + c + t` with `θ ~ U(±8°)`, `s ~ U(0.9, 1.1)`, `t ~ U(±2 px)` per axis,
//! bilinear, zero fill. Training draws add a stroke-thickness change (3×3 grey dilation or
//! erosion, p = 0.3 each) and Gaussian noise (σ = 0.05 of the range) at every draw; each test
//! image gets one fixed geometric jitter, drawn once from the seed and rounded to u8.

use super::raster::CANVAS;
use crate::data::align::{warp, Similarity};
use crate::data::rng::Rng;

/// A random similarity of the jitter family.
pub fn draw_similarity(rng: &mut Rng) -> Similarity {
    let theta = rng.symmetric(8.0) * std::f64::consts::PI / 180.0;
    let s = rng.range(0.9, 1.1);
    let t = (rng.symmetric(2.0), rng.symmetric(2.0));
    let (a, b) = (s * libm::cos(theta), s * libm::sin(theta));
    let c = (CANVAS as f64 - 1.0) / 2.0;
    // q = [[a, −b], [b, a]] (p − c) + c + t
    Similarity {
        a,
        b,
        t: (c + t.0 - (a * c - b * c), c + t.1 - (b * c + a * c)),
    }
}

/// `img` (32×32) moved by a random similarity of the family, rounded to u8.
pub fn jitter(img: &[u8], rng: &mut Rng) -> Vec<u8> {
    let sim = draw_similarity(rng);
    // The transform is never degenerate (scale ≥ 0.9), so warp cannot fail.
    warp(img, 1, CANVAS, CANVAS, &sim, CANVAS, CANVAS).unwrap_or_else(|_| img.to_vec())
}

/// 3×3 grey dilation (`max`, thicker strokes) or erosion (`min`, thinner).
pub fn morph(img: &[u8], dilate: bool) -> Vec<u8> {
    let n = CANVAS as isize;
    let mut out = vec![0u8; img.len()];
    for y in 0..n {
        for x in 0..n {
            let mut v = if dilate { 0 } else { 255 };
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (xx, yy) = (x + dx, y + dy);
                    // Outside the image is black (zero), as the canvas.
                    let p = if xx < 0 || yy < 0 || xx >= n || yy >= n {
                        0
                    } else {
                        img[(yy * n + xx) as usize]
                    };
                    v = if dilate { v.max(p) } else { v.min(p) };
                }
            }
            out[(y * n + x) as usize] = v;
        }
    }
    out
}

/// One training draw of `img`: jitter, stroke change, then `(v − mean) / std` plus noise.
pub fn augment(img: &[u8], rng: &mut Rng, mean: f32, std: f32) -> Vec<f32> {
    let moved = jitter(img, rng);
    let u = rng.unit();
    let stroked = if u < 0.3 {
        morph(&moved, true)
    } else if u < 0.6 {
        morph(&moved, false)
    } else {
        moved
    };
    let sigma = 0.05 * 255.0;
    stroked
        .iter()
        .map(|&v| (v as f32 + (sigma * rng.normal()) as f32 - mean) / std)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn morphology_by_hand() {
        let mut img = vec![0u8; CANVAS * CANVAS];
        img[5 * CANVAS + 5] = 200;
        let d = morph(&img, true);
        assert_eq!(d.iter().filter(|&&v| v == 200).count(), 9);
        assert!(morph(&img, false).iter().all(|&v| v == 0));
    }

    #[test]
    fn jitter_keeps_the_centre_near_the_centre() {
        let mut rng = Rng::new(3);
        for _ in 0..20 {
            let sim = draw_similarity(&mut rng);
            let c = sim.apply((15.5, 15.5));
            assert!(
                (c.0 - 15.5).abs() <= 2.0 && (c.1 - 15.5).abs() <= 2.0,
                "{c:?}"
            );
            let scale = (sim.a * sim.a + sim.b * sim.b).sqrt();
            assert!((0.9..1.1).contains(&scale));
        }
    }
}
