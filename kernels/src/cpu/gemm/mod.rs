//! General matrix multiply: C = alpha·op(A)·op(B) + beta·C, row-major.
//!
//! Shape legend: op(A) is [m, k], op(B) is [k, n], C is [m, n].
//! - `trans_a = false`: A is stored [m, k] with row stride `lda` (>= k);
//!   `trans_a = true`: A is stored [k, m] with row stride `lda` (>= m), op(A) = Aᵀ.
//! - likewise B: stored [k, n] (ldb >= n) or, transposed, [n, k] (ldb >= k).
//! - C is [m, n] with row stride `ldc` (>= n).
//!
//! As in BLAS, `beta = 0` overwrites C without reading it (NaN in C does not leak through), and
//! `alpha = 0` (or k = 0) only scales C by beta without reading A or B.
//! Batched versions step every operand by a fixed stride between matrices.
//!
//! # How the fast path works (BLIS: Goto & van de Geijn 2008, Van Zee & van de Geijn 2015)
//!
//! A GEMM does 2·m·n·k flops on only mk + kn + mn numbers, so it can run at the FMA peak if
//! every number brought from memory is reused many times from registers and caches. BLIS gets
//! there with five loops around a tiny *micro-kernel*:
//!
//! ```text
//! for jc in 0..n step NC            (5) a column panel of B and C
//!   for pc in 0..k step KC          (4) a slice of the k sum
//!     pack op(B)[pc.., jc..] -> B~  : KC x NC in NR-wide slivers     B~ stays in L3
//!     for ic in 0..m step MC        (3) a row block of A and C
//!       pack op(A)[ic.., pc..] -> A~ : MC x KC in MR-tall slivers    A~ stays in L2
//!       for jr in 0..NC step NR     (2) one B~ sliver, KC x NR        stays in L1
//!         for ir in 0..MC step MR   (1) one A~ sliver, MR x KC        streamed from L2
//!           C[ir.., jr..] (MR x NR) += A~ sliver · B~ sliver   <- the micro-kernel
//! ```
//!
//! - [`microkernel`]: the MR x NR tile of C lives in registers for the whole k loop. With AVX2
//!   (16 ymm registers of 8 f32) a 6 x 16 f32 tile takes 12 registers; each step of k loads two
//!   vectors of B, broadcasts six numbers of A and issues 12 FMAs: enough independent FMAs to
//!   hide their 4-cycle latency on two FMA pipes. f64 uses a 6 x 8 tile the same way.
//! - [`pack`]: A~ and B~ are copies laid out in exactly the order the micro-kernel reads them
//!   (contiguous, aligned, zero-padded to whole slivers). Packing absorbs the transpose flags
//!   and leading dimensions, so the kernel never sees a stride, and turns ragged edges into
//!   ordinary tiles: an edge tile is computed by the same kernel into a small buffer and only
//!   its valid part is copied out (no slow path).
//! - [`driver`]: the loops, the block sizes chosen for this CPU (Zen3: 32 KiB L1d, 512 KiB L2
//!   per core, 32 MiB L3), the threading (rayon; C is cut into one rectangle per thread, so the
//!   threads share nothing) and the small-problem path (no packing, no threads).
//!
//! [`gemm`] sends f32 and f64 to the AVX2+FMA kernels when the CPU has them (checked at run
//! time, never assumed at compile time) and to a portable scalar micro-kernel otherwise;
//! [`gemm_ref`] is the three-loop reference every fast path is tested against.

mod driver;
mod interleave;
mod microkernel;
mod pack;

pub(crate) use driver::{
    gemm_fast, ASource, BSource, GemmElem, PackedA, PackedB, Scratch, Threads,
};
pub(crate) use pack::Operand;
#[cfg(test)]
mod tests;

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
/// CPU, threaded over the current rayon pool; [`gemm_ref`] is the reference it is tested
/// against.
pub fn gemm<T: Float>(s: &GemmShape, alpha: T, a: &[T], b: &[T], beta: T, c: &mut [T]) {
    gemm_with(s, alpha, a, b, beta, c, driver::Threads::Pool);
}

