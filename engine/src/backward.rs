//! The backward walk: the one place where gradients are un-broadcast and accumulated.
//!
//! Starting from ∂L/∂L = 1 at the loss, visit the recorded nodes from last to first. For each
//! node whose output has a gradient g:
//! 1. ask its rule for the input gradients (chain rule: ∂L/∂x = ∂L/∂y · ∂y/∂x);
//! 2. **un-broadcast**: an input of shape [3] added to a [2, 3] tensor was read twice, so its
//!    gradient is the [2, 3] gradient summed over the broadcast axis. Rules return gradients in
//!    the output's broadcast shape and this file sums them down, for every op at once;
//! 3. **accumulate**: a tensor used by several ops receives the sum of their gradients (the
//!    multivariate chain rule), so each contribution is added, never overwritten.
//!
//! Gradients of intermediate tensors are dropped as soon as their node has been processed; only
//! the watched tensors' gradients are returned. A watched tensor that does not reach the loss
//! gets a gradient of zeros (not a missing entry): "this parameter does not affect the loss" is
//! a fact about the gradient, and an optimiser can step every parameter uniformly.

use std::collections::{HashMap, HashSet};

use anglegrad_kernels::cpu::reduce::sum_to_shape;
use smallvec::SmallVec;

use crate::storage::Storage;
use crate::tensor::TensorId;
use crate::{Error, Grads, Result, Shape, Tape, Tensor};

pub(crate) fn backward(tape: &Tape, output: &Tensor, seed: Option<&Tensor>) -> Result<Grads> {
    let on_this_tape = output.tape().is_some_and(|t| t.same_as(tape));
    if !on_this_tape {
        return Err(Error::Tape(
            "backward: this output was not recorded on this tape (was any input watched, and \
             has the tape already run backward?)"
                .into(),
        ));
    }
    let seed = match seed {
        Some(s) => {
            if s.shape() != output.shape() || s.dtype() != output.dtype() {
                return Err(Error::ShapeMismatch {
                    op: "backward seed",
                    lhs: output.shape().clone(),
                    rhs: s.shape().clone(),
                });
            }
            s.detach()
        }
        None => {
            if output.numel() != 1 {
                return Err(Error::invalid(
                    "backward",
                    format!(
                        "the loss must have one element, got shape {} (use backward_with_seed)",
                        output.shape()
                    ),
                ));
            }
            Tensor::ones(output.shape().clone(), output.dtype())?
        }
    };

    // Take the nodes out of the tape: the tape is finished and its saved values are freed as
    // the walk goes.
    let (nodes, watched) = {
        let mut state = tape.state();
        state.finished = true;
        (
            std::mem::take(&mut state.nodes),
            std::mem::take(&mut state.watched),
        )
    };
    let keep: HashSet<TensorId> = watched.iter().map(|w| w.id).collect();

    let mut grads: HashMap<TensorId, Tensor> = HashMap::new();
    grads.insert(output.id(), seed);

    for node in nodes.into_iter().rev() {
        let grad_output = if keep.contains(&node.output) {
            grads.get(&node.output).cloned()
        } else {
            grads.remove(&node.output)
        };
        let Some(grad_output) = grad_output else {
            continue;
        };
        let needs: SmallVec<[bool; 3]> = node.inputs.iter().map(|i| i.tracked).collect();
        if !needs.contains(&true) {
            continue;
        }
        let name = node.rule.name();
        let input_grads = node.rule.backward(&grad_output, &needs)?;
        if input_grads.len() != node.inputs.len() {
            return Err(Error::Tape(format!(
                "{name}: backward rule returned {} gradients for {} inputs",
                input_grads.len(),
                node.inputs.len()
            )));
        }
        for (input, grad) in node.inputs.iter().zip(input_grads) {
            let Some(grad) = grad.filter(|_| input.tracked) else {
                continue;
            };
            if grad.dtype() != input.dtype {
                return Err(Error::DTypeMismatch {
                    op: name,
                    lhs: input.dtype,
                    rhs: grad.dtype(),
                });
            }
            let grad = unbroadcast(name, &grad, &input.shape)?;
            accumulate(&mut grads, input.id, grad)?;
        }
    }

    let mut result = Grads::default();
    for w in watched {
        let g = match grads.remove(&w.id) {
            Some(g) => g,
            None => Tensor::zeros(w.shape.clone(), w.dtype)?,
        };
        result.insert(w.id, g);
    }
    Ok(result)
}

/// Sums a gradient in a broadcast shape down to the shape of the input it belongs to.
pub fn unbroadcast(op: &'static str, grad: &Tensor, target: &Shape) -> Result<Tensor> {
    if grad.shape() == target {
        return Ok(grad.detach());
    }
    let reducible = anglegrad_kernels::cpu::broadcast::broadcast_dims(target.dims(), grad.dims())
        .is_some_and(|d| d == grad.dims());
    if !reducible || grad.numel() == 0 && target.numel() != 0 {
        return Err(Error::ShapeMismatch {
            op,
            lhs: target.clone(),
            rhs: grad.shape().clone(),
        });
    }
    let n = target.numel();
    let storage = crate::map_storage!(grad.storage(), |g| {
        let mut out = vec![Default::default(); n];
        sum_to_shape(g, grad.dims(), target.dims(), &mut out);
        out
    });
    Tensor::from_storage(storage, target.clone())
}

fn accumulate(grads: &mut HashMap<TensorId, Tensor>, id: TensorId, grad: Tensor) -> Result<()> {
    let Some(previous) = grads.remove(&id) else {
        grads.insert(id, grad);
        return Ok(());
    };
    let sum = match (previous.storage(), grad.storage()) {
        (Storage::F32(a), Storage::F32(b)) => Storage::F32(std::sync::Arc::new(
            a.iter().zip(b.iter()).map(|(x, y)| x + y).collect(),
        )),
        (Storage::F64(a), Storage::F64(b)) => Storage::F64(std::sync::Arc::new(
            a.iter().zip(b.iter()).map(|(x, y)| x + y).collect(),
        )),
        _ => {
            return Err(Error::DTypeMismatch {
                op: "accumulate gradient",
                lhs: previous.dtype(),
                rhs: grad.dtype(),
            })
        }
    };
    grads.insert(id, Tensor::from_storage(sum, previous.shape().clone())?);
    Ok(())
}
