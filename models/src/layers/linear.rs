//! `Linear`: the fully connected layer, y = x·Wᵀ + b, laid out as PyTorch's `nn.Linear`.
//!
//! Shape legend: x [N, in], weight [out, in], bias [out], y [N, out].
//! Default initialisation (PyTorch's): weight and bias U(−1/√in, 1/√in).

use std::fmt;

use anglegrad_engine::{DType, Result, Rng, Tape, Tensor};
use anglegrad_ops as ops;

use crate::check::{self, Dim};
use crate::init;
use crate::module::{join, use_param, Mode, Module};

/// A fully connected layer.
#[derive(Clone, Debug)]
pub struct Linear {
    /// [out, in]
    pub weight: Tensor,
    /// [out], if the layer has a bias.
    pub bias: Option<Tensor>,
}

impl Linear {
    /// A layer with PyTorch's default initialisation.
    pub fn new(
        in_features: usize,
        out_features: usize,
        bias: bool,
        dtype: DType,
        rng: &mut Rng,
    ) -> Result<Linear> {
        if in_features == 0 || out_features == 0 {
            return Err(check::config(
                "Linear",
                format!("in_features and out_features must be >= 1, got {in_features} and {out_features}"),
            ));
        }
        let mut weight = Tensor::zeros([out_features, in_features], dtype)?;
        init::default_weight_(&mut weight, rng)?;
        let bias = if bias {
            let mut b = Tensor::zeros([out_features], dtype)?;
            init::default_bias_(&mut b, weight.dims(), rng)?;
            Some(b)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }

    /// A layer around given tensors (weight [out, in], bias [out]).
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        let ok_bias = bias
            .as_ref()
            .is_none_or(|b| weight.rank() == 2 && b.dims() == [weight.dims()[0]]);
        if weight.rank() != 2 || !ok_bias {
            return Err(check::config(
                "Linear",
                format!(
                    "weight must be [out, in] and bias [out], got {} and {:?}",
                    weight.shape(),
                    bias.as_ref().map(|b| b.shape().clone())
                ),
            ));
        }
        Ok(Linear { weight, bias })
    }

    pub fn in_features(&self) -> usize {
        self.weight.dims()[1]
    }

    pub fn out_features(&self) -> usize {
        self.weight.dims()[0]
    }
}

impl fmt::Display for Linear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Linear(in_features={}, out_features={}, bias={})",
            self.in_features(),
            self.out_features(),
            self.bias.is_some()
        )
    }
}

impl Module for Linear {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        check::input(
            "Linear",
            self,
            x,
            &[&[Dim::Any("N"), Dim::Is(self.in_features())]],
        )?;
        let w = use_param(&self.weight, tape);
        let y = ops::matmul_t(x, &w, false, true)?;
        match &self.bias {
            Some(b) => ops::add(&y, &use_param(b, tape)),
            None => Ok(y),
        }
    }

    fn visit_parameters(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        f(&join(prefix, "weight"), &mut self.weight);
        if let Some(b) = &mut self.bias {
            f(&join(prefix, "bias"), b);
        }
    }

    fn set_mode(&mut self, _mode: Mode) {}
}
