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

use anglegrad_engine::{Error, Result, Tape, Tensor};

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

    /// Total number of parameter scalars (PyTorch's `sum(p.numel() for p in m.parameters())`,
    /// frozen ones included).
    fn parameter_count(&mut self) -> usize {
        let mut n = 0;
        self.visit_parameters("", &mut |_, t| n += t.numel());
        n
    }

    /// The buffers as (name, tensor) pairs, in a stable order.
    fn buffers(&mut self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        self.visit_buffers("", &mut |name, t| out.push((name.to_string(), t.clone())));
        out
    }

    /// Parameters then buffers: what PyTorch's `state_dict()` holds (in a different order).
    fn state_dict(&mut self) -> Vec<(String, Tensor)> {
        let mut out = self.parameters();
        out.extend(self.buffers());
        out
    }

    /// Replaces every parameter and buffer by the tensor `lookup` returns for its name, like
    /// PyTorch's `load_state_dict(strict=True)` for the names: a missing name, or a shape that
    /// differs from the module's, is an error naming the entry and both shapes. Values are
    /// converted to the module's dtype (an f64 model can load f32 weights).
    fn load_state(&mut self, lookup: &dyn Fn(&str) -> Option<Tensor>) -> Result<()> {
        let mut problems = Vec::new();
        let mut load = |name: &str, slot: &mut Tensor| match lookup(name) {
            None => problems.push(format!("missing {name} {}", slot.shape())),
            Some(t) if t.dims() != slot.dims() => problems.push(format!(
                "{name}: the module has shape {}, the state has {}",
                slot.shape(),
                t.shape()
            )),
            // A fresh tensor (new id) over the loaded buffer: two slots loaded from one
            // tensor must not share a gradient.
            Some(t) => match anglegrad_ops::to_dtype(&t.detach(), slot.dtype())
                .and_then(|t| Tensor::from_storage(t.storage().clone(), t.shape()))
            {
                Ok(t) => *slot = t,
                Err(e) => problems.push(format!("{name}: {e}")),
            },
        };
        self.visit_parameters("", &mut load);
        self.visit_buffers("", &mut load);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid("load_state", problems.join("; ")))
        }
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

/// The named sub-modules of a container, in their stable order: what a container's
/// `visit_parameters`, `visit_buffers` and `set_mode` walk (with the helpers below).
pub type Children<'a> = Vec<(String, &'a mut dyn Module)>;

/// `visit_parameters` of a container: each child's parameters under `prefix.child_name`.
pub fn visit_children_parameters(
    children: Children<'_>,
    prefix: &str,
    f: &mut dyn FnMut(&str, &mut Tensor),
) {
    for (name, child) in children {
        child.visit_parameters(&join(prefix, &name), f);
    }
}

/// `visit_buffers` of a container.
pub fn visit_children_buffers(
    children: Children<'_>,
    prefix: &str,
    f: &mut dyn FnMut(&str, &mut Tensor),
) {
    for (name, child) in children {
        child.visit_buffers(&join(prefix, &name), f);
    }
}

/// `set_mode` of a container.
pub fn set_children_mode(children: Children<'_>, mode: Mode) {
    for (_, child) in children {
        child.set_mode(mode);
    }
}

/// A boxed module is a module (so `Box<dyn Module>` can be handed to anything that takes one,
/// e.g. an optimiser).
impl<M: Module + ?Sized> Module for Box<M> {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        (**self).forward(x, tape)
    }
    fn visit_parameters(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        (**self).visit_parameters(prefix, f)
    }
    fn visit_buffers(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        (**self).visit_buffers(prefix, f)
    }
    fn set_mode(&mut self, mode: Mode) {
        (**self).set_mode(mode)
    }
}
