//! Composite ops: built from primitives, so they need no backward rule of their own — the
//! tape records their primitives and the chain rule composes their gradients.
//!
//! Shape legend: `axis` is reduced; rows are along the last axis in `cosine_similarity`.

use anglegrad_engine::{Result, Tensor};

use crate::{add_scalar, logsumexp, matmul_t, scale, sqrt, square, sub, sum};

/// The ε added to ‖v‖² in [`l2_normalize`] unless a caller picks another: 1e-12, small enough
/// to leave any non-degenerate f32 vector unchanged, large enough that a zero vector gives 0
/// instead of 0/0 (LOSSES.md §0).
pub const DEFAULT_NORM_EPS: f64 = 1e-12;

/// Mean over the given axes: Σ x / (number of summed elements).
pub fn mean(x: &Tensor, axes: &[usize], keepdim: bool) -> Result<Tensor> {
    let count: usize = axes
        .iter()
        .map(|&a| x.dims().get(a).copied().unwrap_or(1))
        .product();
    let s = sum(x, axes, keepdim)?;
    scale(&s, 1.0 / count.max(1) as f64)
}

/// Mean of all elements, as a scalar.
pub fn mean_all(x: &Tensor) -> Result<Tensor> {
    let axes: Vec<usize> = (0..x.rank()).collect();
    mean(x, &axes, false)
}

/// nrm(v) = v / sqrt(‖v‖² + ε) along `axis` (LOSSES.md §0).
///
/// Its gradient, which the tape derives from the primitives, is
/// ∂L/∂v = (g − u (u·g)) / sqrt(‖v‖² + ε) with u = nrm(v): the component of g along u is
/// removed, because moving v along itself does not change its direction.
pub fn l2_normalize(x: &Tensor, axis: usize, eps: f64) -> Result<Tensor> {
    let norm = sqrt(&add_scalar(&sum(&square(x)?, &[axis], true)?, eps)?)?;
    crate::div(x, &norm)
}

/// The cosine of every row of `a` [n, d] with every row of `b` [m, d]: [n, m] =
/// nrm(a) · nrm(b)ᵀ.
pub fn cosine_similarity(a: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    let an = l2_normalize(a, a.rank().saturating_sub(1), eps)?;
    let bn = l2_normalize(b, b.rank().saturating_sub(1), eps)?;
    matmul_t(&an, &bn, false, true)
}

/// softmax(x)_j = exp(x_j − logsumexp(x)) along `axis`.
pub fn softmax(x: &Tensor, axis: usize) -> Result<Tensor> {
    crate::exp(&log_softmax(x, axis)?)
}

/// log softmax(x)_j = x_j − logsumexp(x) along `axis`.
pub fn log_softmax(x: &Tensor, axis: usize) -> Result<Tensor> {
    sub(x, &logsumexp(x, axis, true)?)
}
