//! Contrastive loss, pytorch-metric-learning's two-margin form (LOSSES.md §3, §16).
//!
//! Shape legend: x [B, D], labels [B]; D_ij = ‖nrm(x_i) − nrm(x_j)‖ (not squared), over the
//! unordered pairs i < j.
//!
//!   L = AvgNonZero_{positive pairs} [D − m_pos]_+ + AvgNonZero_{negative pairs} [m_neg − D]_+
//!
//! AvgNonZero = the mean over the terms > 0 (0 with zero gradient when there is none).
//! Coincident embeddings have D = 0 exactly (§0), so with m_pos = 0 such a positive pair adds
//! a term of exactly 0 and is left out of the mean, as in PML. The DeepID2 squared form is in
//! [`crate::deepid2`]. Defaults m_pos = 0, m_neg = 1 (PML).

use anglegrad_engine::{Result, Tensor};
use anglegrad_ops::{self as ops, TensorOps};

use crate::check;
use crate::pairs::{avg_nonzero, connected_zero, entries, unordered_pairs};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Contrastive {
    pub m_pos: f64,
    pub m_neg: f64,
}

impl Default for Contrastive {
    fn default() -> Self {
        Contrastive {
            m_pos: 0.0,
            m_neg: 1.0,
        }
    }
}

impl Contrastive {
    pub fn loss(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        let (b, _) = check::embeddings("contrastive", x)?;
        check::labels("contrastive", labels, b, None)?;
        let f = x.l2_normalize(1, ops::DEFAULT_NORM_EPS)?;
        let d = ops::pairwise_dist(&f, &f)?;
        let (pos, neg) = unordered_pairs(labels);
        let mut total = connected_zero(x)?;
        if !pos.is_empty() {
            let terms = entries(&d, &pos)?.add_scalar(-self.m_pos)?.relu()?;
            total = total.add(&avg_nonzero(&terms)?)?;
        }
        if !neg.is_empty() {
            let terms = entries(&d, &neg)?.neg()?.add_scalar(self.m_neg)?.relu()?;
            total = total.add(&avg_nonzero(&terms)?)?;
        }
        Ok(total)
    }
}
