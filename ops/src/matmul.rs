//! Matrix multiplication with transpose flags and a batch dimension.
//!
//! Shape legend: op(A) = A or Aᵀ is [m, k], op(B) is [k, n], C = op(A)·op(B) is [m, n].
//! A is stored [m, k] (or [k, m] when `trans_a`), B is stored [k, n] (or [n, k] when
//! `trans_b`). Leading dims are a batch: both operands carry the same batch dims, or one of
//! them is a plain matrix shared by every batch entry (a weight), C gets the batch dims.
//!
//! Backward (the matrix chain rule, with G = ∂L/∂C):
//!   ∂L/∂op(A) = G · op(B)ᵀ        ∂L/∂op(B) = op(A)ᵀ · G
//! and, when an operand is stored transposed, the transpose of that. Each is itself a matmul
//! with transpose flags, so no transposed copy is ever made. A shared operand receives a
//! gradient per batch entry, which the engine's un-broadcast sums.

use anglegrad_engine::{BackwardRule, Error, Result, Tensor};
use anglegrad_kernels::cpu::gemm::{gemm_batched, GemmShape};

use crate::util::{map2_storage, same_dtype, tensor, zeros_for};

/// C = A · B.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    matmul_t(a, b, false, false)
}

/// C = op(A) · op(B) with op = transpose where the flag is set.
pub fn matmul_t(a: &Tensor, b: &Tensor, trans_a: bool, trans_b: bool) -> Result<Tensor> {
    const OP: &str = "matmul";
    same_dtype(OP, a, b)?;
    if a.rank() < 2 || b.rank() < 2 {
        return Err(Error::invalid(
            OP,
            format!(
                "operands must have rank >= 2, got {} and {}",
                a.shape(),
                b.shape()
            ),
        ));
    }
    let (a_batch, a_mat) = a.dims().split_at(a.rank() - 2);
    let (b_batch, b_mat) = b.dims().split_at(b.rank() - 2);
    let (m, k) = if trans_a {
        (a_mat[1], a_mat[0])
    } else {
        (a_mat[0], a_mat[1])
    };
    let (kb, n) = if trans_b {
        (b_mat[1], b_mat[0])
    } else {
        (b_mat[0], b_mat[1])
    };
    let mismatch = || Error::ShapeMismatch {
        op: OP,
        lhs: a.shape().clone(),
        rhs: b.shape().clone(),
    };
    if k != kb {
        return Err(mismatch());
    }
    // A batch of inputs times one weight matrix is one big matrix product: fold the batch
    // into m (no per-entry gradient of the weight to sum up afterwards).
    if !a_batch.is_empty() && b_batch.is_empty() && !trans_a {
        let rows: usize = a_batch.iter().product::<usize>() * m;
        let c = matmul_t(&crate::reshape(a, &[rows, k])?, b, false, trans_b)?;
        let mut dims = a_batch.to_vec();
        dims.extend([m, n]);
        return crate::reshape(&c, &dims);
    }
    let batch_dims = match (a_batch.is_empty(), b_batch.is_empty()) {
        (_, true) => a_batch,
        (true, false) => b_batch,
        (false, false) if a_batch == b_batch => a_batch,
        _ => return Err(mismatch()),
    };
    let batch: usize = batch_dims.iter().product();
    let shape = GemmShape::dense(m, n, k, trans_a, trans_b);
    let stride_a = if a_batch.is_empty() { 0 } else { m * k };
    let stride_b = if b_batch.is_empty() { 0 } else { k * n };
    let storage = map2_storage!(OP, a, b, |x, y| {
        let mut c = zeros_for(x, batch * m * n);
        let one = anglegrad_kernels::Float::from_f64(1.0);
        let zero = anglegrad_kernels::Float::from_f64(0.0);
        gemm_batched(
            &shape,
            batch,
            one,
            x,
            stride_a,
            y,
            stride_b,
            zero,
            &mut c,
            m * n,
        );
        c
    })?;
    let mut out_dims = batch_dims.to_vec();
    out_dims.extend([m, n]);
    let rule = MatmulRule {
        a: a.detach(),
        b: b.detach(),
        trans_a,
        trans_b,
    };
    tensor(storage, &out_dims)?.record(&[a, b], rule)
}

struct MatmulRule {
    a: Tensor,
    b: Tensor,
    trans_a: bool,
    trans_b: bool,
}

impl BackwardRule for MatmulRule {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (a, b, ta, tb) = (&self.a, &self.b, self.trans_a, self.trans_b);
        let da = if !needs[0] {
            None
        } else if !ta {
            Some(matmul_t(g, b, false, !tb)?) // G · op(B)ᵀ
        } else {
            Some(matmul_t(b, g, tb, true)?) // (G · op(B)ᵀ)ᵀ = op(B) · Gᵀ
        };
        let db = if !needs[1] {
            None
        } else if !tb {
            Some(matmul_t(a, g, !ta, false)?) // op(A)ᵀ · G
        } else {
            Some(matmul_t(g, a, true, ta)?) // (op(A)ᵀ · G)ᵀ = Gᵀ · op(A)
        };
        Ok(vec![da, db])
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.a, &self.b]
    }
}
