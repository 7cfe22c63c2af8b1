//! Row-wise softmax, log-softmax and the fused softmax cross-entropy.
//!
//! Shape legend: `x` is `[rows, cols]`; every function works on each row independently.
//! All use the max-subtraction form: softmax(x)_j = exp(x_j - M) / Σ_k exp(x_k - M), M = max_k x_k.

use crate::Float;

/// y = log_softmax(x) per row: x_j - M - log Σ_k exp(x_k - M).
pub fn log_softmax_rows<T: Float>(x: &[T], rows: usize, cols: usize, y: &mut [T]) {
    for r in 0..rows {
        let xr = &x[r * cols..(r + 1) * cols];
        let m = xr.iter().fold(T::NEG_INFINITY, |a, &b| a.max_nan(b));
        let log_z = m + xr.iter().map(|&v| (v - m).exp()).sum::<T>().ln();
        for (yo, &v) in y[r * cols..(r + 1) * cols].iter_mut().zip(xr) {
            *yo = v - log_z;
        }
    }
}

/// y = softmax(x) per row.
pub fn softmax_rows<T: Float>(x: &[T], rows: usize, cols: usize, y: &mut [T]) {
    log_softmax_rows(x, rows, cols, y);
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
    log_softmax_rows(x, rows, cols, probs);
    for r in 0..rows {
        losses[r] = -probs[r * cols + labels[r]];
    }
    for p in probs.iter_mut() {
        *p = p.exp();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_known_value() {
        // LOSSES.md §1: z = (2, 1, 0), y = 0 -> CE = 0.407606.
        let (mut loss, mut p) = ([0.0f64], [0.0; 3]);
        cross_entropy_rows(&[2.0, 1.0, 0.0], 1, 3, &[0], &mut loss, &mut p);
        assert!((loss[0] - 0.407606).abs() < 1e-6);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
