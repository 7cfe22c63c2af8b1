//! Distribution Distillation Loss (Huang et al., ECCV 2020; reference Tencent/TFace
//! `torchkit/loss/ddl.py`), LOSSES.md §12 and §16, with one teacher and one student branch.
//!
//! Shape legend: teacher features t [B, D], student features s [B, D], labels [B]; similarities
//! are cosines of the normalised features.
//!
//! The teacher branch (easy samples: frontal, high resolution) has well separated similarity
//! distributions of positive and negative pairs; the student (hard samples) does not. DDL makes
//! the student's distributions look like the teacher's:
//!
//!   S⁺ (per branch): cos(f_i, f_j) of the same-label pairs i < j, kept if > τ
//!   S⁻ (per branch): s_i = max(0, max_{j>i, y_j≠y_i} cos(f_i, f_j)), one per row (0 for a row
//!                    with no such j, always the last: TFace's upper-triangle row max)
//!   P = soft histogram (1000 bins at r/1000, Gaussian σ = 0.1, normalised)
//!   KL(P‖Q) = Σ_r (p_r + ε)(ln(p_r + ε) − ln(q_r + ε)),  ε = 1e-9, P teacher, Q student
//!   L_ord = Σ_{a,b ∈ {t, s}} (mean S⁻_a − mean S⁺_b)   (every positive mean above every
//!                                                      negative mean; no margin)
//!   L = w⁺ KL(P⁺_t‖P⁺_s) + w⁻ KL(P⁻_t‖P⁻_s) + w_ord L_ord
//!
//! The teacher is not detached (TFace lets the gradient reach both branches). An empty
//! positive set of a branch drops KL⁺ and the order terms that use its mean. Defaults
//! w⁺ = 0.1, w⁻ = 0.02, w_ord = 0.5, τ = 0.

use anglegrad_engine::{Error, Result, Tensor};
use anglegrad_ops::{self as ops, TensorOps};

use crate::check;
use crate::pairs::{connected_zero, entries, unordered_pairs};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ddl {
    pub w_pos: f64,
    pub w_neg: f64,
    pub w_ord: f64,
    pub tau: f64,
    /// Number of histogram bins R (centres r/R).
    pub bins: usize,
    pub sigma: f64,
}

impl Default for Ddl {
    fn default() -> Self {
        Ddl {
            w_pos: 0.1,
            w_neg: 0.02,
            w_ord: 0.5,
            tau: 0.0,
            bins: 1000,
            sigma: 0.1,
        }
    }
}

/// ε inside the KL logarithms.
const KL_EPS: f64 = 1e-9;

/// The similarity sets of one branch: positives (None when empty) and the B negatives.
struct Branch {
    positives: Option<Tensor>,
    negatives: Tensor,
}

impl Ddl {
    pub fn loss(&self, student: &Tensor, teacher: &Tensor, labels: &[usize]) -> Result<Tensor> {
        let (b, d) = check::embeddings("ddl", student)?;
        let (bt, dt) = check::embeddings("ddl", teacher)?;
        if (b, d) != (bt, dt) {
            return Err(Error::ShapeMismatch {
                op: "ddl",
                lhs: student.shape().clone(),
                rhs: teacher.shape().clone(),
            });
        }
        check::labels("ddl", labels, b, None)?;
        let centres: Vec<f64> = (0..self.bins)
            .map(|r| r as f64 / self.bins as f64)
            .collect();
        let hist = |v: &Tensor| ops::soft_histogram_normalized(v, &centres, self.sigma);
        let (t, s) = (self.branch(teacher, labels)?, self.branch(student, labels)?);

        let mut total = connected_zero(student)?.add(&connected_zero(teacher)?)?;
        if let (Some(tp), Some(sp)) = (&t.positives, &s.positives) {
            total = total.add(&kl(&hist(tp)?, &hist(sp)?)?.scale(self.w_pos)?)?;
        }
        total = total.add(&kl(&hist(&t.negatives)?, &hist(&s.negatives)?)?.scale(self.w_neg)?)?;
        for neg in [&t.negatives, &s.negatives] {
            for pos in [&t.positives, &s.positives].into_iter().flatten() {
                let gap = neg.mean_all()?.sub(&pos.mean_all()?)?;
                total = total.add(&gap.scale(self.w_ord)?)?;
            }
        }
        Ok(total)
    }

    fn branch(&self, f: &Tensor, labels: &[usize]) -> Result<Branch> {
        let b = labels.len();
        let cos = ops::cosine_similarity(f, f, ops::DEFAULT_NORM_EPS)?;
        let values = cos.to_vec_f64();
        let (pos, _) = unordered_pairs(labels);
        let kept: Vec<(usize, usize)> = pos
            .into_iter()
            .filter(|&(i, j)| values[i * b + j] > self.tau)
            .collect();
        let positives = if kept.is_empty() {
            None
        } else {
            Some(entries(&cos, &kept)?)
        };
        // Row max over j > i of another label; rows without one read the diagonal and are
        // zeroed by the mask (so they contribute a constant 0).
        let mut picks = Vec::with_capacity(b);
        let mut has = Vec::with_capacity(b);
        for i in 0..b {
            let best = (i + 1..b).filter(|&j| labels[j] != labels[i]).fold(
                None,
                |acc: Option<usize>, j| match acc {
                    Some(k) if values[i * b + k] >= values[i * b + j] => Some(k),
                    _ => Some(j),
                },
            );
            picks.push((i, best.unwrap_or(i)));
            has.push(if best.is_some() { 1.0 } else { 0.0 });
        }
        let mask = Tensor::from_f64s(&has, [b], f.dtype())?;
        let negatives = entries(&cos, &picks)?.mul(&mask)?.relu()?;
        Ok(Branch {
            positives,
            negatives,
        })
    }
}

/// KL between the soft histograms of two similarity sets (teacher, student), as in the loss.
pub fn histogram_kl(teacher: &Tensor, student: &Tensor, bins: usize, sigma: f64) -> Result<Tensor> {
    let centres: Vec<f64> = (0..bins).map(|r| r as f64 / bins as f64).collect();
    kl(
        &ops::soft_histogram_normalized(teacher, &centres, sigma)?,
        &ops::soft_histogram_normalized(student, &centres, sigma)?,
    )
}

/// KL(P‖Q) = Σ (p + ε)(ln(p + ε) − ln(q + ε)).
fn kl(p: &Tensor, q: &Tensor) -> Result<Tensor> {
    let pe = p.add_scalar(KL_EPS)?;
    let qe = q.add_scalar(KL_EPS)?;
    pe.mul(&pe.log()?.sub(&qe.log()?)?)?.sum_all()
}
