//! What an optimiser updates: anything whose trainable tensors can be visited by name.
//!
//! Parameters are immutable tensors; an update *replaces* each one with a new tensor. The
//! optimiser therefore keys its state (momentum buffers, Adam moments) by the parameter's
//! *name*, never by the tensor's id, which changes at every step.
//!
//! Three sources implement [`Params`]:
//! - every [`Module`] (a backbone, a layer): its `visit_parameters` names, which follow
//!   PyTorch's `state_dict` (`layer1.0.conv1.weight`), and its buffers (`bn1.running_mean`);
//! - [`NamedTensors`]: a plain list, for tensors that live outside a module (the class-weight
//!   matrix `W` of a margin-softmax head, the centres of a center loss);
//! - [`Joined`]: several of the above at once (a backbone and its head), for one clipping norm
//!   or one checkpoint.

use anglegrad_engine::Tensor;
use anglegrad_models::Module;

/// A set of named, trainable tensors (and optionally named buffers) that can be replaced.
pub trait Params {
    /// Calls `f(name, tensor)` for every trainable tensor; `f` may replace the tensor.
    fn for_each_param(&mut self, f: &mut dyn FnMut(&str, &mut Tensor));

    /// Calls `f(name, tensor)` for every non-trainable buffer (running statistics), which a
    /// checkpoint saves and restores but no optimiser touches.
    fn for_each_buffer(&mut self, _f: &mut dyn FnMut(&str, &mut Tensor)) {}

    /// The parameters as (name, tensor) pairs, in visiting order (cheap: tensors share storage).
    fn named_params(&mut self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        self.for_each_param(&mut |name, t| out.push((name.to_string(), t.clone())));
        out
    }
}

impl<M: Module + ?Sized> Params for M {
    fn for_each_param(&mut self, f: &mut dyn FnMut(&str, &mut Tensor)) {
        self.visit_parameters("", f);
    }

    fn for_each_buffer(&mut self, f: &mut dyn FnMut(&str, &mut Tensor)) {
        self.visit_buffers("", f);
    }
}

/// An ordered list of named tensors outside any module, e.g. a margin head's class weights:
///
/// ```ignore
/// let mut head = NamedTensors::new();
/// head.push("head.weight", Tensor::randn([classes, dim], 0.0, 0.01, DType::F32, &mut rng)?);
/// let w = tape.watch(head.get("head.weight").unwrap());
/// ```
#[derive(Clone, Debug, Default)]
pub struct NamedTensors {
    entries: Vec<(String, Tensor)>,
}

impl NamedTensors {
    pub fn new() -> NamedTensors {
        NamedTensors::default()
    }

    /// Appends a tensor, or replaces the one already under `name`.
    pub fn push(&mut self, name: impl Into<String>, tensor: Tensor) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = tensor,
            None => self.entries.push((name, tensor)),
        }
    }

    /// The tensor under `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.entries.iter().map(|(n, t)| (n.as_str(), t))
    }
}

impl<S: Into<String>> FromIterator<(S, Tensor)> for NamedTensors {
    fn from_iter<I: IntoIterator<Item = (S, Tensor)>>(iter: I) -> Self {
        let mut out = NamedTensors::new();
        for (name, t) in iter {
            out.push(name, t);
        }
        out
    }
}

impl Params for NamedTensors {
    fn for_each_param(&mut self, f: &mut dyn FnMut(&str, &mut Tensor)) {
        for (name, t) in &mut self.entries {
            f(name, t);
        }
    }
}

/// Several parameter sets seen as one, in the order they were added:
///
/// ```ignore
/// let norm = clip_grad_norm(&mut grads, &mut Joined::new().with(&mut backbone).with(&mut head), 5.0)?;
/// ```
///
/// Names must be unique across the sets (optimisers and checkpoints reject duplicates).
#[derive(Default)]
pub struct Joined<'a> {
    sets: Vec<&'a mut dyn Params>,
}

impl<'a> Joined<'a> {
    pub fn new() -> Joined<'a> {
        Joined { sets: Vec::new() }
    }

    /// Adds one more set.
    pub fn with(mut self, params: &'a mut dyn Params) -> Joined<'a> {
        self.sets.push(params);
        self
    }
}

impl Params for Joined<'_> {
    fn for_each_param(&mut self, f: &mut dyn FnMut(&str, &mut Tensor)) {
        for set in &mut self.sets {
            set.for_each_param(f);
        }
    }

    fn for_each_buffer(&mut self, f: &mut dyn FnMut(&str, &mut Tensor)) {
        for set in &mut self.sets {
            set.for_each_buffer(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anglegrad_engine::DType;

    #[test]
    fn named_tensors_replace_by_name_and_keep_order() {
        let mut p = NamedTensors::new();
        p.push("a", Tensor::zeros([2], DType::F32).unwrap());
        p.push("b", Tensor::zeros([3], DType::F32).unwrap());
        p.push("a", Tensor::ones([4], DType::F32).unwrap());
        let names: Vec<_> = p.named_params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(p.get("a").unwrap().dims(), [4]);
    }

    #[test]
    fn joined_visits_every_set_in_order() {
        let mut a: NamedTensors = [("x", Tensor::scalar(1.0f32))].into_iter().collect();
        let mut b: NamedTensors = [("y", Tensor::scalar(2.0f32))].into_iter().collect();
        let mut both = Joined::new().with(&mut a).with(&mut b);
        let names: Vec<_> = both.named_params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["x", "y"]);
    }
}
