//! Launchers of `movement.cu`: permute, narrow (and concat), index_select / index_add,
//! gather / scatter_add.
//!
//! Shape legend: "along an axis" is `[outer, len, inner]`, indices are `usize` buffers (as
//! [`crate::cpu::movement`]).
//!
//! Grid: one thread per output element (per source element for the adds), 256 per block,
//! grid-stride. The adds use atomicAdd: repeated indices are summed in no fixed order.

use super::elementwise::BroadcastArgs;
use super::{cfg1, check_len, entry, launch, CudaFloat};
use crate::cuda::alloc::DeviceBuffer;
use crate::cuda::error::{CudaError, Result};
use crate::cuda::modules::MOVEMENT;
use crate::cuda::CudaDevice;

const THREADS: u32 = 256;

/// out = x permuted: out dims are `dims[perm[0]], dims[perm[1]], ...`
/// ([`crate::cpu::movement::permute`]).
pub fn permute<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    dims: &[usize],
    perm: &[usize],
    out: &mut DeviceBuffer<T>,
) -> Result<()> {
    let n: usize = dims.iter().product();
    check_len("permute", "x", x, n)?;
    check_len("permute", "out", out, n)?;
    let p = BroadcastArgs::permute("permute", dims, perm)?;
    let n = n as u64;
    launch!(
        dev,
        MOVEMENT,
        entry::<T>("permute_fwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [x.ptr(), out.ptr(), n, p]
    )
}

fn check_slice(op: &'static str, len: usize, start: usize, out_len: usize) -> Result<()> {
    if start + out_len > len {
        return Err(CudaError::invalid(
            op,
            format!("slice [{start}, {}) of an axis of {len}", start + out_len),
        ));
    }
    Ok(())
}

/// out[o, l, i] = x[o, start + l, i] ([`crate::cpu::movement::narrow`]).
#[allow(clippy::too_many_arguments)]
pub fn narrow<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
    start: usize,
    out_len: usize,
    out: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_slice("narrow", len, start, out_len)?;
    check_len("narrow", "x", x, outer * len * inner)?;
    check_len("narrow", "out", out, outer * out_len * inner)?;
    let n = (outer * out_len * inner) as u64;
    launch!(
        dev,
        MOVEMENT,
        entry::<T>("narrow_fwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [
            x.ptr(),
            out.ptr(),
            outer as u64,
            len as u64,
            inner as u64,
            start as u64,
            out_len as u64
        ]
    )
}

/// Writes `part` ([outer, part_len, inner]) into the slice [start, start + part_len) of
/// `dst` ([outer, len, inner]) and leaves the rest of `dst` alone: one part of a concat, or,
/// on a zeroed `dst`, the backward of a narrow.
#[allow(clippy::too_many_arguments)]
pub fn write_slice<T: CudaFloat>(
    dev: &CudaDevice,
    part: &DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
    start: usize,
    part_len: usize,
    dst: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_slice("write_slice", len, start, part_len)?;
    check_len("write_slice", "part", part, outer * part_len * inner)?;
    check_len("write_slice", "dst", dst, outer * len * inner)?;
    let n = (outer * part_len * inner) as u64;
    launch!(
        dev,
        MOVEMENT,
        entry::<T>("narrow_bwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [
            part.ptr(),
            dst.ptr(),
            outer as u64,
            len as u64,
            inner as u64,
            start as u64,
            part_len as u64
        ]
    )
}

/// dx = 0 except the slice, which receives g ([`crate::cpu::movement::narrow_backward`]).
#[allow(clippy::too_many_arguments)]
pub fn narrow_backward<T: CudaFloat>(
    dev: &CudaDevice,
    g: &DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
    start: usize,
    out_len: usize,
    dx: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_len("narrow_backward", "dx", dx, outer * len * inner)?;
    dev.fill_zero(dx)?;
    write_slice(dev, g, outer, len, inner, start, out_len, dx)
}

/// `out[o, j, i] = x[o, indices[j], i]` ([`crate::cpu::movement::index_select`]).
pub fn index_select<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
    indices: &DeviceBuffer<usize>,
    out: &mut DeviceBuffer<T>,
) -> Result<()> {
    let n = indices.len();
    check_len("index_select", "x", x, outer * len * inner)?;
    check_len("index_select", "out", out, outer * n * inner)?;
    let total = (outer * n * inner) as u64;
    launch!(
        dev,
        MOVEMENT,
        entry::<T>("index_select_fwd"),
        cfg1(dev.grid_for(total, THREADS), THREADS),
        [
            x.ptr(),
            indices.ptr(),
            out.ptr(),
            outer as u64,
            len as u64,
            inner as u64,
            n as u64
        ]
    )
}

/// `dx[o, indices[j], i] += g[o, j, i]` ([`crate::cpu::movement::index_add`]); dx is not cleared.
pub fn index_add<T: CudaFloat>(
    dev: &CudaDevice,
    g: &DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
    indices: &DeviceBuffer<usize>,
    dx: &mut DeviceBuffer<T>,
) -> Result<()> {
    let n = indices.len();
    check_len("index_add", "g", g, outer * n * inner)?;
    check_len("index_add", "dx", dx, outer * len * inner)?;
    let total = (outer * n * inner) as u64;
    launch!(
        dev,
        MOVEMENT,
        entry::<T>("index_select_bwd"),
        cfg1(dev.grid_for(total, THREADS), THREADS),
        [
            g.ptr(),
            indices.ptr(),
            dx.ptr(),
            outer as u64,
            len as u64,
            inner as u64,
            n as u64
        ]
    )
}

/// out[o, j, i] = x[o, index[o, j, i], i], index and out `[outer, n, inner]`
/// ([`crate::cpu::movement::gather`]).
#[allow(clippy::too_many_arguments)]
pub fn gather<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
    index: &DeviceBuffer<usize>,
    n: usize,
    out: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_len("gather", "x", x, outer * len * inner)?;
    check_len("gather", "index", index, outer * n * inner)?;
    check_len("gather", "out", out, outer * n * inner)?;
    let total = (outer * n * inner) as u64;
    launch!(
        dev,
        MOVEMENT,
        entry::<T>("gather_fwd"),
        cfg1(dev.grid_for(total, THREADS), THREADS),
        [
            x.ptr(),
            index.ptr(),
            out.ptr(),
            outer as u64,
            len as u64,
            inner as u64,
            n as u64
        ]
    )
}

/// dst[o, index[o, j, i], i] += src[o, j, i] ([`crate::cpu::movement::scatter_add`]).
#[allow(clippy::too_many_arguments)]
pub fn scatter_add<T: CudaFloat>(
    dev: &CudaDevice,
    dst: &mut DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
    index: &DeviceBuffer<usize>,
    n: usize,
    src: &DeviceBuffer<T>,
) -> Result<()> {
    check_len("scatter_add", "dst", dst, outer * len * inner)?;
    check_len("scatter_add", "index", index, outer * n * inner)?;
    check_len("scatter_add", "src", src, outer * n * inner)?;
    let total = (outer * n * inner) as u64;
    launch!(
        dev,
        MOVEMENT,
        entry::<T>("gather_bwd"),
        cfg1(dev.grid_for(total, THREADS), THREADS),
        [
            src.ptr(),
            index.ptr(),
            dst.ptr(),
            outer as u64,
            len as u64,
            inner as u64,
            n as u64
        ]
    )
}
