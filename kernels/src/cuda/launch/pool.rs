//! Launchers of `pool.cu`: max / average pooling and global average pooling.
//!
//! Shape legend: as [`crate::cpu::pool::Pool2dParams`] (x `[N, C, H, W]`, y and argmax
//! `[N, C, Ho, Wo]`).
//!
//! Grid: forward, one thread per output; backward, one thread per input element gathering the
//! windows that cover it (no atomics); 256 threads per block, grid-stride. Global pooling: one
//! block per plane for the sum, one thread per element for the backward.

use cudarc::driver::DeviceRepr;

use super::{cfg1, check_len, entry, fits_i32, launch, row_blocks, row_threads, CudaFloat};
use crate::cpu::pool::Pool2dParams;
use crate::cuda::alloc::DeviceBuffer;
use crate::cuda::error::{CudaError, Result};
use crate::cuda::modules::POOL;
use crate::cuda::CudaDevice;

const THREADS: u32 = 256;

/// `struct PoolArgs` of pool.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct PoolArgs {
    n: i32,
    c: i32,
    h: i32,
    w: i32,
    kh: i32,
    kw: i32,
    sh: i32,
    sw: i32,
    ph: i32,
    pw: i32,
    ho: i32,
    wo: i32,
    count_include_pad: i32,
    pad: i32,
}

// SAFETY: a plain #[repr(C)] struct of i32, laid out as `struct PoolArgs`.
unsafe impl DeviceRepr for PoolArgs {}

/// The CPU's checks (as errors) and the kernel arguments.
fn pool_args(op: &'static str, p: &Pool2dParams, include_pad: bool) -> Result<PoolArgs> {
    let bad = |why: &str| Err(CudaError::invalid(op, format!("{why} ({p:?})")));
    if p.kh == 0 || p.kw == 0 || p.stride.0 == 0 || p.stride.1 == 0 {
        return bad("kernel and stride must be >= 1");
    }
    if p.h + 2 * p.pad.0 < p.kh || p.w + 2 * p.pad.1 < p.kw {
        return bad("window larger than the padded input");
    }
    if p.pad.0 * 2 > p.kh || p.pad.1 * 2 > p.kw {
        return bad("padding must be at most half the window, as in PyTorch");
    }
    let i = |what, v| fits_i32(op, what, v);
    i("x", p.x_len())?;
    Ok(PoolArgs {
        n: i("N", p.n)?,
        c: i("C", p.c)?,
        h: i("H", p.h)?,
        w: i("W", p.w)?,
        kh: i("KH", p.kh)?,
        kw: i("KW", p.kw)?,
        sh: i("stride", p.stride.0)?,
        sw: i("stride", p.stride.1)?,
        ph: i("pad", p.pad.0)?,
        pw: i("pad", p.pad.1)?,
        ho: i("Ho", p.out_h())?,
        wo: i("Wo", p.out_w())?,
        count_include_pad: include_pad as i32,
        pad: 0,
    })
}

/// Max-pool forward with argmax ([`crate::cpu::pool::max_pool2d_forward`]).
pub fn max_pool2d_forward<T: CudaFloat>(
    dev: &CudaDevice,
    p: &Pool2dParams,
    x: &DeviceBuffer<T>,
    y: &mut DeviceBuffer<T>,
    argmax: &mut DeviceBuffer<usize>,
) -> Result<()> {
    let a = pool_args("max_pool2d", p, false)?;
    check_len("max_pool2d", "x", x, p.x_len())?;
    check_len("max_pool2d", "y", y, p.y_len())?;
    check_len("max_pool2d", "argmax", argmax, p.y_len())?;
    let n = p.y_len() as u64;
    launch!(
        dev,
        POOL,
        entry::<T>("max_pool2d_fwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [x.ptr(), y.ptr(), argmax.ptr(), a]
    )
}

/// dx[n, c, argmax] += dy, zero elsewhere ([`crate::cpu::pool::max_pool2d_backward`]).
pub fn max_pool2d_backward<T: CudaFloat>(
    dev: &CudaDevice,
    p: &Pool2dParams,
    dy: &DeviceBuffer<T>,
    argmax: &DeviceBuffer<usize>,
    dx: &mut DeviceBuffer<T>,
) -> Result<()> {
    let a = pool_args("max_pool2d backward", p, false)?;
    check_len("max_pool2d backward", "dy", dy, p.y_len())?;
    check_len("max_pool2d backward", "argmax", argmax, p.y_len())?;
    check_len("max_pool2d backward", "dx", dx, p.x_len())?;
    let n = p.x_len() as u64;
    launch!(
        dev,
        POOL,
        entry::<T>("max_pool2d_bwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [dy.ptr(), argmax.ptr(), dx.ptr(), a]
    )
}

/// Average-pool forward ([`crate::cpu::pool::avg_pool2d_forward`]).
pub fn avg_pool2d_forward<T: CudaFloat>(
    dev: &CudaDevice,
    p: &Pool2dParams,
    x: &DeviceBuffer<T>,
    count_include_pad: bool,
    y: &mut DeviceBuffer<T>,
) -> Result<()> {
    let a = pool_args("avg_pool2d", p, count_include_pad)?;
    check_len("avg_pool2d", "x", x, p.x_len())?;
    check_len("avg_pool2d", "y", y, p.y_len())?;
    let n = p.y_len() as u64;
    launch!(
        dev,
        POOL,
        entry::<T>("avg_pool2d_fwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [x.ptr(), y.ptr(), a]
    )
}

/// Average-pool backward: each input receives dy / count of every window covering it
/// ([`crate::cpu::pool::avg_pool2d_backward`]).
pub fn avg_pool2d_backward<T: CudaFloat>(
    dev: &CudaDevice,
    p: &Pool2dParams,
    dy: &DeviceBuffer<T>,
    count_include_pad: bool,
    dx: &mut DeviceBuffer<T>,
) -> Result<()> {
    let a = pool_args("avg_pool2d backward", p, count_include_pad)?;
    check_len("avg_pool2d backward", "dy", dy, p.y_len())?;
    check_len("avg_pool2d backward", "dx", dx, p.x_len())?;
    let n = p.x_len() as u64;
    launch!(
        dev,
        POOL,
        entry::<T>("avg_pool2d_bwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [dy.ptr(), dx.ptr(), a]
    )
}

/// `y[p]` = mean of plane p of x `[planes, plane]` ([`crate::cpu::pool::global_avg_pool_forward`]).
pub fn global_avg_pool_forward<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    planes: usize,
    plane: usize,
    y: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_len("global_avg_pool", "x", x, planes * plane)?;
    check_len("global_avg_pool", "y", y, planes)?;
    if plane == 0 {
        return dev.fill_zero(y);
    }
    launch!(
        dev,
        POOL,
        entry::<T>("global_avg_pool_fwd"),
        cfg1(row_blocks(dev, planes), row_threads(plane)),
        [x.ptr(), y.ptr(), planes as u64, plane as u64]
    )
}

/// `dx[p, :] = dy[p] / plane` ([`crate::cpu::pool::global_avg_pool_backward`]).
pub fn global_avg_pool_backward<T: CudaFloat>(
    dev: &CudaDevice,
    dy: &DeviceBuffer<T>,
    planes: usize,
    plane: usize,
    dx: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_len("global_avg_pool backward", "dy", dy, planes)?;
    check_len("global_avg_pool backward", "dx", dx, planes * plane)?;
    let n = (planes * plane) as u64;
    launch!(
        dev,
        POOL,
        entry::<T>("global_avg_pool_bwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [dy.ptr(), dx.ptr(), planes as u64, plane as u64]
    )
}
