//! DeepID2 joint identification–verification (Sun et al. 2014) and DeepID2+ deep supervision,
//! LOSSES.md §2 with the batch convention of §16.
//!
//! Shape legend: features f [B, D], W [C, D], b [C], labels [B].
//!
//!   Ident_i  = CE(W f_i + b, y_i)
//!   Verif_ij = ½ d_ij²                 if y_i = y_j      d_ij = ‖f_i − f_j‖ (raw features)
//!            = ½ [m − d_ij]_+²          otherwise
//!   L = mean_i Ident_i + λ · mean over all B(B−1)/2 unordered pairs of Verif_ij
//!
//! The hinge is on the non-squared distance, which uses the exact-zero distance of §0 (d = 0
//! with gradient 0 for coincident features). B = 1 has no pair: the verification term is 0.
//! DeepID2+ attaches this loss at several depths: [`deep_supervision`] sums weighted heads.
//! Defaults: λ = 0.05 (the paper's best), m = 1 (the paper's value is unknown; ours).

use anglegrad_engine::{Error, Result, Tensor};
use anglegrad_ops::{self as ops, TensorOps};

use crate::pairs::{connected_zero, entries, unordered_pairs};
use crate::softmax::linear_logits;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeepId2 {
    pub lambda: f64,
    pub m: f64,
}

impl Default for DeepId2 {
    fn default() -> Self {
        DeepId2 {
            lambda: 0.05,
            m: 1.0,
        }
    }
}

impl DeepId2 {
    pub fn loss(
        &self,
        f: &Tensor,
        w: &Tensor,
        bias: Option<&Tensor>,
        labels: &[usize],
    ) -> Result<Tensor> {
        let ident = ops::cross_entropy(&linear_logits("deepid2", f, w, bias, labels)?, labels)?;
        ident.add(&self.verification(f, labels)?.scale(self.lambda)?)
    }

    /// mean over unordered pairs of Verif_ij.
    pub fn verification(&self, f: &Tensor, labels: &[usize]) -> Result<Tensor> {
        let (pos, neg) = unordered_pairs(labels);
        let pairs = pos.len() + neg.len();
        if pairs == 0 {
            return connected_zero(f);
        }
        let d2 = ops::pairwise_sq_dist(f, f)?;
        let same = entries(&d2, &pos)?.sum_all()?.scale(0.5)?;
        let d = ops::safe_sqrt(&entries(&d2, &neg)?)?;
        let hinge = d.neg()?.add_scalar(self.m)?.relu()?;
        let different = hinge.square()?.sum_all()?.scale(0.5)?;
        same.add(&different)?.scale(1.0 / pairs as f64)
    }
}

/// DeepID2+: Σ_ℓ w_ℓ · L_ℓ over the losses attached at several depths (the paper uses four
/// supervised layers with weights 1; auxiliary heads are dropped at test time).
pub fn deep_supervision(losses: &[Tensor], weights: &[f64]) -> Result<Tensor> {
    if losses.is_empty() || losses.len() != weights.len() {
        return Err(Error::invalid(
            "deep_supervision",
            format!("{} losses with {} weights", losses.len(), weights.len()),
        ));
    }
    let mut total = losses[0].scale(weights[0])?;
    for (l, &w) in losses.iter().zip(weights).skip(1) {
        total = total.add(&l.scale(w)?)?;
    }
    Ok(total)
}
