//! Angular margins on the target cosine: φ(c) for the margin-softmax losses.
//!
//! Shape legend: c is any shape (in practice the B target cosines c_i = cos θ_{i,y_i}); the
//! output φ(c) has the same shape. The margin heads put s·φ(c_y) in the target column and
//! s·c_j elsewhere (LOSSES.md §0, "margin-softmax template").
//!
//! | variant | φ(c) with θ = arccos c | loss |
//! |---|---|---|
//! | `Additive { m }` | c − m | CosFace / AM-Softmax (§7) |
//! | `Angular { m, fallback }` | cos(θ + m) = c·cos m − sin θ·sin m | ArcFace (§8) |
//! | `AngularAcos { m }` | cos(arccos(c) + m), evaluated through arccos | arcface_torch today (§8) |
//! | `Combined { m1, m2, m3 }` | cos(m1·θ + m2) − m3 | insightface combined margin (§8) |
//! | `Multiplicative { m }` | ψ(θ) = (−1)^k cos(mθ) − 2k, θ ∈ [kπ/m, (k+1)π/m] | L-Softmax, SphereFace (§4, §5) |
//!
//! Numerics (LOSSES.md §0, §8): c is clamped to [−1, 1] first (rounding after normalisation
//! can exceed 1; the clamp corrects rounding only, so the derivative is taken at the clamped
//! value, not zeroed). sin θ = sqrt(max(1 − c², 0)) is exact in the forward; only the
//! derivative is guarded: dφ/dc = cos m + sin m · c / max(sin θ, [`SIN_THETA_FLOOR`]), which
//! would diverge as θ → 0. No arccos is ever differentiated. ψ uses the Chebyshev polynomial
//! T_m(c) = cos(mθ) (recurrence T_{n+1} = 2c·T_n − T_{n−1}), its derivative T_m'(c) = m·U_{m−1}(c)
//! (second kind), and k = the number of thresholds cos(jπ/m), j = 1..m−1, that c lies strictly
//! below (k is a selection: no gradient).
//!
//! ArcFace's cos(θ + m) rises again once θ > π − m; [`Fallback`] picks what replaces it there.
//!
//! Gradient modes (§0): `Exact` differentiates φ; `Detached` keeps the same forward value but
//! passes the gradient straight through (∂φ/∂c = 1: the "detached delta" c + sg[φ(c) − c] of
//! insightface arcface_torch and opensphere). Both modes give bit-identical forward values.

use std::f64::consts::PI;

use anglegrad_engine::{with_float, BackwardRule, Result, Tensor};
use anglegrad_kernels::Float;

/// Floor of sin θ in the *derivative* of the angular margins: √1e-9 (LOSSES.md §8 suggests
/// ε_s between 1e-9 and 1e-6 on sin²θ). Only |c| > 1 − 5e-10 is affected.
pub const SIN_THETA_FLOOR: f64 = 3.162_277_660_168_379_5e-5;

/// What ArcFace uses where θ > π − m (cos(θ + m) is no longer decreasing there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Old insightface / PML / CurricularFace: c − m·sin m where c <= cos(π − m).
    /// (Discontinuous at the switch: −1 vs −1.1173 for m = 0.5.)
    Threshold,
    /// Apply the margin only where c > 0; keep c elsewhere.
    EasyMargin,
    /// cos(θ + m) everywhere.
    None,
}

/// The target transform φ; see the module table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MarginFn {
    Additive { m: f64 },
    Angular { m: f64, fallback: Fallback },
    AngularAcos { m: f64 },
    Combined { m1: f64, m2: f64, m3: f64 },
    Multiplicative { m: u32 },
}

/// Whether the margin is differentiated (`Exact`) or passes the gradient through (`Detached`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradientMode {
    Exact,
    Detached,
}

fn sin_theta(c: f64) -> f64 {
    (1.0 - c * c).max(0.0).sqrt()
}

