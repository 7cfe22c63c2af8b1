//! SV-Softmax and SV-X-Softmax = MV-Softmax (Wang et al., AAAI 2020): mining the hard
//! negatives inside the loss, LOSSES.md §11.
//!
//! Shape legend: x [B, D], W [C, D], cosines c [B, C].
//!
//! Target score f_y: SV-Softmax c_y; MV-AM c_y − m; MV-Arc cos(θ_y + m) (no fallback).
//! A non-target k is a *support vector* (hard) when c_k > f_y — it is mis-classified against
//! the margin. Its logit is boosted so the loss concentrates on it:
//!
//!   L = −ln( e^{s f_y} / (e^{s f_y} + Σ_{k≠y} h_k e^{s c_k}) )
//!   fixed:    h_k = exp(s(t − 1) I_k)           -> hard logit s(c_k + t − 1)
//!   adaptive: h_k = exp(s(t − 1)(c_k + 1) I_k)  -> hard logit s(t·c_k + t − 1)
//!
//! I_k is a selection (no gradient) from the original cosines; a hard logit has
//! ∂z_k/∂c_k = s·t (adaptive) or s (fixed). t = 1 recovers the base loss. The official code's
//! parameter is t − 1 = 0.2 (paper t = 1.2); defaults s = 32, m = 0.35, t = 1.2, adaptive.

use anglegrad_ops::{Fallback, GradientMode};

use crate::margin_softmax::{HardNegatives, Margin, MarginSoftmax};

/// Which base margin the hard-negative mining is added to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SvBase {
    /// SV-Softmax: no margin.
    Plain,
    /// MV-AM: f_y = c_y − m.
    Additive { m: f64 },
    /// MV-Arc: f_y = cos(θ_y + m).
    Angular { m: f64 },
}

/// The SV-X / MV head.
pub fn sv_softmax(s: f64, base: SvBase, t: f64, adaptive: bool) -> MarginSoftmax {
    let margin = match base {
        SvBase::Plain => Margin::None,
        SvBase::Additive { m } => Margin::Additive { m },
        SvBase::Angular { m } => Margin::Angular {
            m,
            fallback: Fallback::None,
            gradient: GradientMode::Exact,
        },
    };
    MarginSoftmax {
        hard_negatives: Some(HardNegatives { t, adaptive }),
        ..MarginSoftmax::new(s, margin)
    }
}
