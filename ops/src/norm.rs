//! Batch normalisation (Ioffe & Szegedy 2015) over the channel axis.
//!
//! Shape legend: x [N, C, S…] (BatchNorm1d: [N, C]; BatchNorm2d: [N, C, H, W]); gamma, beta,
//! running mean and variance [C]. M = N·S values per channel.
//!
//! Training: x̂ = (x − mean_c)/sqrt(var_c + ε) with the batch's mean and biased variance,
//! y = γ_c·x̂ + β_c; the running statistics move by PyTorch's momentum rule (unbiased variance
//! M/(M − 1)). Evaluation: the running statistics replace the batch's. The backward (training)
//! accounts for mean and variance depending on every x of the channel:
//!   ∂L/∂x = γ·invstd/M · (M·g − Σg − x̂·Σ(g·x̂)),  ∂L/∂γ = Σ g·x̂,  ∂L/∂β = Σ g.

use anglegrad_engine::{with_float, BackwardRule, Error, Result, Shape, Tensor};
use anglegrad_kernels::cpu::batchnorm::{self, BatchNormShape};
use anglegrad_kernels::Float;

use crate::util::same_dtype;

/// The running statistics of a batch-norm layer (training state, not parameters).
#[derive(Clone, Debug)]
pub struct RunningStats {
    pub mean: Tensor,
    pub var: Tensor,
}

impl RunningStats {
    /// PyTorch's initial values: mean 0, variance 1.
    pub fn new(channels: usize, dtype: anglegrad_engine::DType) -> Result<Self> {
        Ok(RunningStats {
            mean: Tensor::zeros([channels], dtype)?,
            var: Tensor::ones([channels], dtype)?,
        })
    }
}

/// Batch-norm settings (PyTorch's defaults: momentum 0.1, ε 1e-5).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormOptions {
    pub training: bool,
    pub momentum: f64,
    pub eps: f64,
}

impl Default for BatchNormOptions {
    fn default() -> Self {
        BatchNormOptions {
            training: true,
            momentum: 0.1,
            eps: 1e-5,
        }
    }
}

fn check_param(x: &Tensor, p: Option<&Tensor>, c: usize, name: &'static str) -> Result<()> {
    if let Some(p) = p {
        same_dtype(name, x, p)?;
        if p.dims() != [c] {
            return Err(Error::ShapeMismatch {
                op: name,
                lhs: Shape::new(&[c]),
                rhs: p.shape().clone(),
            });
        }
    }
    Ok(())
}

