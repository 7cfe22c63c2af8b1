//! Learning-rate schedules: each a pure function of the step, `lr(t)`.
//!
//! `t` counts optimiser steps already taken (0 for the first step), which is PyTorch's
//! `last_epoch` when `scheduler.step()` is called once after every `optimizer.step()`. Count
//! epochs instead and the same function is an epoch schedule (insightface's old `lr_step_func`).
//! Because `lr` depends on `t` only, resuming from a checkpoint needs only the step.
//!
//! | schedule | formula | PyTorch reference |
//! |---|---|---|
//! | [`Constant`] | `lr₀` | — |
//! | [`StepLr`] | `lr₀ · γ^⌊t/s⌋` | `StepLR(step_size=s, gamma=γ)` |
//! | [`MultiStepLr`] | `lr₀ · γ^#{mᵢ ≤ t}` | `MultiStepLR(milestones, gamma)` |
//! | [`WarmupCosine`] | linear warm-up over `w` steps from `f·lr₀`, then `lr_T + (lr₀ − lr_T)(1 + cos(π(t − w)/(T − w)))/2`, then `lr_T` | `SequentialLR([LinearLR(f, 1, w), CosineAnnealingLR(T − w, lr_T)], [w])` |
//! | [`WarmupPoly`] | `lr₀·t/w` for t < w, then `lr₀(1 − (t − w)/(T − w))^p`, then 0 | arcface_torch `PolyScheduler` (p = 2); `PolynomialLR(T, p)` when w = 0 |
//!
//! PyTorch computes most of these recursively (`lr ← lr·factor` each step); the closed forms
//! here agree with its values to rounding (≤ 1e-15 relative over thousands of steps; the tests
//! compare them).

use anglegrad_engine::{Error, Result};

const OP: &str = "lr_schedule";

/// A learning rate as a function of the number of steps taken.
pub trait LrSchedule {
    /// The learning rate of the step after `step` steps have been taken.
    fn lr(&self, step: u64) -> f64;
}

fn check(what: &str, ok: bool, value: impl std::fmt::Display) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(OP, format!("{what}: got {value}")))
    }
}

fn check_lr(what: &str, lr: f64) -> Result<()> {
    check(
        &format!("{what} must be finite and ≥ 0"),
        lr.is_finite() && lr >= 0.0,
        lr,
    )
}

/// The same learning rate at every step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Constant(pub f64);

impl LrSchedule for Constant {
    fn lr(&self, _step: u64) -> f64 {
        self.0
    }
}

/// `lr₀ · γ^⌊t/s⌋`: decay by γ every `s` steps (`torch.optim.lr_scheduler.StepLR`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLr {
    base_lr: f64,
    step_size: u64,
    gamma: f64,
}

impl StepLr {
    pub fn new(base_lr: f64, step_size: u64, gamma: f64) -> Result<StepLr> {
        check_lr("base_lr", base_lr)?;
        check("step_size must be ≥ 1", step_size >= 1, step_size)?;
        check_lr("gamma", gamma)?;
        Ok(StepLr {
            base_lr,
            step_size,
            gamma,
        })
    }
}

impl LrSchedule for StepLr {
    fn lr(&self, step: u64) -> f64 {
        self.base_lr * self.gamma.powf((step / self.step_size) as f64)
    }
}

/// `lr₀ · γ^k` where k is the number of milestones ≤ t (`MultiStepLR`; a milestone listed
/// twice decays twice, as in PyTorch, whose milestones are a multiset).
#[derive(Clone, Debug, PartialEq)]
pub struct MultiStepLr {
    base_lr: f64,
    milestones: Vec<u64>,
    gamma: f64,
}

impl MultiStepLr {
    pub fn new(base_lr: f64, milestones: impl Into<Vec<u64>>, gamma: f64) -> Result<MultiStepLr> {
        check_lr("base_lr", base_lr)?;
        check_lr("gamma", gamma)?;
        let mut milestones = milestones.into();
        milestones.sort_unstable();
        Ok(MultiStepLr {
            base_lr,
            milestones,
            gamma,
        })
    }
}

impl LrSchedule for MultiStepLr {
    fn lr(&self, step: u64) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= step);
        self.base_lr * self.gamma.powf(passed as f64)
    }
}

/// Linear warm-up, then cosine annealing to a final learning rate, then constant:
///
/// ```text
/// t < w:       lr₀ · (f + (1 − f) · t/w)                          LinearLR(start_factor=f)
/// w ≤ t ≤ T:   lr_T + (lr₀ − lr_T) · (1 + cos(π (t − w)/(T − w))) / 2   CosineAnnealingLR(T_max=T−w, eta_min=lr_T)
/// t > T:       lr_T                         (PyTorch's cosine would rise again: it is periodic)
/// ```
///
/// PyTorch: `SequentialLR(opt, [LinearLR(opt, f, 1.0, w), CosineAnnealingLR(opt, T − w, lr_T)],
/// milestones=[w])`; with w = 0 it is `CosineAnnealingLR(opt, T, lr_T)` alone. f may be 0
/// (PyTorch's `LinearLR` needs f > 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmupCosine {
    base_lr: f64,
    warmup_steps: u64,
    warmup_start_factor: f64,
    total_steps: u64,
    final_lr: f64,
}

