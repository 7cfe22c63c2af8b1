//! Launchers of `softmax.cu`: row softmax, log-softmax, softmax cross-entropy and backwards.
//!
//! Shape legend: x, y, g, dx, probs `[rows, cols]`; labels, losses, g_loss `[rows]`
//! (as [`crate::cpu::softmax`]).
//!
//! Grid: one block per row (`row_threads` threads striding along it, block reductions for
//! the row max and sum), at most 32 blocks per SM looping over the rows.

use super::{cfg1, check_len, entry, launch, row_blocks, row_threads, CudaFloat};
use crate::cuda::alloc::DeviceBuffer;
use crate::cuda::error::Result;
use crate::cuda::modules::SOFTMAX;
use crate::cuda::CudaDevice;

fn rows_cfg(dev: &CudaDevice, rows: usize, cols: usize) -> cudarc::driver::LaunchConfig {
    cfg1(row_blocks(dev, rows), row_threads(cols))
}

/// y = f(x) row by row with kernel `kernel` (softmax or log-softmax): the shared launch of the
/// two forward passes.
fn rows_forward<T: CudaFloat>(
    op: &'static str,
    kernel: &str,
    dev: &CudaDevice,
    (x, y): (&DeviceBuffer<T>, &mut DeviceBuffer<T>),
    rows: usize,
    cols: usize,
) -> Result<()> {
    check_len(op, "x", x, rows * cols)?;
    check_len(op, "y", y, rows * cols)?;
    launch!(
        dev,
        SOFTMAX,
        entry::<T>(kernel),
        rows_cfg(dev, rows, cols),
        [x.ptr(), y.ptr(), rows as u64, cols as u64]
    )
}

/// dx from the forward output y and the upstream gradient g with kernel `kernel`: the shared
/// launch of the two backward passes.
fn rows_backward<T: CudaFloat>(
    op: &'static str,
    kernel: &str,
    dev: &CudaDevice,
    (y, g, dx): (&DeviceBuffer<T>, &DeviceBuffer<T>, &mut DeviceBuffer<T>),
    rows: usize,
    cols: usize,
) -> Result<()> {
    for (what, b) in [("y", y), ("g", g)] {
        check_len(op, what, b, rows * cols)?;
    }
    check_len(op, "dx", dx, rows * cols)?;
    launch!(
        dev,
        SOFTMAX,
        entry::<T>(kernel),
        rows_cfg(dev, rows, cols),
        [y.ptr(), g.ptr(), dx.ptr(), rows as u64, cols as u64]
    )
}

/// y = softmax(x) per row ([`crate::cpu::softmax::softmax_rows`]).
pub fn softmax_rows<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    rows: usize,
    cols: usize,
    y: &mut DeviceBuffer<T>,
) -> Result<()> {
    rows_forward("softmax_rows", "softmax_fwd", dev, (x, y), rows, cols)
}

/// y = log_softmax(x) per row ([`crate::cpu::softmax::log_softmax_rows`]).
pub fn log_softmax_rows<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    rows: usize,
    cols: usize,
    y: &mut DeviceBuffer<T>,
) -> Result<()> {
    rows_forward(
        "log_softmax_rows",
        "log_softmax_fwd",
        dev,
        (x, y),
        rows,
        cols,
    )
}

/// dx = y ⊙ (g − Σ g ⊙ y) per row, y = softmax(x).
pub fn softmax_rows_backward<T: CudaFloat>(
    dev: &CudaDevice,
    y: &DeviceBuffer<T>,
    g: &DeviceBuffer<T>,
    rows: usize,
    cols: usize,
    dx: &mut DeviceBuffer<T>,
) -> Result<()> {
    rows_backward(
        "softmax_rows_backward",
        "softmax_bwd",
        dev,
        (y, g, dx),
        rows,
        cols,
    )
}

/// dx = g − exp(y) Σ g per row, y = log_softmax(x).
pub fn log_softmax_rows_backward<T: CudaFloat>(
    dev: &CudaDevice,
    y: &DeviceBuffer<T>,
    g: &DeviceBuffer<T>,
    rows: usize,
    cols: usize,
    dx: &mut DeviceBuffer<T>,
) -> Result<()> {
    rows_backward(
        "log_softmax_rows_backward",
        "log_softmax_bwd",
        dev,
        (y, g, dx),
        rows,
        cols,
    )
}

/// `loss_r = LSE(x_r) − x_r[label_r]`, and the rows' softmax in `probs`
/// ([`crate::cpu::softmax::cross_entropy_rows`]). A label ≥ cols gives a NaN loss.
pub fn cross_entropy_rows<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    rows: usize,
    cols: usize,
    labels: &DeviceBuffer<usize>,
    losses: &mut DeviceBuffer<T>,
    probs: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_len("cross_entropy_rows", "x", x, rows * cols)?;
    check_len("cross_entropy_rows", "labels", labels, rows)?;
    check_len("cross_entropy_rows", "losses", losses, rows)?;
    check_len("cross_entropy_rows", "probs", probs, rows * cols)?;
    launch!(
        dev,
        SOFTMAX,
        entry::<T>("cross_entropy_fwd"),
        rows_cfg(dev, rows, cols),
        [
            x.ptr(),
            labels.ptr(),
            losses.ptr(),
            probs.ptr(),
            rows as u64,
            cols as u64
        ]
    )
}

/// dx_rj = g_loss_r·(probs_rj − [j = label_r]), the gradient of the per-row losses.
pub fn cross_entropy_rows_backward<T: CudaFloat>(
    dev: &CudaDevice,
    probs: &DeviceBuffer<T>,
    labels: &DeviceBuffer<usize>,
    g_loss: &DeviceBuffer<T>,
    rows: usize,
    cols: usize,
    dx: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_len("cross_entropy_rows_backward", "probs", probs, rows * cols)?;
    check_len("cross_entropy_rows_backward", "labels", labels, rows)?;
    check_len("cross_entropy_rows_backward", "g_loss", g_loss, rows)?;
    check_len("cross_entropy_rows_backward", "dx", dx, rows * cols)?;
    // Elementwise: one thread per element, 256 per block.
    let n = (rows * cols) as u64;
    launch!(
        dev,
        SOFTMAX,
        entry::<T>("cross_entropy_bwd"),
        cfg1(dev.grid_for(n, 256), 256),
        [
            probs.ptr(),
            labels.ptr(),
            g_loss.ptr(),
            dx.ptr(),
            rows as u64,
            cols as u64
        ]
    )
}
