//! Launchers of `conv.cu`: conv2d forward, backward-data, backward-weight, backward-bias.
//!
//! Shape legend: as [`crate::cpu::conv::Conv2dParams`] (x `[N, Cin, H, W]`, w
//! `[Cout, Cin/G, KH, KW]`, y `[N, Cout, Ho, Wo]`).
//!
//! Grid: one 256-thread block per 64 x 64 tile of the pass's GEMM (x: its columns, the pixels
//! or the weight taps; y: its rows, the channels), z: the group. The backward-weight GEMM sums
//! over all N·Ho·Wo pixels, so when its tiles are too few to fill the device (fewer than two
//! blocks per SM) the sum is split over more z-blocks (split-K) whose tiles are added with
//! atomicAdd into a zeroed dw.

use cudarc::driver::{DeviceRepr, LaunchConfig};

use super::{cfg1, check_len, entry, fits_i32, launch, row_blocks, CudaFloat};
use crate::cpu::conv::Conv2dParams;
use crate::cuda::alloc::DeviceBuffer;
use crate::cuda::error::{CudaError, Result};
use crate::cuda::modules::CONV;
use crate::cuda::CudaDevice;

/// `struct ConvArgs` of conv.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct ConvArgs {
    n: i32,
    c_in: i32,
    h: i32,
    w: i32,
    c_out: i32,
    kh: i32,
    kw: i32,
    sh: i32,
    sw: i32,
    ph: i32,
    pw: i32,
    dh: i32,
    dw: i32,
    groups: i32,
    ho: i32,
    wo: i32,
    splits: i32,
}

// SAFETY: a plain #[repr(C)] struct of i32, laid out as `struct ConvArgs`.
unsafe impl DeviceRepr for ConvArgs {}

/// Checks the parameters as the CPU does (but with an error, not a panic) and that every
/// tensor fits the kernels' 32-bit indices.
fn conv_args(op: &'static str, p: &Conv2dParams) -> Result<ConvArgs> {
    let bad = |why: &str| Err(CudaError::invalid(op, format!("{why} ({p:?})")));
    if p.groups == 0 || p.c_in % p.groups != 0 || p.c_out % p.groups != 0 {
        return bad("groups must divide Cin and Cout");
    }
    if p.stride.0 == 0 || p.stride.1 == 0 || p.dilation.0 == 0 || p.dilation.1 == 0 {
        return bad("stride and dilation must be >= 1");
    }
    if p.kh == 0
        || p.kw == 0
        || p.h + 2 * p.pad.0 <= p.dilation.0 * (p.kh - 1)
        || p.w + 2 * p.pad.1 <= p.dilation.1 * (p.kw - 1)
    {
        return bad("kernel larger than the padded input");
    }
    for (what, v) in [("x", p.x_len()), ("y", p.y_len()), ("w", p.w_len())] {
        fits_i32(op, what, v)?;
    }
    let i = |what, v| fits_i32(op, what, v);
    Ok(ConvArgs {
        n: i("N", p.n)?,
        c_in: i("Cin", p.c_in)?,
        h: i("H", p.h)?,
        w: i("W", p.w)?,
        c_out: i("Cout", p.c_out)?,
        kh: i("KH", p.kh)?,
        kw: i("KW", p.kw)?,
        sh: i("stride", p.stride.0)?,
        sw: i("stride", p.stride.1)?,
        ph: i("pad", p.pad.0)?,
        pw: i("pad", p.pad.1)?,
        dh: i("dilation", p.dilation.0)?,
        dw: i("dilation", p.dilation.1)?,
        groups: i("groups", p.groups)?,
        ho: i("Ho", p.out_h())?,
        wo: i("Wo", p.out_w())?,
        splits: 1,
    })
}

fn tiles(cols: usize, rows: usize, z: usize) -> Result<LaunchConfig> {
    if rows.div_ceil(64) > 65_535 || z > 65_535 {
        return Err(CudaError::invalid("conv2d", "grid too large"));
    }
    Ok(LaunchConfig {
        grid_dim: (cols.div_ceil(64) as u32, rows.div_ceil(64) as u32, z as u32),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    })
}

