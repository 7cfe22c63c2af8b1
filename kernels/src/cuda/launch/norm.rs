//! Launchers of `batchnorm.cu`, `prelu.cu` and `dropout.cu`: the per-channel layers.
//!
//! Shape legend: x, y, dy, dx `[N, C, S]`; per-channel vectors `[C]` (as
//! [`crate::cpu::batchnorm`], [`crate::cpu::prelu`], [`crate::cpu::dropout`]).
//!
//! Grid: per-channel sums take one block per channel (256 threads over the channel's N·S
//! values); the elementwise passes one thread per element, 256 per block, grid-stride.

use super::{cfg1, check_len, entry, launch, ptr_or_null, row_blocks, CudaFloat};
use crate::cpu::batchnorm::BatchNormShape;
use crate::cuda::alloc::DeviceBuffer;
use crate::cuda::error::{CudaError, Result};
use crate::cuda::modules::{BATCHNORM, DROPOUT, PRELU};
use crate::cuda::CudaDevice;

const THREADS: u32 = 256;

fn check_channels<T: CudaFloat>(
    op: &'static str,
    c: usize,
    bufs: &[(&str, Option<&DeviceBuffer<T>>)],
) -> Result<()> {
    for (what, b) in bufs {
        if let Some(b) = b {
            check_len(op, what, b, c)?;
        }
    }
    Ok(())
}

fn dims(sh: &BatchNormShape) -> (u64, u64, u64) {
    (sh.n as u64, sh.c as u64, sh.s as u64)
}

/// Training-mode forward: batch statistics into save_mean / save_invstd, running statistics
/// updated when given, y normalised ([`crate::cpu::batchnorm::batch_norm_forward_train`]).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_forward_train<T: CudaFloat>(
    dev: &CudaDevice,
    sh: &BatchNormShape,
    x: &DeviceBuffer<T>,
    gamma: Option<&DeviceBuffer<T>>,
    beta: Option<&DeviceBuffer<T>>,
    eps: f64,
    momentum: f64,
    running: Option<(&mut DeviceBuffer<T>, &mut DeviceBuffer<T>)>,
    y: &mut DeviceBuffer<T>,
    save_mean: &mut DeviceBuffer<T>,
    save_invstd: &mut DeviceBuffer<T>,
) -> Result<()> {
    const OP: &str = "batch_norm_forward_train";
    if sh.n * sh.s == 0 {
        return Err(CudaError::invalid(OP, "no values per channel"));
    }
    check_len(OP, "x", x, sh.len())?;
    check_len(OP, "y", y, sh.len())?;
    check_channels(
        OP,
        sh.c,
        &[
            ("gamma", gamma),
            ("beta", beta),
            ("save_mean", Some(save_mean)),
            ("save_invstd", Some(save_invstd)),
        ],
    )?;
    let (rm, rv) = match &running {
        Some((rm, rv)) => {
            check_channels(
                OP,
                sh.c,
                &[("running_mean", Some(&**rm)), ("running_var", Some(&**rv))],
            )?;
            (rm.ptr(), rv.ptr())
        }
        None => (0, 0),
    };
    let (n, c, s) = dims(sh);
    launch!(
        dev,
        BATCHNORM,
        entry::<T>("batch_norm_stats_fwd"),
        cfg1(row_blocks(dev, sh.c), THREADS),
        [
            x.ptr(),
            save_mean.ptr(),
            save_invstd.ptr(),
            rm,
            rv,
            n,
            c,
            s,
            eps,
            momentum
        ]
    )?;
    launch!(
        dev,
        BATCHNORM,
        entry::<T>("batch_norm_apply_fwd"),
        cfg1(dev.grid_for(n * c * s, THREADS), THREADS),
        [
            x.ptr(),
            ptr_or_null(gamma),
            ptr_or_null(beta),
            save_mean.ptr(),
            save_invstd.ptr(),
            y.ptr(),
            n,
            c,
            s
        ]
    )
}

/// 1/sqrt(var + eps) per channel, into `invstd` (eval mode's statistics).
pub fn batch_norm_invstd<T: CudaFloat>(
    dev: &CudaDevice,
    var: &DeviceBuffer<T>,
    eps: f64,
    invstd: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_len("batch_norm_invstd", "invstd", invstd, var.len())?;
    let c = var.len() as u64;
    launch!(
        dev,
        BATCHNORM,
        entry::<T>("batch_norm_invstd_fwd"),
        cfg1(dev.grid_for(c, THREADS), THREADS),
        [var.ptr(), invstd.ptr(), c, eps]
    )
}

