//! L-Softmax (Liu et al., ICML 2016) and SphereFace's A-Softmax (Liu et al., CVPR 2017):
//! a multiplicative angular margin, LOSSES.md §4, §5 and §16.
//!
//! Shape legend: x [B, D], W [C, D], labels [B], logits z [B, C]; θ_ij is the angle between
//! x_i and w_j.
//!
//!   z_ij = ‖w_j‖‖x_i‖ cos θ_ij = w_j · x_i                          (j ≠ y_i)
//!   z_iy = ‖w_y‖‖x_i‖ (λ cos θ_iy + ψ(θ_iy)) / (1 + λ)               (target)
//!   ψ(θ) = (−1)^k cos(mθ) − 2k   for θ ∈ [kπ/m, (k+1)π/m]
//!
//! ψ is cos(mθ) made monotone on [0, π]: the target class must beat the others by an angle m
//! times smaller. It is evaluated without arccos as the Chebyshev polynomial T_m(cos θ) with
//! k counted from thresholds (the `target_margin` op, `MarginFn::Multiplicative`), so its
//! gradient is a polynomial — finite everywhere. λ blends in the plain softmax early in
//! training (annealing: [`LambdaSchedule`]); λ = 0 is the pure margin.
//!
//! L-Softmax uses the raw W; SphereFace normalises each w_j (‖w_j‖ = 1) inside the loss, with
//! the gradient flowing through that normalisation, and keeps ‖x‖. Both compute the exact
//! gradient (not the Caffe references' projected/normalised gradients, §5 quirks).

use anglegrad_engine::{Error, Result, Tensor};
use anglegrad_ops::{self as ops, GradientMode, MarginFn, TensorOps};

use crate::check;

/// Which of the two losses: they differ in whether W is normalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    LSoftmax,
    SphereFace,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LargeMargin {
    pub variant: Variant,
    /// The integer margin m (1 = plain softmax without bias for L-Softmax).
    pub m: u32,
    /// The blend λ of the current training step (see [`LambdaSchedule`]).
    pub lambda: f64,
}

impl LargeMargin {
    /// L-Softmax, m = 4, λ = 0 (reference MNIST config; no annealing).
    pub fn lsoftmax() -> Self {
        LargeMargin {
            variant: Variant::LSoftmax,
            m: 4,
            lambda: 0.0,
        }
    }

    /// SphereFace A-Softmax, m = 4, λ = 0.
    pub fn sphereface() -> Self {
        LargeMargin {
            variant: Variant::SphereFace,
            m: 4,
            lambda: 0.0,
        }
    }

    fn name(&self) -> &'static str {
        match self.variant {
            Variant::LSoftmax => "lsoftmax",
            Variant::SphereFace => "sphereface",
        }
    }

    /// The logits with the margin on the target column.
    pub fn logits(&self, x: &Tensor, w: &Tensor, labels: &[usize]) -> Result<Tensor> {
        let name = self.name();
        let (b, d) = check::embeddings(name, x)?;
        let c = check::class_matrix(name, "weight", w, d)?;
        check::labels(name, labels, b, Some(c))?;
        if self.m == 0 || self.lambda.is_nan() || self.lambda < 0.0 {
            return Err(Error::invalid(
                name,
                format!(
                    "need m >= 1 and lambda >= 0, got m = {}, lambda = {}",
                    self.m, self.lambda
                ),
            ));
        }
        let w = match self.variant {
            Variant::LSoftmax => w.clone(),
            Variant::SphereFace => w.l2_normalize(1, ops::DEFAULT_NORM_EPS)?,
        };
        let z = x.matmul_t(&w, false, true)?; // ‖w_j‖‖x_i‖ cos θ_ij
        let w_y = w.index_select(0, labels)?; // [B, D]
        let dot_y = x.mul(&w_y)?.sum(&[1], true)?; // [B, 1]
        let norms = x
            .square()?
            .sum(&[1], true)?
            .mul(&w_y.square()?.sum(&[1], true)?)?
            .sqrt()?;
        let cos_y = dot_y.div(&norms)?;
        let psi = ops::target_margin(
            &cos_y,
            MarginFn::Multiplicative { m: self.m },
            GradientMode::Exact,
        )?;
        // (λ‖w‖‖x‖cos θ + ‖w‖‖x‖ψ) / (1 + λ), with ‖w‖‖x‖cos θ = w·x.
        let target = dot_y
            .scale(self.lambda)?
            .add(&norms.mul(&psi)?)?
            .scale(1.0 / (1.0 + self.lambda))?;
        let is_target = ops::one_hot(labels, c, x.dtype())?;
        ops::where_(&is_target, &target, &z)
    }

    pub fn loss(&self, x: &Tensor, w: &Tensor, labels: &[usize]) -> Result<Tensor> {
        ops::cross_entropy(&self.logits(x, w, labels)?, labels)
    }
}

/// λ = max(λ_min, base · (1 + γ·iter)^(−power)): the annealing of both reference codes.
/// The schedule is training state: `step()` advances it on each training forward (the L-Softmax
/// reference increments before computing λ, so its first forward uses iter = 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LambdaSchedule {
    pub base: f64,
    pub gamma: f64,
    pub power: f64,
    pub lambda_min: f64,
    pub iter: u64,
}

impl LambdaSchedule {
    /// L-Softmax MNIST config: base 1000, γ 2.5e-5, power 35, min 0 (λ ≈ 16.2 at 5k iters).
    pub fn lsoftmax_mnist() -> Self {
        LambdaSchedule {
            base: 1000.0,
            gamma: 2.5e-5,
            power: 35.0,
            lambda_min: 0.0,
            iter: 0,
        }
    }

    /// SphereFace: base 1000, γ 0.12, power 1, min 5 (λ = max(5, 1000/(1 + 0.12 iter))).
    pub fn sphereface() -> Self {
        LambdaSchedule {
            base: 1000.0,
            gamma: 0.12,
            power: 1.0,
            lambda_min: 5.0,
            iter: 0,
        }
    }

    /// λ at the current iteration.
    pub fn lambda(&self) -> f64 {
        (self.base * (1.0 + self.gamma * self.iter as f64).powf(-self.power)).max(self.lambda_min)
    }

    /// Advances one training iteration and returns the new λ.
    pub fn step(&mut self) -> f64 {
        self.iter += 1;
        self.lambda()
    }
}
