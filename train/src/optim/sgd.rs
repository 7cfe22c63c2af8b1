//! Stochastic gradient descent with momentum, dampening, Nesterov and weight decay, exactly as
//! `torch.optim.SGD` defines it (PyTorch docs, "SGD" algorithm box; `_single_tensor_sgd`), plus
//! decoupled weight decay (SGDW, Loshchilov & Hutter 2019) as an option.
//!
//! Per parameter p with gradient g, learning rate γ (the step's lr × the group's multiplier),
//! weight decay λ, momentum μ, dampening τ, at the parameter's step t (1-based):
//!
//! ```text
//! g ← g + λ·p                          L2 weight decay (the default: decay through the gradient)
//! if μ ≠ 0:
//!     b ← g                            at t = 1 (PyTorch: no dampening on the first step)
//!     b ← μ·b + (1 − τ)·g              at t > 1
//!     g ← g + μ·b   if nesterov, else  g ← b
//! p ← p·(1 − γ·λ)                      decoupled weight decay instead of the first line
//! p ← p − γ·g
//! ```
//!
//! The decoupled form scales the parameter by `1 − γλ` before the gradient step, as
//! `torch.optim.AdamW` does, so `λ` means the same in SGDW and AdamW (γ includes any schedule).
//! The state is the `momentum_buffer` b (PyTorch's name), one per parameter with μ ≠ 0.

use anglegrad_engine::{with_float, Element, Error, Grads, Result, Tensor};

use super::groups::{resolve, ParamGroup};
use super::params::Params;
use super::state::{OptimState, ParamState};
use super::update::{self, Slot};
use super::Optimizer;

const OP: &str = "sgd";
const MOMENTUM_BUFFER: &str = "momentum_buffer";

/// SGD's settings (PyTorch's defaults: everything 0, no Nesterov).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SgdConfig {
    /// μ: 0 is plain SGD; 0.9 is the usual value.
    pub momentum: f64,
    /// τ: the fraction of the new gradient left out of the momentum buffer (after step 1).
    pub dampening: f64,
    /// Nesterov momentum (needs μ > 0 and τ = 0, as in PyTorch).
    pub nesterov: bool,
    /// λ for parameters no group overrides (insightface: 5e-4 with a batch of 512).
    pub weight_decay: f64,
    /// Decay `p ← p·(1 − γλ)` (SGDW) instead of adding `λp` to the gradient.
    pub decoupled_weight_decay: bool,
}

impl SgdConfig {
    /// SGD with momentum μ and weight decay λ (L2), the face-recognition default.
    pub fn momentum(momentum: f64, weight_decay: f64) -> SgdConfig {
        SgdConfig {
            momentum,
            weight_decay,
            ..SgdConfig::default()
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: f64| {
            Err(Error::invalid(
                OP,
                format!("{what} must be finite and ≥ 0, got {v}"),
            ))
        };
        for (what, v) in [
            ("momentum", self.momentum),
            ("dampening", self.dampening),
            ("weight_decay", self.weight_decay),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(what, v);
            }
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::invalid(
                OP,
                "Nesterov momentum requires a momentum and zero dampening",
            ));
        }
        Ok(())
    }
}

/// SGD over any [`Params`], with per-group settings and per-name state.
#[derive(Clone, Debug)]
pub struct Sgd {
    config: SgdConfig,
    groups: Vec<ParamGroup>,
    state: OptimState,
}

impl Sgd {
    /// An optimiser with these settings; `groups` override them per parameter (first match).
    pub fn new(config: SgdConfig, groups: Vec<ParamGroup>) -> Result<Sgd> {
        config.validate()?;
        for g in &groups {
            g.validate()?;
        }
        Ok(Sgd {
            config,
            groups,
            state: OptimState::default(),
        })
    }

    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    pub fn groups(&self) -> &[ParamGroup] {
        &self.groups
    }
}

impl Optimizer for Sgd {
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
            &mut |slot, st| sgd_tensor(&config, slot, st),
        )
    }

    fn state(&self) -> &OptimState {
        &self.state
    }

    fn set_state(&mut self, state: OptimState) -> Result<()> {
        let required: &[&str] = if self.config.momentum != 0.0 {
            &[MOMENTUM_BUFFER]
        } else {
            &[]
        };
        state.check_slots(OP, &[MOMENTUM_BUFFER], required)?;
        self.state = state;
        Ok(())
    }
}