/// Eval-mode forward with the running statistics
/// ([`crate::cpu::batchnorm::batch_norm_forward_eval`]).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_forward_eval<T: CudaFloat>(
    dev: &CudaDevice,
    sh: &BatchNormShape,
    x: &DeviceBuffer<T>,
    gamma: Option<&DeviceBuffer<T>>,
    beta: Option<&DeviceBuffer<T>>,
    running_mean: &DeviceBuffer<T>,
    running_var: &DeviceBuffer<T>,
    eps: f64,
    y: &mut DeviceBuffer<T>,
) -> Result<()> {
    const OP: &str = "batch_norm_forward_eval";
    check_len(OP, "x", x, sh.len())?;
    check_len(OP, "y", y, sh.len())?;
    check_channels(
        OP,
        sh.c,
        &[
            ("gamma", gamma),
            ("beta", beta),
            ("running_mean", Some(running_mean)),
            ("running_var", Some(running_var)),
        ],
    )?;
    let mut invstd = dev.alloc::<T>(sh.c)?;
    batch_norm_invstd(dev, running_var, eps, &mut invstd)?;
    let (n, c, s) = dims(sh);
    launch!(
        dev,
        BATCHNORM,
        entry::<T>("batch_norm_apply_fwd"),
        cfg1(dev.grid_for(n * c * s, THREADS), THREADS),
        [
            x.ptr(),
            ptr_or_null(gamma),
            ptr_or_null(beta),
            running_mean.ptr(),
            invstd.ptr(),
            y.ptr(),
            n,
            c,
            s
        ]
    )
}

/// Training-mode backward from the saved statistics: dx, dgamma, dbeta
/// ([`crate::cpu::batchnorm::batch_norm_backward`]).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward<T: CudaFloat>(
    dev: &CudaDevice,
    sh: &BatchNormShape,
    x: &DeviceBuffer<T>,
    dy: &DeviceBuffer<T>,
    gamma: Option<&DeviceBuffer<T>>,
    save_mean: &DeviceBuffer<T>,
    save_invstd: &DeviceBuffer<T>,
    dx: &mut DeviceBuffer<T>,
    dgamma: &mut DeviceBuffer<T>,
    dbeta: &mut DeviceBuffer<T>,
) -> Result<()> {
    backward(
        dev,
        "batch_norm_backward",
        sh,
        x,
        dy,
        gamma,
        save_mean,
        save_invstd,
        true,
        dx,
        dgamma,
        dbeta,
    )
}

/// Eval-mode backward (statistics frozen): dx = dy·gamma·invstd; dgamma, dbeta with x̂ from
/// the running statistics ([`crate::cpu::batchnorm::batch_norm_backward_eval`]).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward_eval<T: CudaFloat>(
    dev: &CudaDevice,
    sh: &BatchNormShape,
    x: &DeviceBuffer<T>,
    dy: &DeviceBuffer<T>,
    gamma: Option<&DeviceBuffer<T>>,
    running_mean: &DeviceBuffer<T>,
    running_var: &DeviceBuffer<T>,
    eps: f64,
    dx: &mut DeviceBuffer<T>,
    dgamma: &mut DeviceBuffer<T>,
    dbeta: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_channels(
        "batch_norm_backward_eval",
        sh.c,
        &[("running_var", Some(running_var))],
    )?;
    let mut invstd = dev.alloc::<T>(sh.c)?;
    batch_norm_invstd(dev, running_var, eps, &mut invstd)?;
    backward(
        dev,
        "batch_norm_backward_eval",
        sh,
        x,
        dy,
        gamma,
        running_mean,
        &invstd,
        false,
        dx,
        dgamma,
        dbeta,
    )
}

#[allow(clippy::too_many_arguments)]
fn backward<T: CudaFloat>(
    dev: &CudaDevice,
    op: &'static str,
    sh: &BatchNormShape,
    x: &DeviceBuffer<T>,
    dy: &DeviceBuffer<T>,
    gamma: Option<&DeviceBuffer<T>>,
    mean: &DeviceBuffer<T>,
    invstd: &DeviceBuffer<T>,
    train: bool,
    dx: &mut DeviceBuffer<T>,
    dgamma: &mut DeviceBuffer<T>,
    dbeta: &mut DeviceBuffer<T>,
) -> Result<()> {
    for (what, b) in [("x", x), ("dy", dy)] {
        check_len(op, what, b, sh.len())?;
    }
    check_len(op, "dx", dx, sh.len())?;
    check_channels(
        op,
        sh.c,
        &[
            ("gamma", gamma),
            ("mean", Some(mean)),
            ("invstd", Some(invstd)),
            ("dgamma", Some(dgamma)),
            ("dbeta", Some(dbeta)),
        ],
    )?;
    let (n, c, s) = dims(sh);
    launch!(
        dev,
        BATCHNORM,
        entry::<T>("batch_norm_params_bwd"),
        cfg1(row_blocks(dev, sh.c), THREADS),
        [
            x.ptr(),
            dy.ptr(),
            mean.ptr(),
            invstd.ptr(),
            dgamma.ptr(),
            dbeta.ptr(),
            n,
            c,
            s
        ]
    )?;
    launch!(
        dev,
        BATCHNORM,
        entry::<T>("batch_norm_bwd"),
        cfg1(dev.grid_for(n * c * s, THREADS), THREADS),
        [
            x.ptr(),
            dy.ptr(),
            ptr_or_null(gamma),
            mean.ptr(),
            invstd.ptr(),
            dgamma.ptr(),
            dbeta.ptr(),
            dx.ptr(),
            n,
            c,
            s,
            train as i32
        ]
    )
}

