//! `BatchNorm1d` / `BatchNorm2d` (Ioffe & Szegedy 2015), with PyTorch's parameters, buffers
//! and running-statistics rule, so a `state_dict` loads name for name.
//!
//! Shape legend: BatchNorm1d x [N, C] or [N, C, L]; BatchNorm2d x [N, C, H, W];
//! weight (γ), bias (β), running_mean, running_var [C]; num_batches_tracked [] (a count).
//!
//! Training: y = γ·(x − mean_B)/√(var_B + ε) + β with the batch's statistics per channel, and
//!   running ← (1 − m)·running + m·batch   (variance: the unbiased batch variance),
//! m = momentum (0.1), or 1/num_batches_tracked (a cumulative average) when momentum is None.
//! Evaluation: the running statistics replace the batch's, nothing is updated.
//!
//! `num_batches_tracked` is kept in the layer's dtype (PyTorch: int64): f32 counts exactly up
//! to 2^24 batches.

use std::fmt;

use anglegrad_engine::{DType, Result, Tape, Tensor};
use anglegrad_ops::{self as ops, BatchNormOptions, RunningStats};

use crate::check::{self, Dim};
use crate::module::{join, use_param, Mode, Module};

/// Batch normalisation over the channel axis of inputs with `SPATIAL` spatial axes:
/// use the aliases [`BatchNorm1d`] (0 or 1 spatial axes) and [`BatchNorm2d`] (2).
#[derive(Clone, Debug)]
pub struct BatchNorm<const SPATIAL: usize> {
    /// γ [C], None when the layer is not affine.
    pub weight: Option<Tensor>,
    /// β [C], None when the layer is not affine.
    pub bias: Option<Tensor>,
    /// running_mean and running_var [C].
    pub running: RunningStats,
    /// Training forwards seen (a 0-d tensor).
    pub num_batches_tracked: Tensor,
    pub eps: f64,
    /// None: the cumulative average (PyTorch's `momentum=None`).
    pub momentum: Option<f64>,
    /// When true γ is a constant: not watched on the tape, so it gets no gradient (PyTorch's
    /// `weight.requires_grad = False`; insightface freezes its embedding BN's γ at 1).
    pub freeze_weight: bool,
    pub mode: Mode,
}

/// Batch norm of [N, C] or [N, C, L] (PyTorch's `nn.BatchNorm1d`).
pub type BatchNorm1d = BatchNorm<1>;
/// Batch norm of [N, C, H, W] (PyTorch's `nn.BatchNorm2d`).
pub type BatchNorm2d = BatchNorm<2>;

impl<const SPATIAL: usize> BatchNorm<SPATIAL> {
    /// An affine layer with PyTorch's initial state: γ = 1, β = 0, running mean 0, running
    /// variance 1, momentum 0.1, ε = 1e-5, training mode.
    pub fn new(channels: usize, dtype: DType) -> Result<Self> {
        if channels == 0 {
            return Err(check::config(
                Self::NAME,
                "the number of channels must be >= 1",
            ));
        }
        Ok(BatchNorm {
            weight: Some(Tensor::ones([channels], dtype)?),
            bias: Some(Tensor::zeros([channels], dtype)?),
            running: RunningStats::new(channels, dtype)?,
            num_batches_tracked: Tensor::zeros((), dtype)?,
            eps: 1e-5,
            momentum: Some(0.1),
            freeze_weight: false,
            mode: Mode::Train,
        })
    }

    /// The same layer with no γ and β (`affine=False`).
    pub fn without_affine(mut self) -> Self {
        self.weight = None;
        self.bias = None;
        self
    }

    const NAME: &'static str = if SPATIAL == 2 {
        "BatchNorm2d"
    } else {
        "BatchNorm1d"
    };

    pub fn num_features(&self) -> usize {
        self.running.mean.numel()
    }
}

impl<const SPATIAL: usize> fmt::Display for BatchNorm<SPATIAL> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}({}, eps={:e}, momentum={:?}, affine={})",
            Self::NAME,
            self.num_features(),
            self.eps,
            self.momentum,
            self.weight.is_some()
        )
    }
}

impl<const SPATIAL: usize> Module for BatchNorm<SPATIAL> {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let (n, c) = (Dim::Any("N"), Dim::Is(self.num_features()));
        let (h, w, l) = (Dim::Any("H"), Dim::Any("W"), Dim::Any("L"));
        let patterns: &[&[Dim]] = if SPATIAL == 2 {
            &[&[n, c, h, w]]
        } else {
            &[&[n, c], &[n, c, l]]
        };
        check::input(Self::NAME, self, x, patterns)?;
        let training = self.mode == Mode::Train;
        let seen = self.num_batches_tracked.to_scalar_f64()? + 1.0;
        let momentum = self.momentum.unwrap_or(1.0 / seen);
        let gamma = self.weight.as_ref().map(|g| match self.freeze_weight {
            true => g.detach(),
            false => use_param(g, tape),
        });
        let beta = self.bias.as_ref().map(|b| use_param(b, tape));
        let options = BatchNormOptions {
            training,
            momentum,
            eps: self.eps,
        };
        let y = ops::batch_norm(
            x,
            gamma.as_ref(),
            beta.as_ref(),
            Some(&mut self.running),
            options,
        )?;
        if training {
            self.num_batches_tracked = Tensor::full((), seen, self.num_batches_tracked.dtype())?;
        }
        Ok(y)
    }

    fn visit_parameters(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        if let Some(g) = &mut self.weight {
            f(&join(prefix, "weight"), g);
        }
        if let Some(b) = &mut self.bias {
            f(&join(prefix, "bias"), b);
        }
    }

    fn visit_buffers(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        f(&join(prefix, "running_mean"), &mut self.running.mean);
        f(&join(prefix, "running_var"), &mut self.running.var);
        f(
            &join(prefix, "num_batches_tracked"),
            &mut self.num_batches_tracked,
        );
    }

    fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }
}