/// cos(mθ) = T_m(c) and its derivative m·U_{m−1}(c), by the three-term recurrences.
fn chebyshev(m: u32, c: f64) -> (f64, f64) {
    let (mut t_prev, mut t) = (1.0, c); // T_0, T_1
    let (mut u_prev, mut u) = (0.0, 1.0); // U_{-1}, U_0
    for _ in 1..m {
        (t_prev, t) = (t, 2.0 * c * t - t_prev);
        (u_prev, u) = (u, 2.0 * c * u - u_prev);
    }
    if m == 0 {
        (1.0, 0.0)
    } else {
        (t, m as f64 * u)
    }
}

/// k of ψ: how many of cos(jπ/m), j = 1..m−1, lie strictly above c.
pub fn psi_k(m: u32, c: f64) -> u32 {
    (1..m)
        .filter(|&j| c < (j as f64 * PI / m as f64).cos())
        .count() as u32
}

impl MarginFn {
    /// φ(c) (c is clamped to [−1, 1] first).
    pub fn value(self, c: f64) -> f64 {
        let c = c.clamp(-1.0, 1.0);
        match self {
            MarginFn::Additive { m } => c - m,
            MarginFn::Angular { m, fallback } => {
                let arc = c * m.cos() - sin_theta(c) * m.sin();
                match fallback {
                    Fallback::Threshold if c <= (PI - m).cos() => c - m * m.sin(),
                    Fallback::EasyMargin if c <= 0.0 => c,
                    _ => arc,
                }
            }
            MarginFn::AngularAcos { m } => (c.acos() + m).cos(),
            MarginFn::Combined { m1: 1.0, m2, m3 } => c * m2.cos() - sin_theta(c) * m2.sin() - m3,
            MarginFn::Combined { m1, m2, m3 } => {
                // The ψ-style monotone extension of cos(α), α = m1·θ + m2 (LOSSES.md §4, §8).
                let alpha = m1 * c.acos() + m2;
                let k = (alpha / PI).floor().max(0.0);
                sign_pow(k) * alpha.cos() - 2.0 * k - m3
            }
            MarginFn::Multiplicative { m } => {
                let k = psi_k(m, c);
                let (t, _) = chebyshev(m, c);
                sign_pow(k as f64) * t - 2.0 * k as f64
            }
        }
    }

    /// dφ/dc (exact mode), at the clamped c, with sin θ floored at [`SIN_THETA_FLOOR`].
    pub fn derivative(self, c: f64) -> f64 {
        let c = c.clamp(-1.0, 1.0);
        let sin_t = sin_theta(c).max(SIN_THETA_FLOOR);
        match self {
            MarginFn::Additive { .. } => 1.0,
            MarginFn::Angular { m, fallback } => {
                let in_fallback = match fallback {
                    Fallback::Threshold => c <= (PI - m).cos(),
                    Fallback::EasyMargin => c <= 0.0,
                    Fallback::None => false,
                };
                if in_fallback {
                    1.0
                } else {
                    m.cos() + m.sin() * c / sin_t // = sin(θ + m) / sin θ
                }
            }
            MarginFn::AngularAcos { m } => m.cos() + m.sin() * c / sin_t,
            MarginFn::Combined { m1: 1.0, m2, .. } => m2.cos() + m2.sin() * c / sin_t,
            MarginFn::Combined { m1, m2, .. } => {
                // d/dc (−1)^k cos α = (−1)^k · (−sin α) · m1 · dθ/dc, dθ/dc = −1/sin θ.
                let alpha = m1 * c.acos() + m2;
                let k = (alpha / PI).floor().max(0.0);
                sign_pow(k) * alpha.sin() * m1 / sin_t
            }
            MarginFn::Multiplicative { m } => {
                let k = psi_k(m, c);
                let (_, dt) = chebyshev(m, c);
                sign_pow(k as f64) * dt
            }
        }
    }
}