/// [`gemm`] on the calling thread only (no rayon tasks): for callers that already run one
/// GEMM per rayon task (a batch of small GEMMs, one image of a convolution per task).
pub fn gemm_serial<T: Float>(s: &GemmShape, alpha: T, a: &[T], b: &[T], beta: T, c: &mut [T]) {
    gemm_with(s, alpha, a, b, beta, c, driver::Threads::One);
}

fn gemm_with<T: Float>(
    s: &GemmShape,
    alpha: T,
    a: &[T],
    b: &[T],
    beta: T,
    c: &mut [T],
    threads: driver::Threads,
) {
    check_args(s, a, b, c);
    if let (Some(a), Some(b), Some(c)) = (T::slice_f32(a), T::slice_f32(b), T::slice_f32_mut(c)) {
        let (alpha, beta) = (alpha.to_f64() as f32, beta.to_f64() as f32);
        gemm_elem(s, alpha, a, b, beta, c, threads);
    } else if let (Some(a), Some(b), Some(c)) =
        (T::slice_f64(a), T::slice_f64(b), T::slice_f64_mut(c))
    {
        gemm_elem(s, alpha.to_f64(), a, b, beta.to_f64(), c, threads);
    } else {
        gemm_ref(s, alpha, a, b, beta, c);
    }
}

fn gemm_elem<T: GemmElem>(
    s: &GemmShape,
    alpha: T,
    a: &[T],
    b: &[T],
    beta: T,
    c: &mut [T],
    threads: driver::Threads,
) {
    let a = ASource::Matrix(Operand::dense(a, s.lda, s.trans_a));
    let b = Operand::dense(b, s.ldb, s.trans_b);
    driver::gemm_fast((s.m, s.n, s.k), alpha, a, b, beta, c, s.ldc, threads);
}

/// The preconditions of every GEMM: buffers long enough, leading dimensions wide enough.
fn check_args<T>(s: &GemmShape, a: &[T], b: &[T], c: &[T]) {
    let (la, lb, lc) = s.required_lens();
    assert!(
        a.len() >= la && b.len() >= lb && c.len() >= lc,
        "gemm: buffer too short for {s:?}: a {} (need {la}), b {} (need {lb}), c {} (need {lc})",
        a.len(),
        b.len(),
        c.len()
    );
    let (cols_a, cols_b) = (
        if s.trans_a { s.m } else { s.k },
        if s.trans_b { s.k } else { s.n },
    );
    assert!(
        (s.lda >= cols_a || la == 0) && (s.ldb >= cols_b || lb == 0) && (s.ldc >= s.n || lc == 0),
        "gemm: leading dimension smaller than a row in {s:?}"
    );
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
/// for A or B reuses one matrix for the whole batch (a weight shared by every batch entry).
///
/// Threads: a batch of large GEMMs runs them one after the other, each threaded inside; a batch
/// of small ones (per-head, per-group, per-image) runs whole GEMMs in parallel instead, when
/// the C matrices do not overlap. `stride_c = 0` with beta = 1 accumulates every product into
/// one C (in batch order).
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
    if batch == 0 {
        return;
    }
    let (la, lb, lc) = s.required_lens();
    assert!(
        a.len() >= (batch - 1) * stride_a + la
            && b.len() >= (batch - 1) * stride_b + lb
            && c.len() >= (batch - 1) * stride_c + lc,
        "gemm_batched: buffer too short for {batch} x {s:?}"
    );
    // Disjoint C matrices may run in parallel; overlapping ones (stride_c = 0 accumulates
    // Σ_t A_t·B_t into one C when beta = 1) must run in order.
    let disjoint = lc > 0 && stride_c >= lc;
    let small = s.m * s.n * s.k < driver::PAR_MIN_MNK;
    if batch > 1 && disjoint && small && rayon::current_num_threads() > 1 {
        use rayon::prelude::*;
        c[..(batch - 1) * stride_c + lc]
            .par_chunks_mut(stride_c)
            .enumerate()
            .for_each(|(t, c_t)| {
                gemm_serial(s, alpha, &a[t * stride_a..], &b[t * stride_b..], beta, c_t);
            });
        return;
    }
    for t in 0..batch {
        let c_t = &mut c[t * stride_c..];
        gemm(s, alpha, &a[t * stride_a..], &b[t * stride_b..], beta, c_t);
    }
}
