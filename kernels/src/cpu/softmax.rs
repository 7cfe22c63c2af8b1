//! Row-wise softmax, log-softmax and the fused softmax cross-entropy.
//!
//! Shape legend: `x` is `[rows, cols]`; every function works on each row independently.
//! All use the max-subtraction form: softmax(x)_j = exp(x_j - M) / Σ_k exp(x_k - M), M = max_k x_k.
//!
//! The entry points run rows in parallel (rayon, for large inputs) and, for f32 on AVX2, use
//! the vectorised exp of [`super::simd_math`]; `*_ref` are the plain loops they are tested
//! against.

use super::parallel::for_rows;
use super::simd_math::exp_shifted_sum_f32;
use crate::Float;

/// y = log_softmax(x) per row: x_j - M - log Σ_k exp(x_k - M).
pub fn log_softmax_rows<T: Float>(x: &[T], rows: usize, cols: usize, y: &mut [T]) {
    check(x, rows, cols, y);
    if let (Some(x), Some(y)) = (T::slice_f32(x), T::slice_f32_mut(y)) {
        for_rows(y, cols, |r, yr| {
            let xr = &x[r * cols..][..cols];
            let m = row_max(xr);
            // y holds exp(x - M) for a moment; then it is overwritten with x - M - log Z.
            let log_z = m + exp_shifted_sum_f32(xr, m, yr).ln();
            for (o, &v) in yr.iter_mut().zip(xr) {
                *o = v - log_z;
            }
        });
    } else {
        for_rows(y, cols, |r, yr| log_softmax_row(&x[r * cols..][..cols], yr));
    }
}

/// y = softmax(x) per row.
pub fn softmax_rows<T: Float>(x: &[T], rows: usize, cols: usize, y: &mut [T]) {
    check(x, rows, cols, y);
    if let (Some(x), Some(y)) = (T::slice_f32(x), T::slice_f32_mut(y)) {
        for_rows(y, cols, |r, yr| {
            let xr = &x[r * cols..][..cols];
            let inv_z = 1.0 / exp_shifted_sum_f32(xr, row_max(xr), yr);
            yr.iter_mut().for_each(|v| *v *= inv_z);
        });
    } else {
        for_rows(y, cols, |r, yr| {
            log_softmax_row(&x[r * cols..][..cols], yr);
            yr.iter_mut().for_each(|v| *v = v.exp());
        });
    }
}

fn check<T>(x: &[T], rows: usize, cols: usize, y: &[T]) {
    assert!(
        x.len() == rows * cols && y.len() == rows * cols,
        "softmax: buffers are not [{rows}, {cols}]"
    );
}

/// max of a row; NaN if the row has one (so NaN propagates to the whole row, as in the
/// reference). Eight independent lanes of plain comparisons, which the compiler vectorises.
pub(crate) fn row_max<T: Float>(x: &[T]) -> T {
    let mut lanes = [T::NEG_INFINITY; 8];
    let mut nan = false;
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l = if v > *l { v } else { *l };
            nan |= v.is_nan();
        }
    }
    for &v in tail {
        lanes[0] = if v > lanes[0] { v } else { lanes[0] };
        nan |= v.is_nan();
    }
    if nan {
        return T::from_f64(f64::NAN);
    }
    lanes.iter().fold(T::NEG_INFINITY, |a, &b| a.max_nan(b))
}

/// One row of log-softmax in plain scalar arithmetic (any Float).
fn log_softmax_row<T: Float>(xr: &[T], yr: &mut [T]) {
    let m = row_max(xr);
    let mut acc = [T::ZERO; 8];
    for (i, &v) in xr.iter().enumerate() {
        acc[i % 8] += (v - m).exp();
    }
    let log_z = m + super::reduce::sum_slice(&acc).ln();
    for (o, &v) in yr.iter_mut().zip(xr) {
        *o = v - log_z;
    }
}

