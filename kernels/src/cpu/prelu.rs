//! PReLU (He et al. 2015) with a learnable slope per channel.
//!
//! Shape legend: x, y, dy, dx are [N, C, S] (S = H·W, or 1 after a linear layer); slope and
//! dslope are [C], or [1] for one slope shared by all channels (PyTorch's default
//! `num_parameters = 1`).
//!
//! y = x for x > 0, slope_c·x otherwise.
//! dx = dy for x > 0, slope_c·dy otherwise (at x = 0 the slope side, as PyTorch).
//! dslope_c = Σ_{x <= 0} dy·x over the channel's N·S values.
//!
//! The entry points run over [S]-planes in parallel; the `*_ref` loops are the oracle.

use crate::Float;
use rayon::prelude::*;

fn check<T>(n: usize, c: usize, s: usize, slope: &[T], bufs: &[usize], what: &str) {
    assert!(
        slope.len() == c || slope.len() == 1,
        "{what}: slope has {} values for {c} channels",
        slope.len()
    );
    assert!(
        bufs.iter().all(|&l| l == n * c * s),
        "{what}: buffer lengths do not match [{n}, {c}, {s}]"
    );
}

#[inline(always)]
fn slope_of<T: Float>(slope: &[T], plane: usize, c: usize) -> T {
    if slope.len() == 1 {
        slope[0]
    } else {
        slope[plane % c]
    }
}

/// y = prelu(x).
pub fn prelu_forward<T: Float>(x: &[T], n: usize, c: usize, s: usize, slope: &[T], y: &mut [T]) {
    check(n, c, s, slope, &[x.len(), y.len()], "prelu_forward");
    if s == 0 {
        return;
    }
    y.par_chunks_mut(s)
        .zip(x.par_chunks(s))
        .enumerate()
        .for_each(|(i, (yp, xp))| {
            let a = slope_of(slope, i, c);
            for (yv, &xv) in yp.iter_mut().zip(xp) {
                *yv = if xv > T::ZERO { xv } else { a * xv };
            }
        });
}

/// dx and dslope (both overwritten).
#[allow(clippy::too_many_arguments)]
pub fn prelu_backward<T: Float>(
    x: &[T],
    n: usize,
    c: usize,
    s: usize,
    slope: &[T],
    dy: &[T],
    dx: &mut [T],
    dslope: &mut [T],
) {
    check(
        n,
        c,
        s,
        slope,
        &[x.len(), dy.len(), dx.len()],
        "prelu_backward",
    );
    assert_eq!(dslope.len(), slope.len(), "prelu_backward: dslope length");
    dslope.fill(T::ZERO);
    if s == 0 {
        return;
    }
    // dx plane by plane in parallel; each plane also returns its Σ dy·x over x <= 0.
    let partial: Vec<T> = dx
        .par_chunks_mut(s)
        .enumerate()
        .map(|(i, dxp)| {
            let a = slope_of(slope, i, c);
            let (xp, gp) = (&x[i * s..][..s], &dy[i * s..][..s]);
            let mut acc = [T::ZERO; 8];
            for (j, ((d, &xv), &g)) in dxp.iter_mut().zip(xp).zip(gp).enumerate() {
                if xv > T::ZERO {
                    *d = g;
                } else {
                    *d = a * g;
                    acc[j % 8] += g * xv;
                }
            }
            crate::cpu::reduce::sum_slice(&acc)
        })
        .collect();
    for (i, v) in partial.into_iter().enumerate() {
        let ch = if slope.len() == 1 { 0 } else { i % c };
        dslope[ch] += v;
    }
}

/// Reference forward.
pub fn prelu_forward_ref<T: Float>(
    x: &[T],
    n: usize,
    c: usize,
    s: usize,
    slope: &[T],
    y: &mut [T],
) {
    check(n, c, s, slope, &[x.len(), y.len()], "prelu_forward");
    for (i, (yv, &xv)) in y.iter_mut().zip(x).enumerate() {
        let a = slope_of(slope, i / s.max(1), c);
        *yv = if xv > T::ZERO { xv } else { a * xv };
    }
}

/// Reference backward.
#[allow(clippy::too_many_arguments)]
pub fn prelu_backward_ref<T: Float>(
    x: &[T],
    n: usize,
    c: usize,
    s: usize,
    slope: &[T],
    dy: &[T],
    dx: &mut [T],
    dslope: &mut [T],
) {
    check(
        n,
        c,
        s,
        slope,
        &[x.len(), dy.len(), dx.len()],
        "prelu_backward",
    );
    dslope.fill(T::ZERO);
    for i in 0..x.len() {
        let plane = i / s.max(1);
        let a = slope_of(slope, plane, c);
        if x[i] > T::ZERO {
            dx[i] = dy[i];
        } else {
            dx[i] = a * dy[i];
            dslope[if slope.len() == 1 { 0 } else { plane % c }] += dy[i] * x[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::testutil::{pool, Report, Rng};

    #[test]
    fn prelu_matches_reference() {
        let mut rng = Rng(17);
        let mut rep = Report::new("prelu f32 fwd/bwd", 1e-5);
        for (n, c, s) in [(1, 1, 1), (2, 7, 33), (3, 5, 1031), (33, 3, 1)] {
            for shared in [false, true] {
                let mut x: Vec<f32> = rng.vec(n * c * s);
                x[0] = 0.0; // the kink: takes the slope side
                let dy: Vec<f32> = rng.vec(n * c * s);
                let slope: Vec<f32> = rng.vec(if shared { 1 } else { c });
                let case = format!("[{n}, {c}, {s}] shared {shared}");
                let (mut y, mut y_r) = (vec![0.0; x.len()], vec![0.0; x.len()]);
                let (mut dx, mut dx_r) = (vec![0.0; x.len()], vec![0.0; x.len()]);
                let (mut da, mut da_r) = (vec![0.0; slope.len()], vec![0.0; slope.len()]);
                pool(2).install(|| {
                    prelu_forward(&x, n, c, s, &slope, &mut y);
                    prelu_backward(&x, n, c, s, &slope, &dy, &mut dx, &mut da);
                });
                prelu_forward_ref(&x, n, c, s, &slope, &mut y_r);
                prelu_backward_ref(&x, n, c, s, &slope, &dy, &mut dx_r, &mut da_r);
                rep.compare(&case, &[y, dx, da].concat(), &[y_r, dx_r, da_r].concat());
            }
        }
        rep.finish();
    }

    #[test]
    fn prelu_known_values() {
        let (mut y, mut dx, mut da) = ([0.0f64; 4], [0.0; 4], [0.0; 2]);
        // [N=1, C=2, S=2], slopes 0.1 and 0.5.
        let x = [2.0, -1.0, 0.0, -4.0];
        prelu_forward(&x, 1, 2, 2, &[0.1, 0.5], &mut y);
        assert_eq!(y, [2.0, -0.1, 0.0, -2.0]);
        prelu_backward(&x, 1, 2, 2, &[0.1, 0.5], &[1.0; 4], &mut dx, &mut da);
        assert_eq!(dx, [1.0, 0.1, 0.5, 0.5]);
        assert_eq!(da, [-1.0, -4.0]);
    }
}
