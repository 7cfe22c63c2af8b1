//! Softmax cross-entropy, fused: one kernel for the forward and one rule for the backward.
//!
//! Shape legend: logits z [B, C], labels y [B] (class indices), per-row losses [B].
//!
//!   CE(z, y) = LSE(z) − z_y,   LSE(z) = M + ln Σ_j exp(z_j − M),  M = max_j z_j
//!   ∂CE/∂z_j = softmax(z)_j − [j = y]
//!
//! Fused because the composite log_softmax → gather keeps a [B, C] intermediate per step and
//! computes exp twice; this form saves only the probabilities and is exact to the last bit in
//! the max-subtracted form. The composite (`log_softmax` + `gather`) is its test oracle.

use std::sync::Arc;

use anglegrad_engine::{with_float, BackwardRule, Error, Result, Tensor};
use anglegrad_kernels::cpu::softmax::cross_entropy_rows as ce_kernel;

use crate::util::{map2_storage, tensor};

/// Checks logits [B, C] against labels, naming `op` in errors (labels out of range included).
pub fn check_logits_labels(
    op: &'static str,
    logits: &Tensor,
    labels: &[usize],
) -> Result<(usize, usize)> {
    if logits.rank() != 2 {
        return Err(Error::invalid(
            op,
            format!("logits must be [B, C], got {}", logits.shape()),
        ));
    }
    let (b, c) = (logits.dims()[0], logits.dims()[1]);
    if labels.len() != b {
        return Err(Error::invalid(
            op,
            format!(
                "{} labels for {b} rows of logits {}",
                labels.len(),
                logits.shape()
            ),
        ));
    }
    if let Some(&bad) = labels.iter().find(|&&y| y >= c) {
        return Err(Error::IndexOutOfRange {
            op,
            index: bad,
            size: c,
        });
    }
    Ok((b, c))
}

/// Per-row cross-entropy [B].
pub fn cross_entropy_rows(logits: &Tensor, labels: &[usize]) -> Result<Tensor> {
    let (b, c) = check_logits_labels("cross_entropy", logits, labels)?;
    let (losses, probs) = with_float!(logits.dtype(), "cross_entropy", |T| {
        let z = logits.as_slice::<T>()?;
        let mut loss = vec![0.0 as T; b];
        let mut p = vec![0.0 as T; b * c];
        ce_kernel(z, b, c, labels, &mut loss, &mut p);
        Ok((Tensor::from_vec(loss, [b])?, Tensor::from_vec(p, [b, c])?))
    })?;
    let rule = CrossEntropyRule {
        probs,
        labels: Arc::new(labels.to_vec()),
    };
    losses.record(&[logits], rule)
}

/// Mean cross-entropy over the batch, a scalar.
pub fn cross_entropy(logits: &Tensor, labels: &[usize]) -> Result<Tensor> {
    if labels.is_empty() {
        return Err(Error::invalid("cross_entropy", "empty batch (B = 0)"));
    }
    crate::mean_all(&cross_entropy_rows(logits, labels)?)
}

struct CrossEntropyRule {
    probs: Tensor,
    labels: Arc<Vec<usize>>,
}

impl BackwardRule for CrossEntropyRule {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let c = self.probs.dims()[1];
        let storage = map2_storage!("cross_entropy", self.probs, g, |p, gv| {
            // ∂L/∂z_rj = g_r · (p_rj − [j = y_r])
            let mut dz = p.to_vec();
            for (r, &y) in self.labels.iter().enumerate() {
                dz[r * c + y] -= 1.0;
                for v in &mut dz[r * c..(r + 1) * c] {
                    *v *= gv[r];
                }
            }
            dz
        })?;
        Ok(vec![Some(tensor(storage, self.probs.dims())?)])
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.probs]
    }
}
