//! ArcFace (Deng et al., CVPR 2019) and insightface's combined margin, LOSSES.md §8.
//!
//!   z_iy = s cos(θ_iy + m),   z_ij = s cos θ_ij,   L = mean_i CE(z_i, y_i)
//!
//! An *additive angular* margin: the target angle is enlarged by m before the cosine, so the
//! decision boundary θ_1 + m = θ_2 is a constant geodesic distance on the hypersphere.
//!
//! How it is computed (the `target_margin` op; read `ops/src/metric/margin.rs`):
//! - cos(θ + m) = c·cos m − sin θ·sin m with sin θ = sqrt(max(1 − c², 0)): no arccos in the
//!   differentiable path (d/dc arccos c = −1/sqrt(1 − c²) is infinite at c = ±1 — the classic
//!   NaN of ArcFace ports); only the derivative's sin θ is floored.
//! - Past θ = π − m, cos(θ + m) increases again (a larger angle would *raise* the logit). The
//!   paper-era insightface code switches to c − m·sin m there (`Fallback::Threshold`, the
//!   default); `EasyMargin` applies the margin only where c > 0; `None` never switches.
//! - Gradient: `Exact` (the paper) differentiates cos(θ + m); `Detached` keeps the forward and
//!   sets ∂z_y/∂c_y = s, as insightface's arcface_torch does since Dec 2022 (its maintainers
//!   report more stable training of ViTs). State which one a result used.
//!
//! Defaults s = 64, m = 0.5, exact gradient, threshold fallback (paper; insightface
//! `margin_list (1.0, 0.5, 0.0)`; PML `ArcFaceLoss` takes m in degrees, 28.6°).
//!
//! Combined margin: φ(c) = cos(m1·θ + m2) − m3, which contains SphereFace (m1), ArcFace (m2)
//! and CosFace (m3); insightface's mxnet "combined" config is (1, 0.3, 0.2).

use anglegrad_ops::{Fallback, GradientMode};

use crate::margin_softmax::{Margin, MarginSoftmax};

/// The ArcFace head.
pub fn arcface(s: f64, m: f64, gradient: GradientMode, fallback: Fallback) -> MarginSoftmax {
    MarginSoftmax::new(
        s,
        Margin::Angular {
            m,
            fallback,
            gradient,
        },
    )
}

/// ArcFace with the paper's defaults: s = 64, m = 0.5, exact gradient, threshold fallback.
pub fn arcface_default() -> MarginSoftmax {
    arcface(64.0, 0.5, GradientMode::Exact, Fallback::Threshold)
}

/// The combined-margin head cos(m1·θ + m2) − m3, exact gradient.
pub fn combined(s: f64, m1: f64, m2: f64, m3: f64) -> MarginSoftmax {
    MarginSoftmax::new(s, Margin::Combined { m1, m2, m3 })
}