/// One parameter's update; returns the new parameter and updates `st`.
fn sgd_tensor(config: &SgdConfig, slot: &Slot<'_>, st: &mut ParamState) -> Result<Tensor> {
    let old_buf = update::buffer(OP, slot, st, MOMENTUM_BUFFER)?.cloned();
    let (new_param, new_buf) = with_float!(slot.param.dtype(), OP, |T| {
        let p = slot.param.as_slice::<T>()?;
        let g = slot.grad.as_slice::<T>()?;
        let b = old_buf.as_ref().map(|b| b.as_slice::<T>()).transpose()?;
        let (p, b) = sgd_kernel(config, slot.lr, slot.weight_decay, p, g, b);
        Ok((
            Tensor::from_vec(p, slot.param.dims())?,
            b.map(|b| Tensor::from_vec(b, slot.param.dims()))
                .transpose()?,
        ))
    })?;
    st.step += 1;
    if let Some(b) = new_buf {
        st.buffers.insert(MOMENTUM_BUFFER.to_string(), b);
    }
    Ok(new_param)
}

/// The update on slices, in PyTorch's order of operations (each `add(x, alpha=a)` is
/// `self + a·x`), so f64 runs agree with torch to rounding. Returns (new p, new buffer).
fn sgd_kernel<T: Element>(
    config: &SgdConfig,
    lr: f64,
    weight_decay: f64,
    p: &[T],
    g: &[T],
    buf: Option<&[T]>,
) -> (Vec<T>, Option<Vec<T>>) {
    let l2 = weight_decay != 0.0 && !config.decoupled_weight_decay;
    let decay = weight_decay != 0.0 && config.decoupled_weight_decay;
    let wd = T::from_f64(weight_decay);
    let shrink = T::from_f64(1.0 - lr * weight_decay);
    let mu = T::from_f64(config.momentum);
    let keep = T::from_f64(1.0 - config.dampening);
    let neg_lr = T::from_f64(-lr);
    let use_momentum = config.momentum != 0.0;

    let mut new_p = Vec::with_capacity(p.len());
    let mut new_b = use_momentum.then(|| Vec::with_capacity(p.len()));
    for i in 0..p.len() {
        let mut d = g[i];
        if l2 {
            d += wd * p[i];
        }
        if let Some(nb) = new_b.as_mut() {
            let b = match buf {
                None => d,
                Some(b) => b[i] * mu + keep * d,
            };
            nb.push(b);
            d = if config.nesterov { d + mu * b } else { b };
        }
        let mut pi = p[i];
        if decay {
            pi *= shrink;
        }
        new_p.push(pi + neg_lr * d);
    }
    (new_p, new_b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::NamedTensors;
    use anglegrad_engine::Tape;

    /// Hand-worked: p = 1, g = 0.5 each step, lr 0.1, μ 0.9, τ 0:
    /// b1 = 0.5, p1 = 1 − 0.05 = 0.95; b2 = 0.9·0.5 + 0.5 = 0.95, p2 = 0.95 − 0.095 = 0.855.
    #[test]
    fn momentum_by_hand() {
        let mut params: NamedTensors = [("w", Tensor::scalar(1.0f64))].into_iter().collect();
        let mut opt = Sgd::new(SgdConfig::momentum(0.9, 0.0), vec![]).unwrap();
        for expected in [0.95, 0.855] {
            let tape = Tape::new();
            let w = tape.watch(params.get("w").unwrap());
            let loss = anglegrad_ops::scale(&w, 0.5).unwrap();
            let grads = tape.backward(&loss).unwrap();
            assert_eq!(opt.step(&mut params, &grads, 0.1).unwrap(), 1);
            let got = params.get("w").unwrap().to_scalar_f64().unwrap();
            assert!((got - expected).abs() < 1e-15, "{got} vs {expected}");
        }
        assert_eq!(opt.state().get("w").unwrap().step, 2);
    }

    #[test]
    fn nesterov_needs_momentum_and_no_dampening() {
        let cfg = SgdConfig {
            nesterov: true,
            ..SgdConfig::default()
        };
        assert!(Sgd::new(cfg, vec![]).is_err());
        let cfg = SgdConfig {
            nesterov: true,
            momentum: 0.9,
            dampening: 0.1,
            ..SgdConfig::default()
        };
        assert!(Sgd::new(cfg, vec![]).is_err());
        assert!(Sgd::new(SgdConfig::momentum(-0.1, 0.0), vec![]).is_err());
    }
}