/// y = conv2d(x, w) + b ([`crate::cpu::conv::conv2d_forward`]).
pub fn conv2d_forward<T: CudaFloat>(
    dev: &CudaDevice,
    p: &Conv2dParams,
    x: &DeviceBuffer<T>,
    w: &DeviceBuffer<T>,
    bias: Option<&DeviceBuffer<T>>,
    y: &mut DeviceBuffer<T>,
) -> Result<()> {
    let a = conv_args("conv2d_forward", p)?;
    check_len("conv2d_forward", "x", x, p.x_len())?;
    check_len("conv2d_forward", "w", w, p.w_len())?;
    check_len("conv2d_forward", "y", y, p.y_len())?;
    if let Some(b) = bias {
        check_len("conv2d_forward", "bias", b, p.c_out)?;
    }
    let cfg = tiles(p.n * p.out_h() * p.out_w(), p.c_out_g(), p.groups)?;
    launch!(
        dev,
        CONV,
        entry::<T>("conv2d_fwd"),
        cfg,
        [x.ptr(), w.ptr(), super::ptr_or_null(bias), y.ptr(), a]
    )
}

/// dx given dy ([`crate::cpu::conv::conv2d_backward_data`]); overwrites dx.
pub fn conv2d_backward_data<T: CudaFloat>(
    dev: &CudaDevice,
    p: &Conv2dParams,
    dy: &DeviceBuffer<T>,
    w: &DeviceBuffer<T>,
    dx: &mut DeviceBuffer<T>,
) -> Result<()> {
    let a = conv_args("conv2d_backward_data", p)?;
    check_len("conv2d_backward_data", "dy", dy, p.y_len())?;
    check_len("conv2d_backward_data", "w", w, p.w_len())?;
    check_len("conv2d_backward_data", "dx", dx, p.x_len())?;
    let cfg = tiles(p.n * p.h * p.w, p.c_in_g(), p.groups)?;
    launch!(
        dev,
        CONV,
        entry::<T>("conv2d_data_bwd"),
        cfg,
        [dy.ptr(), w.ptr(), dx.ptr(), a]
    )
}

/// dw given x and dy ([`crate::cpu::conv::conv2d_backward_weight`]); overwrites dw.
pub fn conv2d_backward_weight<T: CudaFloat>(
    dev: &CudaDevice,
    p: &Conv2dParams,
    x: &DeviceBuffer<T>,
    dy: &DeviceBuffer<T>,
    dw: &mut DeviceBuffer<T>,
) -> Result<()> {
    let mut a = conv_args("conv2d_backward_weight", p)?;
    check_len("conv2d_backward_weight", "x", x, p.x_len())?;
    check_len("conv2d_backward_weight", "dy", dy, p.y_len())?;
    check_len("conv2d_backward_weight", "dw", dw, p.w_len())?;
    let blocks = p.k_len().div_ceil(64) * p.c_out_g().div_ceil(64) * p.groups;
    let k_tiles = (p.n * p.out_h() * p.out_w()).div_ceil(16).max(1);
    let want = 2 * dev.sm_count() as usize;
    let splits = if blocks >= want {
        1
    } else {
        want.div_ceil(blocks.max(1))
            .min(k_tiles)
            .min(65_535 / p.groups)
            .max(1)
    };
    a.splits = splits as i32;
    if splits > 1 {
        dev.fill_zero(dw)?;
    }
    let cfg = tiles(p.k_len(), p.c_out_g(), p.groups * splits)?;
    launch!(
        dev,
        CONV,
        entry::<T>("conv2d_weight_bwd"),
        cfg,
        [x.ptr(), dy.ptr(), dw.ptr(), a]
    )
}

/// `db[co] = Σ dy[:, co]` ([`crate::cpu::conv::conv2d_backward_bias`]). One block per channel.
pub fn conv2d_backward_bias<T: CudaFloat>(
    dev: &CudaDevice,
    p: &Conv2dParams,
    dy: &DeviceBuffer<T>,
    db: &mut DeviceBuffer<T>,
) -> Result<()> {
    let a = conv_args("conv2d_backward_bias", p)?;
    check_len("conv2d_backward_bias", "dy", dy, p.y_len())?;
    check_len("conv2d_backward_bias", "db", db, p.c_out)?;
    launch!(
        dev,
        CONV,
        entry::<T>("conv2d_bias_bwd"),
        cfg1(row_blocks(dev, p.c_out), 256),
        [dy.ptr(), db.ptr(), a]
    )
}