/// Batch normalisation of x; updates `running` in training mode, reads it in evaluation mode.
pub fn batch_norm(
    x: &Tensor,
    gamma: Option<&Tensor>,
    beta: Option<&Tensor>,
    running: Option<&mut RunningStats>,
    options: BatchNormOptions,
) -> Result<Tensor> {
    const OP: &str = "batch_norm";
    if x.rank() < 2 {
        return Err(Error::invalid(
            OP,
            format!("x must be [N, C, ...], got {}", x.shape()),
        ));
    }
    let sh = BatchNormShape {
        n: x.dims()[0],
        c: x.dims()[1],
        s: x.dims()[2..].iter().product(),
    };
    check_param(x, gamma, sh.c, "batch_norm weight")?;
    check_param(x, beta, sh.c, "batch_norm bias")?;
    if let Some(r) = running.as_deref() {
        check_param(x, Some(&r.mean), sh.c, "batch_norm running_mean")?;
        check_param(x, Some(&r.var), sh.c, "batch_norm running_var")?;
    }
    if options.training && sh.n * sh.s < 2 {
        return Err(Error::invalid(
            OP,
            format!(
                "training needs more than one value per channel, got x {}",
                x.shape()
            ),
        ));
    }
    let (y, rule) = with_float!(x.dtype(), OP, |T| {
        let xs = x.as_slice::<T>()?;
        let g = gamma.map(|t| t.as_slice::<T>()).transpose()?;
        let b = beta.map(|t| t.as_slice::<T>()).transpose()?;
        let mut y = vec![T::ZERO; sh.len()];
        if options.training {
            let (mut mean, mut invstd) = (vec![T::ZERO; sh.c], vec![T::ZERO; sh.c]);
            let mut updated = running
                .as_deref()
                .map(|r| Ok::<_, Error>((r.mean.to_vec::<T>()?, r.var.to_vec::<T>()?)))
                .transpose()?;
            let slots = updated.as_mut().map(|(m, v)| (&mut m[..], &mut v[..]));
            batchnorm::batch_norm_forward_train(
                &sh,
                xs,
                g,
                b,
                options.eps,
                options.momentum,
                slots,
                &mut y,
                &mut mean,
                &mut invstd,
            );
            if let (Some(r), Some((m, v))) = (running, updated) {
                r.mean = Tensor::from_vec(m, [sh.c])?;
                r.var = Tensor::from_vec(v, [sh.c])?;
            }
            let stats = (
                Tensor::from_vec(mean, [sh.c])?,
                Tensor::from_vec(invstd, [sh.c])?,
            );
            Ok((
                Tensor::from_vec(y, x.dims())?,
                Mode::Train {
                    mean: stats.0,
                    invstd: stats.1,
                },
            ))
        } else {
            let r = running
                .ok_or_else(|| Error::invalid(OP, "evaluation mode needs running statistics"))?;
            let (rm, rv) = (r.mean.as_slice::<T>()?, r.var.as_slice::<T>()?);
            batchnorm::batch_norm_forward_eval(&sh, xs, g, b, rm, rv, options.eps, &mut y);
            Ok((
                Tensor::from_vec(y, x.dims())?,
                Mode::Eval {
                    mean: r.mean.detach(),
                    var: r.var.detach(),
                    eps: options.eps,
                },
            ))
        }
    })?;
    let rule = BatchNormRule {
        sh,
        x: x.detach(),
        gamma: gamma.map(Tensor::detach),
        has_beta: beta.is_some(),
        mode: rule,
    };
    let mut inputs = vec![x];
    inputs.extend(gamma);
    inputs.extend(beta);
    y.record(&inputs, rule)
}

enum Mode {
    Train { mean: Tensor, invstd: Tensor },
    Eval { mean: Tensor, var: Tensor, eps: f64 },
}

struct BatchNormRule {
    sh: BatchNormShape,
    x: Tensor,
    gamma: Option<Tensor>,
    has_beta: bool,
    mode: Mode,
}

impl BackwardRule for BatchNormRule {
    fn name(&self) -> &'static str {
        "batch_norm"
    }

    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let sh = &self.sh;
        with_float!(dy.dtype(), "batch_norm", |T| {
            let (x, g) = (self.x.as_slice::<T>()?, dy.as_slice::<T>()?);
            let gamma = self.gamma.as_ref().map(|t| t.as_slice::<T>()).transpose()?;
            let mut dx = vec![T::ZERO; sh.len()];
            let (mut dgamma, mut dbeta) = (vec![T::ZERO; sh.c], vec![T::ZERO; sh.c]);
            match &self.mode {
                Mode::Train { mean, invstd } => batchnorm::batch_norm_backward(
                    sh,
                    x,
                    g,
                    gamma,
                    mean.as_slice::<T>()?,
                    invstd.as_slice::<T>()?,
                    &mut dx,
                    &mut dgamma,
                    &mut dbeta,
                ),
                Mode::Eval { mean, var, eps } => batchnorm::batch_norm_backward_eval(
                    sh,
                    x,
                    g,
                    gamma,
                    mean.as_slice::<T>()?,
                    var.as_slice::<T>()?,
                    *eps,
                    &mut dx,
                    &mut dgamma,
                    &mut dbeta,
                ),
            }
            let mut grads = vec![Some(Tensor::from_vec(dx, self.x.dims())?)];
            if self.gamma.is_some() {
                grads.push(Some(Tensor::from_vec(dgamma, [sh.c])?));
            }
            if self.has_beta {
                grads.push(Some(Tensor::from_vec(dbeta, [sh.c])?));
            }
            Ok(grads)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        let mut saved = vec![&self.x];
        saved.extend(self.gamma.as_ref());
        saved
    }
}
