//! Softmax cross-entropy on a linear classifier: the baseline of every face-recognition paper.
//!
//! Shape legend: x [B, D], W [C, D], b [C], logits z [B, C].
//!
//!   z_i = W x_i + b,   L = mean_i CE(z_i, y_i),   CE(z, y) = LSE(z) − z_y
//!   ∂L/∂z_ij = (softmax(z_i)_j − [j = y_i]) / B
//!
//! The cross-entropy is the fused, max-subtracted op of `anglegrad_ops::cross_entropy`.

use anglegrad_engine::{Result, Tensor};
use anglegrad_ops::{self as ops, TensorOps};

use crate::check;

/// The logits x Wᵀ + b after checking shapes, labels and values (`name` is the loss in errors).
pub fn linear_logits(
    name: &'static str,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    labels: &[usize],
) -> Result<Tensor> {
    let (b, d) = check::embeddings(name, x)?;
    let c = check::class_matrix(name, "weight", w, d)?;
    check::labels(name, labels, b, Some(c))?;
    let z = x.matmul_t(w, false, true)?;
    match bias {
        Some(bias) => {
            if bias.dims() != [c] {
                return Err(anglegrad_engine::Error::ShapeMismatch {
                    op: name,
                    lhs: anglegrad_engine::Shape::new(&[c]),
                    rhs: bias.shape().clone(),
                });
            }
            check::finite(name, "bias", bias)?;
            z.add(bias)
        }
        None => Ok(z),
    }
}

/// Softmax cross-entropy: mean_i CE(W x_i + b, y_i). `bias` is optional (0 when absent).
pub fn softmax_loss(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    labels: &[usize],
) -> Result<Tensor> {
    ops::cross_entropy(&linear_logits("softmax", x, w, bias, labels)?, labels)
}
