//! Focal loss as F-Softmax (Lin et al. 2017; the F-Softmax baseline of the MV-Softmax paper,
//! xiaoboCASIA/SV-X-Softmax `loss.py`), LOSSES.md §1.
//!
//! Shape legend: logits z [B, C], labels y [B], per-row losses [B].
//!
//!   ln p_i = z_iy − LSE(z_i),    FL_i = −α (1 − p_i)^γ ln p_i,    L = mean_i FL_i
//!
//! Stable form: 1 − p = −expm1(ln p), exact when p → 1 (1 − exp(ln p) would round to 0).
//! Gradient (a fused rule): with g = γ(1 − p)^{γ−1} p ln p − (1 − p)^γ,
//!   ∂FL/∂z_j = α · g · ([j = y] − p_j).
//! The first term of g is 0·∞ at p = 1 for γ < 1; it is evaluated as
//! −γ (1 − p)^γ · p · r with r = (−ln p)/(1 − p) := 1 where 1 − p = 0 (its limit), so no γ ≥ 0
//! gives a NaN.
//!
//! Defaults γ = 2, α = 1 (F-Softmax; the detection paper used α = 0.25).

use std::sync::Arc;

use anglegrad_engine::{with_float, BackwardRule, Error, Float, Result, Tensor};
use anglegrad_ops as ops;

/// Focal loss parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Focal {
    pub gamma: f64,
    pub alpha: f64,
}

impl Default for Focal {
    fn default() -> Self {
        Focal {
            gamma: 2.0,
            alpha: 1.0,
        }
    }
}

impl Focal {
    /// Mean focal loss of logits [B, C].
    pub fn loss(&self, logits: &Tensor, labels: &[usize]) -> Result<Tensor> {
        if self.gamma.is_nan() || self.gamma < 0.0 {
            return Err(Error::invalid(
                "focal",
                format!("gamma must be >= 0, got {}", self.gamma),
            ));
        }
        ops::mean_all(&self.rows(logits, labels)?)
    }

    /// Per-row focal losses [B].
    pub fn rows(&self, logits: &Tensor, labels: &[usize]) -> Result<Tensor> {
        let (b, c) = ops::cross_entropy::check_logits_labels("focal", logits, labels)?;
        let log_probs = ops::log_softmax(&logits.detach(), 1)?;
        let losses = with_float!(logits.dtype(), "focal", |T| {
            let lp = log_probs.as_slice::<T>()?;
            let fl: Vec<T> = (0..b)
                .map(|i| {
                    let lpy = lp[i * c + labels[i]].to_f64();
                    let one_minus_p = -lpy.exp_m1();
                    T::from_f64(-self.alpha * one_minus_p.powf(self.gamma) * lpy)
                })
                .collect();
            Tensor::from_vec(fl, [b])
        })?;
        let rule = FocalRule {
            log_probs,
            labels: Arc::new(labels.to_vec()),
            focal: *self,
        };
        losses.record(&[logits], rule)
    }
}

struct FocalRule {
    log_probs: Tensor,
    labels: Arc<Vec<usize>>,
    focal: Focal,
}

impl BackwardRule for FocalRule {
    fn name(&self) -> &'static str {
        "focal"
    }

    fn backward(&self, grad: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (b, c) = (self.log_probs.dims()[0], self.log_probs.dims()[1]);
        let Focal { gamma, alpha } = self.focal;
        let dz = with_float!(grad.dtype(), "focal", |T| {
            let (lp, gv) = (self.log_probs.as_slice::<T>()?, grad.as_slice::<T>()?);
            let mut dz = vec![T::ZERO; b * c];
            for i in 0..b {
                let y = self.labels[i];
                let ln_p = lp[i * c + y].to_f64();
                let p = ln_p.exp();
                let one_minus_p = -ln_p.exp_m1();
                let r = if one_minus_p > 0.0 {
                    -ln_p / one_minus_p
                } else {
                    1.0
                };
                let pow_g = one_minus_p.powf(gamma);
                let g = -gamma * pow_g * p * r - pow_g;
                let row_scale = alpha * g * gv[i].to_f64();
                for j in 0..c {
                    let pj = lp[i * c + j].to_f64().exp();
                    let indicator = if j == y { 1.0 } else { 0.0 };
                    dz[i * c + j] = T::from_f64(row_scale * (indicator - pj));
                }
            }
            Tensor::from_vec(dz, [b, c])
        })?;
        Ok(vec![Some(dz)])
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.log_probs]
    }
}
