//! The soft (Gaussian-kernel) histogram of Distribution Distillation Loss (LOSSES.md §12).
//!
//! Shape legend: s [N] similarities, bin centres t [R] -> h [R]:
//!   h_r = Σ_i exp(−(s_i − t_r)² / (2σ²)),   p_r = h_r / Σ_r h_r (normalised).
//! Built from primitives over an [N, R] kernel matrix, so the gradient reaches each s_i
//! through every bin: ∂h_r/∂s_i = −(s_i − t_r)/σ² · exp(−(s_i − t_r)²/(2σ²)).

use anglegrad_engine::{Error, Result, Tensor};

use crate::{div, exp, reshape, scale, square, sub, sum, sum_all};

/// The un-normalised soft histogram of `s` (any shape, flattened) at the bin centres.
pub fn soft_histogram(s: &Tensor, centres: &[f64], sigma: f64) -> Result<Tensor> {
    if sigma.is_nan() || sigma <= 0.0 {
        return Err(Error::invalid(
            "soft_histogram",
            format!("sigma must be > 0, got {sigma}"),
        ));
    }
    let n = s.numel();
    let r = centres.len();
    let column = reshape(s, &[n, 1])?;
    let t = Tensor::from_f64s(centres, [1, r], s.dtype())?;
    let kernel = exp(&scale(
        &square(&sub(&column, &t)?)?,
        -1.0 / (2.0 * sigma * sigma),
    )?)?;
    sum(&kernel, &[0], false)
}

/// The soft histogram normalised to sum 1 (a distribution over the bins).
pub fn soft_histogram_normalized(s: &Tensor, centres: &[f64], sigma: f64) -> Result<Tensor> {
    let h = soft_histogram(s, centres, sigma)?;
    div(&h, &sum_all(&h)?)
}
