//! What every optimiser's `step` shares: find each parameter's gradient, resolve its group's
//! settings, run the optimiser's per-tensor rule, and write the new parameters and state back.
//!
//! The step is all-or-nothing: every new tensor is computed first, and only when all of them
//! succeeded are the parameters replaced and the state committed, so an error (a gradient of
//! the wrong shape, say) leaves the model and the optimiser exactly as they were.
//!
//! A parameter with no gradient in `grads` (not watched this step: frozen, or not used by the
//! loss) is skipped and its state left alone, as PyTorch skips parameters whose `.grad` is None.

use std::collections::{HashMap, HashSet};

use anglegrad_engine::{Error, Grads, Result, Tensor};

use super::groups::Resolved;
use super::params::Params;
use super::state::{OptimState, ParamState};

/// One parameter as the optimiser's rule sees it.
pub(crate) struct Slot<'a> {
    pub name: &'a str,
    pub param: &'a Tensor,
    pub grad: &'a Tensor,
    /// The group's learning rate: the `lr` given to `step` times the group's multiplier.
    pub lr: f64,
    /// The group's weight decay.
    pub weight_decay: f64,
}

/// Runs `rule` on every parameter that has a gradient; returns how many were updated.
///
/// `rule` gets the parameter and a copy of its state (fresh for a parameter not seen before),
/// returns the new parameter and updates the state copy in place.
pub(crate) fn apply(
    op: &'static str,
    params: &mut dyn Params,
    grads: &Grads,
    lr: f64,
    settings: &dyn Fn(&str, &Tensor) -> Resolved,
    state: &mut OptimState,
    rule: &mut dyn FnMut(&Slot<'_>, &mut ParamState) -> Result<Tensor>,
) -> Result<usize> {
    if !(lr.is_finite() && lr >= 0.0) {
        return Err(Error::invalid(
            op,
            format!("learning rate must be finite and ≥ 0, got {lr}"),
        ));
    }
    let mut seen = HashSet::new();
    let mut todo = Vec::new();
    let mut duplicate = None;
    params.for_each_param(&mut |name, p| {
        if !seen.insert(name.to_string()) {
            duplicate.get_or_insert_with(|| name.to_string());
        }
        if let Some(g) = grads.get(p) {
            todo.push((name.to_string(), p.clone(), g.clone()));
        }
    });
    if let Some(name) = duplicate {
        return Err(Error::invalid(
            op,
            format!("two parameters are named {name:?}; optimiser state is keyed by name"),
        ));
    }

    let mut updated = HashMap::with_capacity(todo.len());
    let mut new_states = Vec::with_capacity(todo.len());
    for (name, param, grad) in &todo {
        check_like(op, name, "gradient", grad, param)?;
        let resolved = settings(name, param);
        let slot = Slot {
            name,
            param,
            grad,
            lr: lr * resolved.lr_mult,
            weight_decay: resolved.weight_decay,
        };
        let mut st = state.params.get(name.as_str()).cloned().unwrap_or_default();
        let new_param = rule(&slot, &mut st)?;
        updated.insert(name.clone(), new_param);
        new_states.push((name.clone(), st));
    }

    let count = updated.len();
    params.for_each_param(&mut |name, p| {
        if let Some(new) = updated.remove(name) {
            *p = new;
        }
    });
    state.params.extend(new_states);
    Ok(count)
}

/// Checks that `t` (a gradient or a state buffer) has the parameter's shape and dtype; the
/// error names the parameter and what `t` is.
pub(crate) fn check_like(
    op: &'static str,
    name: &str,
    what: &str,
    t: &Tensor,
    param: &Tensor,
) -> Result<()> {
    if t.dims() != param.dims() || t.dtype() != param.dtype() {
        return Err(Error::invalid(
            op,
            format!(
                "parameter {name}: {what} is {} {} but the parameter is {} {}",
                t.dtype(),
                t.shape(),
                param.dtype(),
                param.shape()
            ),
        ));
    }
    Ok(())
}

/// The state buffer `slot` of a parameter, checked against the parameter, if there is one.
pub(crate) fn buffer<'s>(
    op: &'static str,
    slot: &Slot<'_>,
    state: &'s ParamState,
    buffer: &str,
) -> Result<Option<&'s Tensor>> {
    match state.buffers.get(buffer) {
        Some(b) => {
            check_like(op, slot.name, buffer, b, slot.param)?;
            Ok(Some(b))
        }
        None => Ok(None),
    }
}
