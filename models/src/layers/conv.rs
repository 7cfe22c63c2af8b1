//! `Conv2d`: a 2-D convolution layer, laid out as PyTorch's `nn.Conv2d`.
//!
//! Shape legend: x [N, Cin, H, W], weight [Cout, Cin/groups, KH, KW], bias [Cout],
//! y [N, Cout, Ho, Wo] with Ho = (H + 2·pad − dil·(KH − 1) − 1)/stride + 1.
//! groups = Cin = Cout is a depthwise convolution (MobileFaceNet).
//! Default initialisation (PyTorch's): weight and bias U(−1/√fan_in, 1/√fan_in),
//! fan_in = Cin/groups·KH·KW. The backbones re-initialise as their papers say.

use std::fmt;

use anglegrad_engine::{DType, Result, Rng, Tape, Tensor};
use anglegrad_ops::{self as ops, Conv2dOptions};

use crate::check::{self, Dim};
use crate::init;
use crate::module::{join, use_param, Mode, Module};

/// A 2-D convolution.
#[derive(Clone, Debug)]
pub struct Conv2d {
    /// [Cout, Cin/groups, KH, KW]
    pub weight: Tensor,
    /// [Cout], if the layer has a bias.
    pub bias: Option<Tensor>,
    /// Stride, padding, dilation, groups.
    pub options: Conv2dOptions,
}

impl Conv2d {
    /// A square `kernel`×`kernel` convolution with PyTorch's default initialisation.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        options: Conv2dOptions,
        bias: bool,
        dtype: DType,
        rng: &mut Rng,
    ) -> Result<Conv2d> {
        let g = options.groups;
        let (s, d) = (options.stride, options.dilation);
        let sane = [in_channels, out_channels, kernel, g, s.0, s.1, d.0, d.1]
            .iter()
            .all(|&v| v > 0);
        if !sane || in_channels % g != 0 || out_channels % g != 0 {
            return Err(check::config(
                "Conv2d",
                format!(
                    "Conv2d({in_channels}, {out_channels}, kernel {kernel}, {options:?}): sizes, \
                     stride and dilation must be >= 1 and both channel counts divisible by groups"
                ),
            ));
        }
        let mut weight = Tensor::zeros([out_channels, in_channels / g, kernel, kernel], dtype)?;
        init::default_weight_(&mut weight, rng)?;
        let bias = if bias {
            let mut b = Tensor::zeros([out_channels], dtype)?;
            init::default_bias_(&mut b, weight.dims(), rng)?;
            Some(b)
        } else {
            None
        };
        Ok(Conv2d {
            weight,
            bias,
            options,
        })
    }

    /// A layer around given tensors.
    pub fn from_tensors(
        weight: Tensor,
        bias: Option<Tensor>,
        options: Conv2dOptions,
    ) -> Result<Conv2d> {
        let ok_bias = bias
            .as_ref()
            .is_none_or(|b| weight.rank() == 4 && b.dims() == [weight.dims()[0]]);
        if weight.rank() != 4 || !ok_bias || options.groups == 0 {
            return Err(check::config(
                "Conv2d",
                format!(
                    "weight must be [Cout, Cin/groups, KH, KW] and bias [Cout], got {} and {:?}",
                    weight.shape(),
                    bias.as_ref().map(|b| b.shape().clone())
                ),
            ));
        }
        Ok(Conv2d {
            weight,
            bias,
            options,
        })
    }

    pub fn in_channels(&self) -> usize {
        self.weight.dims()[1] * self.options.groups
    }

    pub fn out_channels(&self) -> usize {
        self.weight.dims()[0]
    }
}

impl fmt::Display for Conv2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (o, d) = (&self.options, self.weight.dims());
        write!(
            f,
            "Conv2d({}, {}, kernel_size=({}, {}), stride={:?}, padding={:?}",
            self.in_channels(),
            self.out_channels(),
            d[2],
            d[3],
            o.stride,
            o.padding
        )?;
        if o.dilation != (1, 1) {
            write!(f, ", dilation={:?}", o.dilation)?;
        }
        if o.groups != 1 {
            write!(f, ", groups={}", o.groups)?;
        }
        write!(f, ", bias={})", self.bias.is_some())
    }
}

impl Module for Conv2d {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let c = Dim::Is(self.in_channels());
        check::input(
            "Conv2d",
            self,
            x,
            &[&[Dim::Any("N"), c, Dim::Any("H"), Dim::Any("W")]],
        )?;
        let w = use_param(&self.weight, tape);
        let b = self.bias.as_ref().map(|b| use_param(b, tape));
        ops::conv2d(x, &w, b.as_ref(), self.options)
    }

    fn visit_parameters(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        f(&join(prefix, "weight"), &mut self.weight);
        if let Some(b) = &mut self.bias {
            f(&join(prefix, "bias"), b);
        }
    }

    fn set_mode(&mut self, _mode: Mode) {}
}
