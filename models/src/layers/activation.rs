//! Activation layers: `ReLU` and `PReLU` (He et al. 2015, "Delving deep into rectifiers"),
//! the learnable-slope ReLU that the face backbones use (IResNet, MobileFaceNet, LeNet++).
//!
//! Shape legend: x, y [N, C, …]; PReLU weight [C] (one slope per channel) or [1] (one shared
//! slope, PyTorch's `nn.PReLU()` default), initialised to 0.25 as PyTorch does.
//!   relu(x) = max(x, 0);   prelu(x) = x (x > 0), a_c·x (x ≤ 0)

use std::fmt;

use anglegrad_engine::{DType, Result, Tape, Tensor};
use anglegrad_ops as ops;

use crate::check::{self, Dim};
use crate::module::{join, use_param, Mode, Module};

/// max(x, 0), no parameters.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReLU;

impl Module for ReLU {
    fn forward(&mut self, x: &Tensor, _tape: Option<&Tape>) -> Result<Tensor> {
        ops::relu(x)
    }
    fn visit_parameters(&mut self, _prefix: &str, _f: &mut dyn FnMut(&str, &mut Tensor)) {}
    fn set_mode(&mut self, _mode: Mode) {}
}

/// A ReLU whose negative side has a learnable slope per channel (or one shared slope).
#[derive(Clone, Debug)]
pub struct PReLU {
    /// The slopes, [C] or [1].
    pub weight: Tensor,
}

impl PReLU {
    /// `num_parameters` slopes (1 = shared by all channels, or the channel count), each 0.25.
    pub fn new(num_parameters: usize, dtype: DType) -> Result<PReLU> {
        if num_parameters == 0 {
            return Err(check::config(
                "PReLU",
                "num_parameters must be >= 1 (1 = one shared slope)",
            ));
        }
        Ok(PReLU {
            weight: Tensor::full([num_parameters], 0.25, dtype)?,
        })
    }

    pub fn num_parameters(&self) -> usize {
        self.weight.numel()
    }
}

impl fmt::Display for PReLU {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PReLU(num_parameters={})", self.num_parameters())
    }
}

impl Module for PReLU {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let n = self.num_parameters();
        let channels_ok = x.rank() >= 2 && (n == 1 || x.dims()[1] == n);
        if !channels_ok {
            let c = if n == 1 { Dim::Any("C") } else { Dim::Is(n) };
            return Err(check::mismatch(
                "PReLU",
                self,
                x,
                &[&[Dim::Any("N"), c, Dim::Any("…")]],
            ));
        }
        ops::prelu(x, &use_param(&self.weight, tape))
    }

    fn visit_parameters(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        f(&join(prefix, "weight"), &mut self.weight);
    }

    fn set_mode(&mut self, _mode: Mode) {}
}
