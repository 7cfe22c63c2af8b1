//! Launcher of `gemm.cu`: C = alpha·op(A)·op(B) + beta·C, single or batched.
//!
//! Shape legend: as [`crate::cpu::gemm::GemmShape`] (op(A) `[m, k]`, op(B) `[k, n]`, C
//! `[m, n]`, leading dimensions and transpose flags).
//!
//! Grid: one 256-thread block per 64 x 64 tile of C (x: columns, y: rows), z: the batch. The
//! 16-byte vector loads are enabled per operand when its leading dimension and batch stride
//! are multiples of 16 bytes (the buffers themselves start 256-byte aligned).

use cudarc::driver::{DeviceRepr, LaunchConfig};

use super::{entry, fits_i32, launch, CudaFloat};
use crate::cpu::gemm::GemmShape;
use crate::cuda::alloc::DeviceBuffer;
use crate::cuda::error::{CudaError, Result};
use crate::cuda::modules::GEMM;
use crate::cuda::CudaDevice;

/// `struct GemmArgs` of gemm.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct GemmArgs {
    stride_a: u64,
    stride_b: u64,
    stride_c: u64,
    alpha: f64,
    beta: f64,
    m: i32,
    n: i32,
    k: i32,
    lda: i32,
    ldb: i32,
    ldc: i32,
    trans_a: i32,
    trans_b: i32,
    vec_a: i32,
    vec_b: i32,
}

// SAFETY: a plain #[repr(C)] struct of numbers, laid out as `struct GemmArgs`.
unsafe impl DeviceRepr for GemmArgs {}

/// C = alpha·op(A)·op(B) + beta·C ([`crate::cpu::gemm::gemm`]).
pub fn gemm<T: CudaFloat>(
    dev: &CudaDevice,
    s: &GemmShape,
    alpha: T,
    a: &DeviceBuffer<T>,
    b: &DeviceBuffer<T>,
    beta: T,
    c: &mut DeviceBuffer<T>,
) -> Result<()> {
    gemm_batched(dev, s, 1, alpha, a, 0, b, 0, beta, c, 0)
}

/// `batch` GEMMs, matrix t at offsets t·stride_a, t·stride_b, t·stride_c
/// ([`crate::cpu::gemm::gemm_batched`]). The C matrices must not overlap: the batch runs in
/// parallel (the CPU's accumulating stride_c = 0 is refused here).
#[allow(clippy::too_many_arguments)]
pub fn gemm_batched<T: CudaFloat>(
    dev: &CudaDevice,
    s: &GemmShape,
    batch: usize,
    alpha: T,
    a: &DeviceBuffer<T>,
    stride_a: usize,
    b: &DeviceBuffer<T>,
    stride_b: usize,
    beta: T,
    c: &mut DeviceBuffer<T>,
    stride_c: usize,
) -> Result<()> {
    const OP: &str = "gemm";
    if batch == 0 {
        return Ok(());
    }
    let (la, lb, lc) = s.required_lens();
    let short = |len: usize, stride: usize, need: usize| len < (batch - 1) * stride + need;
    if short(a.len(), stride_a, la) || short(b.len(), stride_b, lb) || short(c.len(), stride_c, lc)
    {
        return Err(CudaError::invalid(
            OP,
            format!("buffers too short for {batch} x {s:?}"),
        ));
    }
    if batch > 1 && lc > 0 && stride_c < lc {
        return Err(CudaError::invalid(
            OP,
            format!("C matrices overlap (stride_c {stride_c} < {lc})"),
        ));
    }
    if batch > 65_535 || s.m.div_ceil(64) > 65_535 {
        return Err(CudaError::invalid(
            OP,
            format!("grid too large for {batch} x {s:?}"),
        ));
    }
    // 16-byte vectors: 4 f32 or 2 f64 per vector.
    let per_vec = 16 / std::mem::size_of::<T>();
    let aligned = |ld: usize, stride: usize| {
        (ld % per_vec == 0 && (batch == 1 || stride % per_vec == 0)) as i32
    };
    let args = GemmArgs {
        stride_a: stride_a as u64,
        stride_b: stride_b as u64,
        stride_c: stride_c as u64,
        alpha: alpha.to_f64(),
        beta: beta.to_f64(),
        m: fits_i32(OP, "m", s.m)?,
        n: fits_i32(OP, "n", s.n)?,
        k: fits_i32(OP, "k", s.k)?,
        lda: fits_i32(OP, "lda", s.lda)?,
        ldb: fits_i32(OP, "ldb", s.ldb)?,
        ldc: fits_i32(OP, "ldc", s.ldc)?,
        trans_a: s.trans_a as i32,
        trans_b: s.trans_b as i32,
        vec_a: aligned(s.lda, stride_a),
        vec_b: aligned(s.ldb, stride_b),
    };
    let cfg = LaunchConfig {
        grid_dim: (
            s.n.div_ceil(64) as u32,
            s.m.div_ceil(64) as u32,
            batch as u32,
        ),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    };
    launch!(
        dev,
        GEMM,
        entry::<T>("gemm_fwd"),
        cfg,
        [a.ptr(), b.ptr(), c.ptr(), args]
    )
}