/// (−1)^k for a whole number k.
fn sign_pow(k: f64) -> f64 {
    if k % 2.0 == 0.0 {
        1.0
    } else {
        -1.0
    }
}

/// φ(c) elementwise, computed in f64 whatever the tensor's dtype (LOSSES.md §14: margin
/// transforms at least in f32 even under mixed precision).
pub fn target_margin(c: &Tensor, margin: MarginFn, mode: GradientMode) -> Result<Tensor> {
    let y = with_float!(c.dtype(), "target_margin", |T| {
        let v = c.as_slice::<T>()?;
        let out: Vec<T> = v
            .iter()
            .map(|&e| T::from_f64(margin.value(e.to_f64())))
            .collect();
        Tensor::from_vec(out, c.dims())
    })?;
    let rule = MarginRule {
        c: c.detach(),
        margin,
        mode,
    };
    y.record(&[c], rule)
}

struct MarginRule {
    c: Tensor,
    margin: MarginFn,
    mode: GradientMode,
}

impl BackwardRule for MarginRule {
    fn name(&self) -> &'static str {
        "target_margin"
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        if self.mode == GradientMode::Detached {
            return Ok(vec![Some(g.clone())]);
        }
        let dc = with_float!(g.dtype(), "target_margin", |T| {
            let (c, gv) = (self.c.as_slice::<T>()?, g.as_slice::<T>()?);
            let out: Vec<T> = c
                .iter()
                .zip(gv)
                .map(|(&ci, &gi)| gi * T::from_f64(self.margin.derivative(ci.to_f64())))
                .collect();
            Tensor::from_vec(out, g.dims())
        })?;
        Ok(vec![Some(dc)])
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.c]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_examples_of_losses_md() {
        // §8: c = 0.8 -> cos(θ + 0.5) = 0.414411; combined (1, 0.3, 0.2) -> 0.386957.
        let arc = MarginFn::Angular {
            m: 0.5,
            fallback: Fallback::Threshold,
        };
        assert!((arc.value(0.8) - 0.414411).abs() < 1e-6);
        let comb = MarginFn::Combined {
            m1: 1.0,
            m2: 0.3,
            m3: 0.2,
        };
        assert!((comb.value(0.8) - 0.386957).abs() < 1e-6);
        // §5: ψ(0.8) = −0.8432 (k 0), ψ(0.3) = −2.3448 (k 1), ψ(−0.5) = −4.5 (k 2), m = 4.
        let psi = MarginFn::Multiplicative { m: 4 };
        assert!((psi.value(0.8) + 0.8432).abs() < 1e-4);
        assert!((psi.value(0.3) + 2.3448).abs() < 1e-4);
        assert!((psi.value(-0.5) + 4.5).abs() < 1e-12);
        assert!((psi.value(0.0) + 3.0).abs() < 1e-12); // §5 edge: c = 0 gives ψ = −3
                                                       // The threshold switch is discontinuous (§8): −1 on one side, −1.11730 on the other.
        let th = (PI - 0.5).cos();
        assert!((arc.value(th + 1e-12) + 1.0).abs() < 1e-5);
        assert!((arc.value(th) + 1.117_30).abs() < 1e-5);
    }

    #[test]
    fn psi_is_continuous_at_the_thresholds() {
        for m in 1..=4u32 {
            let f = MarginFn::Multiplicative { m };
            for j in 1..m {
                let c = (j as f64 * PI / m as f64).cos();
                let (l, r) = (f.value(c - 1e-9), f.value(c + 1e-9));
                assert!((l - r).abs() < 1e-6, "m {m} j {j}: {l} vs {r}");
            }
        }
    }

    #[test]
    fn derivative_is_finite_at_c_equal_one() {
        let arc = MarginFn::Angular {
            m: 0.5,
            fallback: Fallback::None,
        };
        assert!(arc.derivative(1.0).is_finite());
        assert!(arc.derivative(1.0000001).is_finite());
    }
}
