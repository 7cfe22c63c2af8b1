//! CosFace / AM-Softmax (Wang et al. 2018, both papers): an additive cosine margin,
//! LOSSES.md §7.
//!
//!   z_iy = s (cos θ_iy − m),   z_ij = s cos θ_ij,   L = mean_i CE(z_i, y_i)
//!
//! The decision boundary between classes 1 and 2 moves from cos θ_1 = cos θ_2 to
//! cos θ_1 − m = cos θ_2: a sample must be closer to its own class by a *cosine* margin m.
//! ∂z_y/∂c_y = s, like the other logits: no special op. The margin applies to every sample
//! (the AM-Softmax Caffe reference subtracts it only where c_y > m; that quirk is not the
//! default, §7).
//!
//! Defaults s = 64, m = 0.35 (CosFace paper, PML); AM-Softmax used s = 30, insightface
//! arcface_torch m = 0.4.

use crate::margin_softmax::{Margin, MarginSoftmax};

/// The CosFace head with scale s and margin m.
pub fn cosface(s: f64, m: f64) -> MarginSoftmax {
    MarginSoftmax::new(s, Margin::Additive { m })
}
