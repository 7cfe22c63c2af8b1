//! The `Module` trait: a layer or a network with named parameters.
//!
//! Parameters are plain tensors stored in the module. To train, watch them on a tape during
//! the forward: `forward(x, Some(&tape))` makes each layer call `tape.watch(&self.weight)`
//! before using it, so the gradients come back keyed by the parameters' ids and an optimiser
//! can find each one with `grads.get(&param)`. Without a tape (`None`) the forward records
//! nothing: evaluation costs no memory for saved values.
//!
//! Names follow PyTorch's `state_dict` conventions (`layer1.0.conv1.weight`,
//! `bn1.running_mean`), so checkpoints line up with torchvision / insightface models.

use anglegrad_engine::{Result, Tape, Tensor};

/// Whether layers behave as in training (batch statistics, dropout on) or evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Train,
    Eval,
}

/// A differentiable building block with named parameters and buffers.
pub trait Module {
    /// The forward pass. With a tape, parameters are watched and every op is recorded; in
    /// training mode it may update buffers (batch-norm running statistics), hence `&mut self`.
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor>;

    /// Calls `f(name, tensor)` for every trainable parameter, names prefixed by `prefix`.
    fn visit_parameters(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor));

    /// Calls `f(name, tensor)` for every non-trainable buffer (running statistics).
    fn visit_buffers(&mut self, _prefix: &str, _f: &mut dyn FnMut(&str, &mut Tensor)) {}

    /// Switches between training and evaluation behaviour (recursively).
    fn set_mode(&mut self, mode: Mode);

    /// The parameters as (name, tensor) pairs, in a stable order.
    fn parameters(&mut self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        self.visit_parameters("", &mut |name, t| out.push((name.to_string(), t.clone())));
        out
    }

    /// Total number of trainable scalars.
    fn parameter_count(&mut self) -> usize {
        let mut n = 0;
        self.visit_parameters("", &mut |_, t| n += t.numel());
        n
    }
}

/// `prefix.name`, or `name` at the top level: how nested module names are built.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The tensor to compute with: the parameter watched on the tape when training, as is otherwise.
pub fn use_param(p: &Tensor, tape: Option<&Tape>) -> Tensor {
    match tape {
        Some(t) => t.watch(p),
        None => p.clone(),
    }
}
