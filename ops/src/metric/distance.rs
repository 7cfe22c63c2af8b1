//! Pairwise Euclidean distances, exact at coincident points.
//!
//! Shape legend: a [N, D], b [M, D] -> D² [N, M], D²_ij = Σ_k (a_ik − b_jk)².
//!
//! LOSSES.md §0: the expanded form ‖a‖² + ‖b‖² − 2 a·b leaves rounding noise (≈1e-16 in f64,
//! so D ≈ 1e-8) where a = b, and a floor sqrt(max(D², ε)) gives √ε, not 0. Anything that
//! compares a distance with 0 (AvgNonZero reductions, margins of 0) then miscounts. So
//! `pairwise_sq_dist` sums explicit differences — exactly 0 for identical rows — and
//! `safe_sqrt` takes the root only where D² > 0, defining D = 0 with gradient 0 (the
//! subgradient at the tip of the cone) where D² = 0.
//!
//! Backward of D²: ∂D²_ij/∂a_i = 2(a_i − b_j), so with G = ∂L/∂D²
//!   ∂L/∂a = 2 (rowsum(G) ⊙ a − G b),   ∂L/∂b = 2 (colsum(G) ⊙ b − Gᵀ a)   (two GEMMs).

use anglegrad_engine::{with_float, BackwardRule, Error, Result, Tensor};
use anglegrad_kernels::Float;

use crate::util::same_dtype;
use crate::{add, matmul_t, mul, scale, sub, sum};

/// D²_ij = Σ_k (a_ik − b_jk)²: exactly 0 when row i of a equals row j of b.
pub fn pairwise_sq_dist(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    const OP: &str = "pairwise_sq_dist";
    same_dtype(OP, a, b)?;
    if a.rank() != 2 || b.rank() != 2 || a.dims()[1] != b.dims()[1] {
        return Err(Error::ShapeMismatch {
            op: OP,
            lhs: a.shape().clone(),
            rhs: b.shape().clone(),
        });
    }
    let (n, m, d) = (a.dims()[0], b.dims()[0], a.dims()[1]);
    let out = with_float!(a.dtype(), OP, |T| {
        let (x, y) = (a.as_slice::<T>()?, b.as_slice::<T>()?);
        let mut out = vec![T::ZERO; n * m];
        for i in 0..n {
            let ai = &x[i * d..(i + 1) * d];
            for j in 0..m {
                let bj = &y[j * d..(j + 1) * d];
                out[i * m + j] = ai.iter().zip(bj).map(|(&p, &q)| (p - q) * (p - q)).sum();
            }
        }
        Tensor::from_vec(out, [n, m])
    })?;
    out.record(
        &[a, b],
        PairwiseSqDistRule {
            a: a.detach(),
            b: b.detach(),
        },
    )
}

struct PairwiseSqDistRule {
    a: Tensor,
    b: Tensor,
}

impl BackwardRule for PairwiseSqDistRule {
    fn name(&self) -> &'static str {
        "pairwise_sq_dist"
    }

    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (a, b) = (&self.a, &self.b);
        let da = if needs[0] {
            let rows = sum(g, &[1], true)?; // [N, 1]
            Some(scale(
                &sub(&mul(&rows, a)?, &matmul_t(g, b, false, false)?)?,
                2.0,
            )?)
        } else {
            None
        };
        let db = if needs[1] {
            let cols = crate::reshape(&sum(g, &[0], false)?, &[b.dims()[0], 1])?; // [M, 1]
            Some(scale(
                &sub(&mul(&cols, b)?, &matmul_t(g, a, true, false)?)?,
                2.0,
            )?)
        } else {
            None
        };
        Ok(vec![da, db])
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.a, &self.b]
    }
}

/// √x where x > 0, and 0 (with gradient 0) where x <= 0: the root of a squared distance.
/// ∂√x/∂x = 1/(2√x) for x > 0.
pub fn safe_sqrt(x: &Tensor) -> Result<Tensor> {
    let y = with_float!(x.dtype(), "safe_sqrt", |T| {
        let v = x.as_slice::<T>()?;
        let out: Vec<T> = v
            .iter()
            .map(|&e| if e > T::ZERO { e.sqrt() } else { T::ZERO })
            .collect();
        Tensor::from_vec(out, x.dims())
    })?;
    let rule = SafeSqrtRule { y: y.detach() };
    y.record(&[x], rule)
}

struct SafeSqrtRule {
    y: Tensor,
}

impl BackwardRule for SafeSqrtRule {
    fn name(&self) -> &'static str {
        "safe_sqrt"
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let dx = with_float!(g.dtype(), "safe_sqrt", |T| {
            let (y, gv) = (self.y.as_slice::<T>()?, g.as_slice::<T>()?);
            let two = T::from_f64(2.0);
            let out: Vec<T> = y
                .iter()
                .zip(gv)
                .map(|(&yi, &gi)| {
                    if yi > T::ZERO {
                        gi / (two * yi)
                    } else {
                        T::ZERO
                    }
                })
                .collect();
            Tensor::from_vec(out, g.dims())
        })?;
        Ok(vec![Some(dx)])
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.y]
    }
}

/// D_ij = ‖a_i − b_j‖, exactly 0 (gradient 0) for identical rows.
pub fn pairwise_dist(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    safe_sqrt(&pairwise_sq_dist(a, b)?)
}

/// The expanded form ‖a_i‖² + ‖b_j‖² − 2 a_i·b_j, clamped at 0: one GEMM, for large retrieval
/// matrices where nothing depends on a distance being exactly 0 (see the module docs).
pub fn pairwise_sq_dist_expanded(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let a2 = sum(&crate::square(a)?, &[1], true)?; // [N, 1]
    let b2 = crate::reshape(&sum(&crate::square(b)?, &[1], false)?, &[1, b.dims()[0]])?; // [1, M]
    let ab = matmul_t(a, b, false, true)?;
    let d2 = sub(&add(&a2, &b2)?, &scale(&ab, 2.0)?)?;
    crate::clamp(&d2, 0.0, f64::INFINITY)
}
