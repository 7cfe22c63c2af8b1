//! NormFace (Wang et al., ACM MM 2017): normalise features and class weights, scale by s;
//! and its agent-based metric losses C-contrastive and C-triplet. LOSSES.md §6, §16.
//!
//! Shape legend: x [B, D], W [C, D], labels [B], cosines c [B, C].
//!
//! NormFace:      z_ij = s · c_ij,   L = mean_i CE(z_i, y_i)
//! Why s must be large: with every feature and weight normalised, the softmax loss cannot go
//! below ln(1 + (C − 1)·exp(−C·s/(C − 1))) — for C = 10 572 and s = 5 that floor is 4.28, so
//! a small s leaves the loss stuck however good the features are. The reference learns s
//! (initialised at 10); here s is a parameter (learn it by watching a scalar and passing
//! its value, or keep it fixed).
//!
//! Each normalised class weight ŵ_j acts as an *agent* (proxy) of its class. On the unit
//! sphere ‖x̂ − ŵ‖² = 2 − 2 cos:
//!   C-contrastive: L_i = ‖x̂_i − ŵ_y‖² + Σ_{j≠y} [m − ‖x̂_i − ŵ_j‖²]_+            (m = 1)
//!   C-triplet:     L_i = Σ_{j≠y} [m + ‖x̂_i − ŵ_y‖² − ‖x̂_i − ŵ_j‖²]_+           (m = 0.8)
//! both averaged over the batch. C-triplet's gradient here is the exact derivative of that
//! sum (the positive pull counts once per violating j), not the reference layer's backward.

use anglegrad_engine::{Result, Tensor};
use anglegrad_ops::{self as ops, TensorOps};

use crate::check;
use crate::margin_softmax::{Margin, MarginSoftmax};

/// NormFace: scaled cosine softmax, s = 10 by default (the reference's initial value).
pub fn normface(s: f64) -> MarginSoftmax {
    MarginSoftmax::new(s, Margin::None)
}

/// Squared distances 2 − 2c between normalised features and agents [B, C], and the
/// distance to the own agent [B, 1].
fn agent_distances(
    name: &'static str,
    x: &Tensor,
    w: &Tensor,
    labels: &[usize],
) -> Result<(Tensor, Tensor, Tensor)> {
    let (b, d) = check::embeddings(name, x)?;
    let c = check::class_matrix(name, "weight", w, d)?;
    check::labels(name, labels, b, Some(c))?;
    let d2 = ops::cosine_similarity(x, w, ops::DEFAULT_NORM_EPS)?.affine(-2.0, 2.0)?;
    let own = ops::gather(&d2, 1, labels, &[b, 1])?;
    // 1 for the other classes j ≠ y, 0 for the own class: the hinge terms' mask.
    let others = ops::one_hot(labels, c, x.dtype())?.affine(-1.0, 1.0)?;
    Ok((d2, own, others))
}

/// C-contrastive with margin m.
pub fn c_contrastive(x: &Tensor, w: &Tensor, labels: &[usize], m: f64) -> Result<Tensor> {
    let (d2, own, others) = agent_distances("c_contrastive", x, w, labels)?;
    let push = d2
        .neg()?
        .add_scalar(m)?
        .relu()?
        .mul(&others)?
        .sum(&[1], true)?;
    own.add(&push)?.mean_all()
}

/// C-triplet with margin m (all classes, exact gradient).
pub fn c_triplet(x: &Tensor, w: &Tensor, labels: &[usize], m: f64) -> Result<Tensor> {
    let (d2, own, others) = agent_distances("c_triplet", x, w, labels)?;
    let hinge = own.sub(&d2)?.add_scalar(m)?.relu()?.mul(&others)?;
    hinge.sum(&[1], false)?.mean_all()
}
