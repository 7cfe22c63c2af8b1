//! `Grads`: the result of a backward pass, one gradient per watched tensor.

use std::collections::HashMap;

use crate::tensor::TensorId;
use crate::{Error, Result, Tensor};

/// Gradients keyed by tensor id. Look one up with the tensor (or any handle of it: the watched
/// handle, the original, a detached copy all share the id).
///
/// Every tensor the tape watched has an entry; one that did not reach the loss has zeros.
#[derive(Default, Debug)]
pub struct Grads {
    map: HashMap<TensorId, Tensor>,
}

impl Grads {
    /// The gradient of `t`, if `t` was watched.
    pub fn get(&self, t: &Tensor) -> Option<&Tensor> {
        self.map.get(&t.id())
    }

    /// The gradient of `t`, or an error saying it was not watched.
    pub fn wrt(&self, t: &Tensor) -> Result<&Tensor> {
        self.get(t).ok_or_else(|| {
            Error::Tape(format!(
                "no gradient for tensor {} of shape {}: it was not watched by the tape",
                t.id(),
                t.shape()
            ))
        })
    }

    /// Takes the gradient of `t` out of the map.
    pub fn remove(&mut self, t: &Tensor) -> Option<Tensor> {
        self.map.remove(&t.id())
    }

    pub fn insert(&mut self, id: TensorId, grad: Tensor) {
        self.map.insert(id, grad);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&TensorId, &Tensor)> {
        self.map.iter()
    }
}
