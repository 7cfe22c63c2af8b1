//! `Flatten`: [N, d1, d2, …] -> [N, d1·d2·…] (PyTorch's `nn.Flatten()`, start_dim = 1).
//! Free: the buffer is shared, only the shape changes.

use anglegrad_engine::{Result, Tape, Tensor};
use anglegrad_ops as ops;

use crate::check::{self, Dim};
use crate::module::{Mode, Module};

/// Keeps the batch axis, merges all the others.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flatten;

impl Module for Flatten {
    fn forward(&mut self, x: &Tensor, _tape: Option<&Tape>) -> Result<Tensor> {
        if x.rank() == 0 {
            return Err(check::mismatch(
                "Flatten",
                &"Flatten()",
                x,
                &[&[Dim::Any("N"), Dim::Any("…")]],
            ));
        }
        let n = x.dims()[0];
        let rest: usize = x.dims()[1..].iter().product();
        ops::reshape(x, &[n, rest])
    }

    fn visit_parameters(&mut self, _prefix: &str, _f: &mut dyn FnMut(&str, &mut Tensor)) {}

    fn set_mode(&mut self, _mode: Mode) {}
}
