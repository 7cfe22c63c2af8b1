//! Launchers of `reduce.cu`: sum, max + argmax and logsumexp along an axis, max's backward.
//!
//! Shape legend: x is `[outer, len, inner]`, the results `[outer, inner]` (as
//! [`crate::cpu::reduce`]).
//!
//! Grid: for inner = 1 (the last axis) one block per row, `row_threads` threads striding
//! along it (coalesced), blocks capped at a few per SM and looping over rows; for inner > 1
//! one thread per output column, 256 per block, neighbouring threads on neighbouring columns.

use super::{cfg1, check_len, entry, launch, row_blocks, row_threads, CudaFloat};
use crate::cuda::alloc::DeviceBuffer;
use crate::cuda::error::{CudaError, Result};
use crate::cuda::modules::REDUCE;
use crate::cuda::CudaDevice;

const THREADS: u32 = 256;

fn check_x<T: CudaFloat>(
    op: &'static str,
    x: &DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
) -> Result<()> {
    check_len(op, "x", x, outer * len * inner)
}

/// out[o, i] = Σ_l x[o, l, i] ([`crate::cpu::reduce::sum_axis`]).
pub fn sum_axis<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
    out: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_x("sum_axis", x, outer, len, inner)?;
    check_len("sum_axis", "out", out, outer * inner)?;
    let (o, l, i) = (outer as u64, len as u64, inner as u64);
    if inner == 1 {
        let t = row_threads(len);
        launch!(
            dev,
            REDUCE,
            entry::<T>("sum_fwd"),
            cfg1(row_blocks(dev, outer), t),
            [x.ptr(), out.ptr(), o, l]
        )
    } else {
        let cols = o * i;
        launch!(
            dev,
            REDUCE,
            entry::<T>("sum_strided_fwd"),
            cfg1(dev.grid_for(cols, THREADS), THREADS),
            [x.ptr(), out.ptr(), o, l, i]
        )
    }
}

/// values and argmax (first index of the maximum; a NaN wins) along the axis
/// ([`crate::cpu::reduce::max_axis`]).
pub fn max_axis<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
    values: &mut DeviceBuffer<T>,
    argmax: &mut DeviceBuffer<usize>,
) -> Result<()> {
    if len == 0 {
        return Err(CudaError::invalid("max_axis", "max over an empty axis"));
    }
    check_x("max_axis", x, outer, len, inner)?;
    check_len("max_axis", "values", values, outer * inner)?;
    check_len("max_axis", "argmax", argmax, outer * inner)?;
    let (o, l, i) = (outer as u64, len as u64, inner as u64);
    if inner == 1 {
        let t = row_threads(len);
        launch!(
            dev,
            REDUCE,
            entry::<T>("max_fwd"),
            cfg1(row_blocks(dev, outer), t),
            [x.ptr(), values.ptr(), argmax.ptr(), o, l]
        )
    } else {
        launch!(
            dev,
            REDUCE,
            entry::<T>("max_strided_fwd"),
            cfg1(dev.grid_for(o * i, THREADS), THREADS),
            [x.ptr(), values.ptr(), argmax.ptr(), o, l, i]
        )
    }
}

/// dx = g scattered to the argmax positions, zero elsewhere
/// ([`crate::cpu::reduce::scatter_to_argmax`]).
pub fn scatter_to_argmax<T: CudaFloat>(
    dev: &CudaDevice,
    g: &DeviceBuffer<T>,
    argmax: &DeviceBuffer<usize>,
    outer: usize,
    len: usize,
    inner: usize,
    dx: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_len("scatter_to_argmax", "g", g, outer * inner)?;
    check_len("scatter_to_argmax", "argmax", argmax, outer * inner)?;
    check_len("scatter_to_argmax", "dx", dx, outer * len * inner)?;
    dev.fill_zero(dx)?;
    let (o, l, i) = (outer as u64, len as u64, inner as u64);
    launch!(
        dev,
        REDUCE,
        entry::<T>("max_bwd"),
        cfg1(dev.grid_for(o * i, THREADS), THREADS),
        [g.ptr(), argmax.ptr(), dx.ptr(), o, l, i]
    )
}

/// out[o, i] = log Σ_l exp(x[o, l, i]) without overflow
/// ([`crate::cpu::reduce::logsumexp_axis`]).
pub fn logsumexp_axis<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
    out: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_x("logsumexp_axis", x, outer, len, inner)?;
    check_len("logsumexp_axis", "out", out, outer * inner)?;
    let (o, l, i) = (outer as u64, len as u64, inner as u64);
    if inner == 1 {
        let t = row_threads(len);
        launch!(
            dev,
            REDUCE,
            entry::<T>("logsumexp_fwd"),
            cfg1(row_blocks(dev, outer), t),
            [x.ptr(), out.ptr(), o, l]
        )
    } else {
        launch!(
            dev,
            REDUCE,
            entry::<T>("logsumexp_strided_fwd"),
            cfg1(dev.grid_for(o * i, THREADS), THREADS),
            [x.ptr(), out.ptr(), o, l, i]
        )
    }
}
