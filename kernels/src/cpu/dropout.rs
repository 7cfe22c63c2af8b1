//! Inverted dropout (Srivastava et al. 2014) with a seeded, reproducible mask.
//!
//! Shape legend: x, y, mask, dy, dx all have the same n elements.
//!
//! Element i is kept when u_i >= p, u_i uniform in [0, 1), and a kept element is scaled by
//! 1/(1 - p) so E[y] = x; mask_i = 1/(1 - p) or 0, y = x·mask, dx = dy·mask.
//!
//! The random numbers are SplitMix64 (Steele, Lea & Flood 2014): state_i = seed + (i+1)·γ,
//! γ = 0x9E3779B97F4A7C15, u_i = top 53 bits of mix(state_i) / 2^53, where
//!   z = state; z = (z ^ (z >> 30))·0xBF58476D1CE4E5B9; z = (z ^ (z >> 27))·0x94D049BB133111EB;
//!   mix = z ^ (z >> 31).
//! This is exactly the sequential generator (x += γ; return mix(x)) started at `seed`, but
//! element i can be computed on its own, so the parallel mask equals the sequential one bit for
//! bit whatever the thread count.

use crate::Float;
use rayon::prelude::*;

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output mixer.
#[inline(always)]
pub fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// u_i in [0, 1) for element i of the stream seeded with `seed`.
#[inline(always)]
fn uniform_at(seed: u64, i: usize) -> f64 {
    let state = seed.wrapping_add((i as u64).wrapping_add(1).wrapping_mul(GOLDEN_GAMMA));
    (splitmix64_mix(state) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn keep_scale(p: f64) -> f64 {
    assert!(
        (0.0..=1.0).contains(&p),
        "dropout: p = {p} must be in [0, 1]"
    );
    if p < 1.0 {
        1.0 / (1.0 - p)
    } else {
        0.0
    }
}

/// Fills `mask` with 1/(1-p) (kept) or 0 (dropped) from the stream `seed` (element i of the
/// mask uses element i of the stream, so a mask's prefix does not depend on its length).
pub fn dropout_mask<T: Float>(seed: u64, p: f64, mask: &mut [T]) {
    let scale = T::from_f64(keep_scale(p));
    const CHUNK: usize = 1 << 14;
    mask.par_chunks_mut(CHUNK).enumerate().for_each(|(c, m)| {
        for (j, v) in m.iter_mut().enumerate() {
            *v = if uniform_at(seed, c * CHUNK + j) >= p {
                scale
            } else {
                T::ZERO
            };
        }
    });
}

/// y = x·mask with a fresh mask from `seed`, which is also returned in `mask` for the backward.
pub fn dropout_forward<T: Float>(x: &[T], p: f64, seed: u64, y: &mut [T], mask: &mut [T]) {
    assert!(
        x.len() == y.len() && x.len() == mask.len(),
        "dropout_forward: buffer lengths"
    );
    dropout_mask(seed, p, mask);
    y.par_iter_mut()
        .zip(x.par_iter().zip(mask.par_iter()))
        .with_min_len(4096)
        .for_each(|(yv, (&xv, &m))| {
            *yv = xv * m;
        });
}

/// dx = dy·mask.
pub fn dropout_backward<T: Float>(dy: &[T], mask: &[T], dx: &mut [T]) {
    assert!(
        dy.len() == dx.len() && dy.len() == mask.len(),
        "dropout_backward: buffer lengths"
    );
    dx.par_iter_mut()
        .zip(dy.par_iter().zip(mask.par_iter()))
        .with_min_len(4096)
        .for_each(|(d, (&g, &m))| {
            *d = g * m;
        });
}

/// Reference: the sequential SplitMix64 generator, one draw per element in order.
pub fn dropout_forward_ref<T: Float>(x: &[T], p: f64, seed: u64, y: &mut [T], mask: &mut [T]) {
    let scale = T::from_f64(keep_scale(p));
    let mut state = seed;
    for ((yv, &xv), m) in y.iter_mut().zip(x).zip(mask.iter_mut()) {
        state = state.wrapping_add(GOLDEN_GAMMA);
        let u = (splitmix64_mix(state) >> 11) as f64 / (1u64 << 53) as f64;
        *m = if u >= p { scale } else { T::ZERO };
        *yv = xv * *m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::testutil::pool;

    #[test]
    fn parallel_mask_equals_sequential_stream() {
        for (n, p, seed) in [
            (1usize, 0.5, 0u64),
            (7, 0.1, 1),
            (33, 0.9, 42),
            (100_003, 0.25, 7),
        ] {
            let x: Vec<f32> = (0..n).map(|i| i as f32 - 3.0).collect();
            let (mut y, mut m) = (vec![0.0; n], vec![0.0; n]);
            let (mut y_r, mut m_r) = (vec![0.0; n], vec![0.0; n]);
            pool(3).install(|| dropout_forward(&x, p, seed, &mut y, &mut m));
            dropout_forward_ref(&x, p, seed, &mut y_r, &mut m_r);
            assert_eq!(m, m_r, "mask n={n}");
            assert_eq!(y, y_r, "y n={n}");
            let mut dx = vec![0.0; n];
            dropout_backward(&x, &m, &mut dx);
            assert_eq!(dx, y, "backward is the same masking");
        }
    }

    #[test]
    fn keep_rate_and_scale() {
        let n = 200_000;
        let mut m = vec![0.0f64; n];
        dropout_mask(123, 0.3, &mut m);
        let kept = m.iter().filter(|&&v| v > 0.0).count() as f64 / n as f64;
        // Binomial std at n = 2e5 is 0.001: 5 sigma.
        assert!((kept - 0.7).abs() < 0.005, "kept fraction {kept}");
        assert!(m.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-15));
        // Mean of the mask is ~1 (inverted dropout keeps the expectation).
        let mean = m.iter().sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.01, "mask mean {mean}");
    }

    #[test]
    fn extremes_and_known_first_draw() {
        let mut m = [9.0f32; 5];
        dropout_mask(5, 0.0, &mut m);
        assert_eq!(m, [1.0; 5]);
        dropout_mask(5, 1.0, &mut m);
        assert_eq!(m, [0.0; 5]);
        // First SplitMix64 output for seed 0 (the published test value).
        assert_eq!(splitmix64_mix(GOLDEN_GAMMA), 0xE220_A839_7B1D_CDAF);
    }
}