/// 1 when one slope is shared by all channels, 0 for one per channel.
fn prelu_shared<T: CudaFloat>(op: &'static str, c: usize, slope: &DeviceBuffer<T>) -> Result<i32> {
    if slope.len() != c && slope.len() != 1 {
        return Err(CudaError::invalid(
            op,
            format!("slope has {} values for {c} channels", slope.len()),
        ));
    }
    Ok((slope.len() == 1) as i32)
}

/// y = x for x > 0, slope·x otherwise ([`crate::cpu::prelu::prelu_forward`]).
#[allow(clippy::too_many_arguments)]
pub fn prelu_forward<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    n: usize,
    c: usize,
    s: usize,
    slope: &DeviceBuffer<T>,
    y: &mut DeviceBuffer<T>,
) -> Result<()> {
    let shared = prelu_shared("prelu_forward", c, slope)?;
    check_len("prelu_forward", "x", x, n * c * s)?;
    check_len("prelu_forward", "y", y, n * c * s)?;
    let total = (n * c * s) as u64;
    launch!(
        dev,
        PRELU,
        entry::<T>("prelu_fwd"),
        cfg1(dev.grid_for(total, THREADS), THREADS),
        [
            x.ptr(),
            slope.ptr(),
            y.ptr(),
            total,
            c as u64,
            s as u64,
            shared
        ]
    )
}

/// dx and dslope ([`crate::cpu::prelu::prelu_backward`]).
#[allow(clippy::too_many_arguments)]
pub fn prelu_backward<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    n: usize,
    c: usize,
    s: usize,
    slope: &DeviceBuffer<T>,
    dy: &DeviceBuffer<T>,
    dx: &mut DeviceBuffer<T>,
    dslope: &mut DeviceBuffer<T>,
) -> Result<()> {
    const OP: &str = "prelu_backward";
    let shared = prelu_shared(OP, c, slope)?;
    for (what, b) in [("x", x), ("dy", dy)] {
        check_len(OP, what, b, n * c * s)?;
    }
    check_len(OP, "dx", dx, n * c * s)?;
    check_len(OP, "dslope", dslope, slope.len())?;
    let total = (n * c * s) as u64;
    launch!(
        dev,
        PRELU,
        entry::<T>("prelu_bwd"),
        cfg1(dev.grid_for(total, THREADS), THREADS),
        [
            x.ptr(),
            slope.ptr(),
            dy.ptr(),
            dx.ptr(),
            total,
            c as u64,
            s as u64,
            shared
        ]
    )?;
    // Per-channel sums; a shared slope then sums the C partial sums into its one value.
    let mut partial = if shared == 1 {
        Some(dev.alloc::<T>(c)?)
    } else {
        None
    };
    let target = partial.as_ref().map_or(dslope.ptr(), |p| p.ptr());
    launch!(
        dev,
        PRELU,
        entry::<T>("prelu_slope_bwd"),
        cfg1(row_blocks(dev, c), THREADS),
        [x.ptr(), dy.ptr(), target, n as u64, c as u64, s as u64]
    )?;
    if let Some(p) = partial.take() {
        super::reduce::sum_axis(dev, &p, 1, c, 1, dslope)?;
    }
    Ok(())
}

/// y = x·mask with a fresh SplitMix64 mask from `seed`, returned in `mask` for the backward
/// ([`crate::cpu::dropout::dropout_forward`]; the same mask, bit for bit).
pub fn dropout_forward<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    p: f64,
    seed: u64,
    y: &mut DeviceBuffer<T>,
    mask: &mut DeviceBuffer<T>,
) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(CudaError::invalid(
            "dropout_forward",
            format!("p = {p} must be in [0, 1]"),
        ));
    }
    check_len("dropout_forward", "y", y, x.len())?;
    check_len("dropout_forward", "mask", mask, x.len())?;
    // The kept scale rounded to T on the host, exactly as the CPU kernel does.
    let scale = T::from_f64(if p < 1.0 { 1.0 / (1.0 - p) } else { 0.0 });
    let n = x.len() as u64;
    launch!(
        dev,
        DROPOUT,
        entry::<T>("dropout_fwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [x.ptr(), y.ptr(), mask.ptr(), n, seed, p, scale]
    )
}

/// dx = dy·mask ([`crate::cpu::dropout::dropout_backward`]).
pub fn dropout_backward<T: CudaFloat>(
    dev: &CudaDevice,
    dy: &DeviceBuffer<T>,
    mask: &DeviceBuffer<T>,
    dx: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_len("dropout_backward", "mask", mask, dy.len())?;
    check_len("dropout_backward", "dx", dx, dy.len())?;
    let n = dy.len() as u64;
    launch!(
        dev,
        DROPOUT,
        entry::<T>("dropout_bwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [dy.ptr(), mask.ptr(), dx.ptr(), n]
    )
}
