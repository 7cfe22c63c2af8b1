//! Center loss (Wen et al., ECCV 2016), LOSSES.md §9.
//!
//! Shape legend: x [B, D], labels [B], centres c [C, D] (training state).
//!
//!   L_C = ½ Σ_i ‖x_i − c_{y_i}‖²        (a sum over the batch; λ multiplies it in training:
//!                                        L = L_softmax + λ L_C, paper λ = 0.003)
//!   ∂L_C/∂x_i = x_i − c_{y_i}
//!
//! Softmax alone separates classes but leaves them wide; the centre term pulls each feature
//! towards its class centre, making classes compact (the paper's Fig. 3).
//!
//! In the paper the centres are *state*, not parameters: no gradient reaches them, and after
//! each optimiser step they move by
//!   Δc_j = Σ_{i: y_i = j} (c_j − x_i) / (1 + n_j),   c_j ← c_j − α·Δc_j   (α = 0.5)
//! ([`update_centers`]; classes absent from the batch stay). The learnable-centre variant
//! (pytorch-center-loss style) lets the gradient ∂L_C/∂c_j = Σ_{i: y_i=j} (c_j − x_i) reach
//! them instead.

use anglegrad_engine::{Result, Tensor};
use anglegrad_ops::{self as ops, TensorOps};

use crate::check;

/// How the centres change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CenterMode {
    /// Centres are state updated by [`update_centers`] (paper); no gradient reaches them.
    Paper,
    /// Centres are parameters with a gradient (watch them on the tape).
    Learnable,
}

/// L_C = ½ Σ_i ‖x_i − c_{y_i}‖².
pub fn center_loss(
    x: &Tensor,
    centers: &Tensor,
    labels: &[usize],
    mode: CenterMode,
) -> Result<Tensor> {
    let (b, d) = check::embeddings("center", x)?;
    let c = check::class_matrix("center", "centers", centers, d)?;
    check::labels("center", labels, b, Some(c))?;
    let centers = match mode {
        CenterMode::Paper => centers.detach(),
        CenterMode::Learnable => centers.clone(),
    };
    let own = centers.index_select(0, labels)?;
    x.sub(&own)?.square()?.sum_all()?.scale(0.5)
}

/// The paper's centre update after a step: c_j ← c_j − α Σ_{i: y_i=j}(c_j − x_i)/(1 + n_j).
/// Runs without a tape (it is a state update, not an op to differentiate).
pub fn update_centers(
    centers: &Tensor,
    x: &Tensor,
    labels: &[usize],
    alpha: f64,
) -> Result<Tensor> {
    let (b, d) = check::embeddings("center update", x)?;
    let c = check::class_matrix("center update", "centers", centers, d)?;
    check::labels("center update", labels, b, Some(c))?;
    let (centers, x) = (centers.detach(), x.detach());
    let own = centers.index_select(0, labels)?; // c_{y_i}
    let pulls = ops::segment_sum(&own.sub(&x)?, labels, c)?; // Σ (c_j − x_i)
    let mut counts = vec![0.0; c];
    for &y in labels {
        counts[y] += 1.0;
    }
    let step: Vec<f64> = counts.iter().map(|n| alpha / (1.0 + n)).collect();
    let step = Tensor::from_f64s(&step, [c, 1], x.dtype())?;
    centers.sub(&pulls.mul(&step)?)
}
