//! Adam with decoupled weight decay (AdamW, Loshchilov & Hutter 2019), exactly as
//! `torch.optim.AdamW` (PyTorch ≥ 2: `Adam` with `decoupled_weight_decay=True`,
//! `_single_tensor_adam`); with `decoupled_weight_decay: false` it is `torch.optim.Adam`
//! (Kingma & Ba 2015) with L2 weight decay.
//!
//! Per parameter p with gradient g, learning rate γ (step lr × group multiplier), decay λ,
//! betas β₁ β₂, ε, at the parameter's step t (1-based):
//!
//! ```text
//! p ← p·(1 − γλ)                         decoupled (AdamW)      | g ← g + λp   (Adam, L2)
//! m ← lerp(m, g, 1 − β₁)                 = β₁m + (1 − β₁)g
//! v ← β₂v + (1 − β₂)·g²
//! v̂ ← max(v̂, v)                          amsgrad only; v̂ replaces v below
//! p ← p − (γ / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```
//!
//! m, v (and v̂) start at 0. The state has PyTorch's names: `exp_avg` (m), `exp_avg_sq` (v),
//! `max_exp_avg_sq` (v̂), and the per-parameter `step` t. The arithmetic follows torch's order
//! (`lerp` with its two-branch formula, `addcmul`, `addcdiv` as `p + (c·m)/d`), and the
//! bias corrections are computed in f64 as torch does in Python floats.

use anglegrad_engine::{with_float, Element, Error, Float, Grads, Result, Tensor};

use super::groups::{resolve, ParamGroup};
use super::params::Params;
use super::state::{OptimState, ParamState};
use super::update::{self, Slot};
use super::Optimizer;

const OP: &str = "adamw";
const EXP_AVG: &str = "exp_avg";
const EXP_AVG_SQ: &str = "exp_avg_sq";
const MAX_EXP_AVG_SQ: &str = "max_exp_avg_sq";

/// AdamW's settings (PyTorch's defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// λ for parameters no group overrides (PyTorch's AdamW default 1e-2).
    pub weight_decay: f64,
    /// Keep the running maximum of v (Reddi et al. 2018).
    pub amsgrad: bool,
    /// true: AdamW (p ← p(1 − γλ)); false: Adam with L2 decay (g ← g + λp).
    pub decoupled_weight_decay: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
            decoupled_weight_decay: true,
        }
    }
}

impl AdamWConfig {
    fn validate(&self) -> Result<()> {
        for (what, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(Error::invalid(
                    OP,
                    format!("{what} must be in [0, 1), got {beta}"),
                ));
            }
        }
        for (what, v) in [("eps", self.eps), ("weight_decay", self.weight_decay)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::invalid(
                    OP,
                    format!("{what} must be finite and ≥ 0, got {v}"),
                ));
            }
        }
        Ok(())
    }
}

/// AdamW over any [`Params`], with per-group settings and per-name state.
#[derive(Clone, Debug)]
pub struct AdamW {
    config: AdamWConfig,
    groups: Vec<ParamGroup>,
    state: OptimState,
}

impl AdamW {
    /// An optimiser with these settings; `groups` override them per parameter (first match).
    pub fn new(config: AdamWConfig, groups: Vec<ParamGroup>) -> Result<AdamW> {
        config.validate()?;
        for g in &groups {
            g.validate()?;
        }
        Ok(AdamW {
            config,
            groups,
            state: OptimState::default(),
        })
    }

    pub fn config(&self) -> &AdamWConfig {
        &self.config
    }

    pub fn groups(&self) -> &[ParamGroup] {
        &self.groups
    }
}