impl WarmupCosine {
    /// lr₀ = `base_lr`, w = `warmup_steps`, f = `warmup_start_factor`, T = `total_steps`,
    /// lr_T = `final_lr`.
    pub fn new(
        base_lr: f64,
        warmup_steps: u64,
        warmup_start_factor: f64,
        total_steps: u64,
        final_lr: f64,
    ) -> Result<WarmupCosine> {
        check_lr("base_lr", base_lr)?;
        check_lr("final_lr", final_lr)?;
        check(
            "warmup_start_factor must be in [0, 1]",
            (0.0..=1.0).contains(&warmup_start_factor),
            warmup_start_factor,
        )?;
        check(
            "total_steps must exceed warmup_steps",
            total_steps > warmup_steps,
            format!("total {total_steps}, warm-up {warmup_steps}"),
        )?;
        Ok(WarmupCosine {
            base_lr,
            warmup_steps,
            warmup_start_factor,
            total_steps,
            final_lr,
        })
    }
}

impl LrSchedule for WarmupCosine {
    fn lr(&self, step: u64) -> f64 {
        let (w, f) = (self.warmup_steps, self.warmup_start_factor);
        if step < w {
            return self.base_lr * (f + (1.0 - f) * step as f64 / w as f64);
        }
        let t_cur = step.min(self.total_steps) - w;
        let t_max = self.total_steps - w;
        let cos = (std::f64::consts::PI * t_cur as f64 / t_max as f64).cos();
        self.final_lr + (self.base_lr - self.final_lr) * (1.0 + cos) / 2.0
    }
}

/// Linear warm-up from 0, then polynomial decay to 0 (insightface arcface_torch's
/// `PolyScheduler`, power 2):
///
/// ```text
/// t < w:       lr₀ · t / w
/// w ≤ t ≤ T:   lr₀ · (1 − (t − w)/(T − w))^p
/// t > T:       0
/// ```
///
/// This is `PolyScheduler.get_lr()` at `last_epoch = t`. Note that arcface_torch's training
/// loop applies it one step late: its constructor runs `step()` once and then resets
/// `last_epoch` to −1, so its optimiser steps 0 and 1 both use lr(0) = 0 and step k ≥ 1 uses
/// lr(k − 1); to replay such a run exactly call `lr(step.saturating_sub(1))`. With w = 0 this
/// is `torch.optim.lr_scheduler.PolynomialLR(total_iters=T, power=p)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WarmupPoly {
    base_lr: f64,
    warmup_steps: u64,
    total_steps: u64,
    power: f64,
}

impl WarmupPoly {
    pub fn new(
        base_lr: f64,
        warmup_steps: u64,
        total_steps: u64,
        power: f64,
    ) -> Result<WarmupPoly> {
        check_lr("base_lr", base_lr)?;
        check(
            "total_steps must exceed warmup_steps",
            total_steps > warmup_steps,
            format!("total {total_steps}, warm-up {warmup_steps}"),
        )?;
        check(
            "power must be finite and > 0",
            power.is_finite() && power > 0.0,
            power,
        )?;
        Ok(WarmupPoly {
            base_lr,
            warmup_steps,
            total_steps,
            power,
        })
    }

    /// arcface_torch's `PolyScheduler(base_lr, max_steps, warmup_steps)`: power 2.
    pub fn arcface(base_lr: f64, warmup_steps: u64, total_steps: u64) -> Result<WarmupPoly> {
        WarmupPoly::new(base_lr, warmup_steps, total_steps, 2.0)
    }
}

impl LrSchedule for WarmupPoly {
    fn lr(&self, step: u64) -> f64 {
        let w = self.warmup_steps;
        if step < w {
            return self.base_lr * (step as f64 / w as f64);
        }
        if step > self.total_steps {
            return 0.0;
        }
        let progress = (step - w) as f64 / (self.total_steps - w) as f64;
        self.base_lr * (1.0 - progress).powf(self.power)
    }
}

impl<S: LrSchedule + ?Sized> LrSchedule for Box<S> {
    fn lr(&self, step: u64) -> f64 {
        (**self).lr(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let s = StepLr::new(0.1, 10, 0.5).unwrap();
        assert_eq!(
            [s.lr(0), s.lr(9), s.lr(10), s.lr(25)],
            [0.1, 0.1, 0.05, 0.025]
        );
        let s = MultiStepLr::new(1.0, [30, 10], 0.1).unwrap();
        assert_eq!([s.lr(9), s.lr(10), s.lr(29)], [1.0, 0.1, 0.1]);
        assert!((s.lr(30) - 0.01).abs() < 1e-17);
        let s = WarmupCosine::new(1.0, 10, 0.0, 110, 0.1).unwrap();
        assert_eq!([s.lr(0), s.lr(5), s.lr(10)], [0.0, 0.5, 1.0]);
        assert!((s.lr(60) - 0.55).abs() < 1e-15); // half-way: (1 + 0.1)/2
        assert_eq!([s.lr(110), s.lr(500)], [0.1, 0.1]);
        let s = WarmupPoly::arcface(0.1, 10, 20).unwrap();
        assert_eq!(
            [s.lr(0), s.lr(5), s.lr(10), s.lr(20), s.lr(21)],
            [0.0, 0.05, 0.1, 0.0, 0.0]
        );
        assert!((s.lr(15) - 0.025).abs() < 1e-17);
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(StepLr::new(0.1, 0, 0.5).is_err());
        assert!(WarmupCosine::new(0.1, 10, 0.0, 10, 0.0).is_err());
        assert!(WarmupCosine::new(0.1, 1, 1.5, 10, 0.0).is_err());
        assert!(WarmupPoly::new(f64::NAN, 1, 10, 2.0).is_err());
    }
}