/// Reference log-softmax: the formula, one row at a time.
pub fn log_softmax_rows_ref<T: Float>(x: &[T], rows: usize, cols: usize, y: &mut [T]) {
    for r in 0..rows {
        let xr = &x[r * cols..(r + 1) * cols];
        let m = xr.iter().fold(T::NEG_INFINITY, |a, &b| a.max_nan(b));
        let log_z = m + xr.iter().map(|&v| (v - m).exp()).sum::<T>().ln();
        for (yo, &v) in y[r * cols..(r + 1) * cols].iter_mut().zip(xr) {
            *yo = v - log_z;
        }
    }
}

/// Reference softmax.
pub fn softmax_rows_ref<T: Float>(x: &[T], rows: usize, cols: usize, y: &mut [T]) {
    log_softmax_rows_ref(x, rows, cols, y);
    for v in y.iter_mut() {
        *v = v.exp();
    }
}

/// Softmax cross-entropy per row: loss_r = LSE(x_r) - x_r[label_r]. Also writes the row's
/// softmax into `probs` (the backward needs it: ∂loss_r/∂x_rj = p_rj - [j = label_r]).
pub fn cross_entropy_rows<T: Float>(
    x: &[T],
    rows: usize,
    cols: usize,
    labels: &[usize],
    losses: &mut [T],
    probs: &mut [T],
) {
    assert!(
        labels.len() == rows && losses.len() == rows,
        "cross_entropy_rows: labels/losses length"
    );
    assert!(
        labels.iter().all(|&l| l < cols),
        "cross_entropy_rows: label out of range"
    );
    log_softmax_rows(x, rows, cols, probs);
    for r in 0..rows {
        losses[r] = -probs[r * cols + labels[r]];
    }
    if let Some(p) = T::slice_f32_mut(probs) {
        // exp of the log-probabilities, vectorised (the shift is 0: they are <= 0 already).
        for_rows(p, cols, |_, row| {
            let lp = row.to_vec();
            exp_shifted_sum_f32(&lp, 0.0, row);
        });
    } else {
        probs.iter_mut().for_each(|p| *p = p.exp());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::testutil::{pool, Report, Rng};

    #[test]
    fn softmax_matches_reference() {
        let mut rng = Rng(31);
        let mut rep = Report::new("softmax/log_softmax f32", 2e-6);
        let mut rep64 = Report::new("softmax/log_softmax f64", 1e-13);
        for (rows, cols) in [
            (1, 1),
            (7, 7),
            (33, 33),
            (3, 1031),
            (40, 1000),
            (2, 100_003),
        ] {
            let x: Vec<f64> = rng
                .vec::<f64>(rows * cols)
                .iter()
                .map(|v| 20.0 * v)
                .collect();
            let case = format!("[{rows}, {cols}]");
            let (mut want_l, mut want_s) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            log_softmax_rows_ref(&x, rows, cols, &mut want_l);
            softmax_rows_ref(&x, rows, cols, &mut want_s);
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let (mut l32, mut s32) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
            let (mut l64, mut s64) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            pool(2).install(|| {
                log_softmax_rows(&x32, rows, cols, &mut l32);
                softmax_rows(&x32, rows, cols, &mut s32);
                log_softmax_rows(&x, rows, cols, &mut l64);
                softmax_rows(&x, rows, cols, &mut s64);
            });
            let wide = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<f64>>();
            rep.compare(
                &case,
                &[wide(&l32), wide(&s32)].concat(),
                &[want_l.clone(), want_s.clone()].concat(),
            );
            rep64.compare(&case, &[l64, s64].concat(), &[want_l, want_s].concat());
        }
        rep.finish();
        rep64.finish();
        // NaN and -inf rows behave like the reference.
        let x = [f32::NAN, 1.0, f32::NEG_INFINITY, 0.0];
        let mut y = [0.0f32; 4];
        log_softmax_rows(&x, 2, 2, &mut y);
        assert!(y[0].is_nan() && y[1].is_nan() && y[2] == f32::NEG_INFINITY && y[3] == 0.0);
    }

    #[test]
    fn cross_entropy_known_value() {
        // LOSSES.md §1: z = (2, 1, 0), y = 0 -> CE = 0.407606.
        let (mut loss, mut p) = ([0.0f64], [0.0; 3]);
        cross_entropy_rows(&[2.0, 1.0, 0.0], 1, 3, &[0], &mut loss, &mut p);
        assert!((loss[0] - 0.407606).abs() < 1e-6);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