impl Optimizer for AdamW {
    fn kind(&self) -> &'static str {
        OP
    }

    fn step(&mut self, params: &mut dyn Params, grads: &Grads, lr: f64) -> Result<usize> {
        let config = self.config;
        let groups = &self.groups;
        let settings = |name: &str, t: &Tensor| resolve(groups, name, t, config.weight_decay);
        update::apply(
            OP,
            params,
            grads,
            lr,
            &settings,
            &mut self.state,
            &mut |slot, st| adamw_tensor(&config, slot, st),
        )
    }

    fn state(&self) -> &OptimState {
        &self.state
    }

    fn set_state(&mut self, state: OptimState) -> Result<()> {
        let required: &[&str] = if self.config.amsgrad {
            &[EXP_AVG, EXP_AVG_SQ, MAX_EXP_AVG_SQ]
        } else {
            &[EXP_AVG, EXP_AVG_SQ]
        };
        state.check_slots(OP, &[EXP_AVG, EXP_AVG_SQ, MAX_EXP_AVG_SQ], required)?;
        self.state = state;
        Ok(())
    }
}

/// Scalars of one update, computed once per tensor in f64 (torch: Python floats).
#[derive(Clone, Copy)]
struct Coefficients {
    /// 1 − γλ (decoupled) — applied to p first.
    shrink: Option<f64>,
    /// λ (L2) — added to the gradient.
    l2: Option<f64>,
    /// γ / (1 − β₁ᵗ)
    step_size: f64,
    /// √(1 − β₂ᵗ)
    bias_correction2_sqrt: f64,
}

fn adamw_tensor(config: &AdamWConfig, slot: &Slot<'_>, st: &mut ParamState) -> Result<Tensor> {
    let m = update::buffer(OP, slot, st, EXP_AVG)?.cloned();
    let v = update::buffer(OP, slot, st, EXP_AVG_SQ)?.cloned();
    let vmax = update::buffer(OP, slot, st, MAX_EXP_AVG_SQ)?.cloned();
    let t = st.step + 1;
    let decays = slot.weight_decay != 0.0;
    let step = t as f64;
    let c = Coefficients {
        shrink: (decays && config.decoupled_weight_decay)
            .then_some(1.0 - slot.lr * slot.weight_decay),
        l2: (decays && !config.decoupled_weight_decay).then_some(slot.weight_decay),
        step_size: slot.lr / (1.0 - config.beta1.powf(step)),
        bias_correction2_sqrt: (1.0 - config.beta2.powf(step)).powf(0.5),
    };
    let dims = slot.param.dims();
    let (p, m, v, vmax) = with_float!(slot.param.dtype(), OP, |T| {
        let n = slot.param.numel();
        let zeros = || vec![T::ZERO; n];
        let mut m = m
            .map(|t| t.to_vec::<T>())
            .transpose()?
            .unwrap_or_else(zeros);
        let mut v = v
            .map(|t| t.to_vec::<T>())
            .transpose()?
            .unwrap_or_else(zeros);
        let mut vmax = match (config.amsgrad, vmax) {
            (false, _) => None,
            (true, Some(t)) => Some(t.to_vec::<T>()?),
            (true, None) => Some(zeros()),
        };
        let p = adamw_kernel(
            config,
            &c,
            slot.param.as_slice::<T>()?,
            slot.grad.as_slice::<T>()?,
            &mut m,
            &mut v,
            vmax.as_deref_mut(),
        );
        Ok((
            Tensor::from_vec(p, dims)?,
            Tensor::from_vec(m, dims)?,
            Tensor::from_vec(v, dims)?,
            vmax.map(|x| Tensor::from_vec(x, dims)).transpose()?,
        ))
    })?;
    st.step = t;
    st.buffers.insert(EXP_AVG.to_string(), m);
    st.buffers.insert(EXP_AVG_SQ.to_string(), v);
    if let Some(vmax) = vmax {
        st.buffers.insert(MAX_EXP_AVG_SQ.to_string(), vmax);
    }
    Ok(p)
}

/// torch's `lerp(start, end, w)`: `start + w(end − start)` for |w| < ½, else
/// `end − (end − start)(1 − w)` (exact at w = 1).
fn lerp<T: Element>(start: T, end: T, w: T) -> T {
    if w.abs() < T::from_f64(0.5) {
        start + w * (end - start)
    } else {
        end - (end - start) * (T::ONE - w)
    }
}

/// The update on slices; m, v, v̂ updated in place, returns the new p.
fn adamw_kernel<T: Element>(
    config: &AdamWConfig,
    c: &Coefficients,
    p: &[T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    mut vmax: Option<&mut [T]>,
) -> Vec<T> {
    let shrink = c.shrink.map(T::from_f64);
    let l2 = c.l2.map(T::from_f64);
    let w1 = T::from_f64(1.0 - config.beta1);
    let beta2 = T::from_f64(config.beta2);
    let one_minus_beta2 = T::from_f64(1.0 - config.beta2);
    let bc2_sqrt = T::from_f64(c.bias_correction2_sqrt);
    let eps = T::from_f64(config.eps);
    let neg_step_size = T::from_f64(-c.step_size);
    let mut out = Vec::with_capacity(p.len());
    for i in 0..p.len() {
        let mut pi = p[i];
        let mut gi = g[i];
        if let Some(s) = shrink {
            pi *= s;
        }
        if let Some(l2) = l2 {
            gi += l2 * p[i];
        }
        m[i] = lerp(m[i], gi, w1);
        v[i] = v[i] * beta2 + one_minus_beta2 * gi * gi;
        let second = match vmax.as_deref_mut() {
            Some(vmax) => {
                vmax[i] = vmax[i].max_nan(v[i]); // torch.maximum: NaN wins
                vmax[i]
            }
            None => v[i],
        };
        let denom = second.sqrt() / bc2_sqrt + eps;
        out.push(pi + neg_step_size * m[i] / denom);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::NamedTensors;
    use anglegrad_engine::Tape;

    /// At step 1 with no decay, m̂ = g and v̂ = g², so the step is γ·g/(|g| + ε) ≈ γ·sign(g).
    #[test]
    fn first_step_moves_by_lr_times_sign() {
        let mut params: NamedTensors = [("w", Tensor::from_vec(vec![1.0f64, -2.0], [2]).unwrap())]
            .into_iter()
            .collect();
        let cfg = AdamWConfig {
            weight_decay: 0.0,
            ..AdamWConfig::default()
        };
        let mut opt = AdamW::new(cfg, vec![]).unwrap();
        let tape = Tape::new();
        let w = tape.watch(params.get("w").unwrap());
        // loss = 3·w0 − 0.25·w1: g = [3, −0.25]
        let coef = Tensor::from_vec(vec![3.0f64, -0.25], [2]).unwrap();
        let loss = anglegrad_ops::sum_all(&anglegrad_ops::mul(&w, &coef).unwrap()).unwrap();
        let grads = tape.backward(&loss).unwrap();
        opt.step(&mut params, &grads, 0.01).unwrap();
        let got = params.get("w").unwrap().to_vec::<f64>().unwrap();
        let expect = [
            1.0 - 0.01 * 3.0 / (3.0 + 1e-8),
            -2.0 + 0.01 * 0.25 / (0.25 + 1e-8),
        ];
        for (g, e) in got.iter().zip(expect) {
            assert!((g - e).abs() < 1e-15, "{g} vs {e}");
        }
    }

    #[test]
    fn lerp_follows_torch_branches() {
        assert_eq!(lerp(1.0f64, 3.0, 0.25), 1.5);
        // w ≥ ½ takes the `end − (end − start)(1 − w)` branch: exactly `end` at w = 1.
        assert_eq!(lerp(0.1f64, 0.7, 1.0), 0.7);
    }

    #[test]
    fn bad_betas_are_rejected() {
        let cfg = AdamWConfig {
            beta2: 1.0,
            ..AdamWConfig::default()
        };
        assert!(AdamW::new(cfg, vec![]).is_err());
    }
}
