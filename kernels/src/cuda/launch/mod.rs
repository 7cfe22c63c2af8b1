//! The launchers: one Rust function per kernel family, with the CPU kernel's signature where
//! it can be kept (the same `UnaryOp`, `Pool2dParams`, `Conv2dParams`, `GemmShape`, ...) but
//! [`DeviceBuffer`]s in place of slices, and a `Result` instead of a panic for bad sizes.
//!
//! Each launcher checks the buffer lengths, picks the grid and block (the reason is written
//! beside each choice) and queues the kernel on the device's stream; nothing waits for it
//! (`CudaDevice::dtoh` and `synchronize` do).

pub mod conv;
pub mod elementwise;
pub mod gemm;
pub mod metric;
pub mod movement;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod softmax;

use cudarc::driver::LaunchConfig;

use super::alloc::{DeviceBuffer, DeviceElem};
use super::error::{CudaError, Result};
use crate::Float;

/// The element types the kernels are compiled for, with the suffix of their entry points.
pub trait CudaFloat: Float + DeviceElem {
    const SUFFIX: &'static str;
}
impl CudaFloat for f32 {
    const SUFFIX: &'static str = "f32";
}
impl CudaFloat for f64 {
    const SUFFIX: &'static str = "f64";
}

/// `<stem>_<f32|f64>`.
pub(crate) fn entry<T: CudaFloat>(stem: &str) -> String {
    format!("{stem}_{}", T::SUFFIX)
}

/// Queues kernel `$entry` of `$module` with launch config `$cfg` and the listed arguments
/// (each a value whose type matches the kernel parameter: `u64` device addresses from
/// `DeviceBuffer::ptr`, sizes, scalars, `#[repr(C)]` argument structs). An empty grid queues
/// nothing. Evaluates to `Result<()>`.
macro_rules! launch {
    ($dev:expr, $module:expr, $entry:expr, $cfg:expr, [$($arg:expr),* $(,)?]) => {{
        let mut params: Vec<*mut std::ffi::c_void> = Vec::new();
        $(
            // Each value lives until the end of this block (a shadowed binding is not
            // dropped), so its address stays valid through the launch.
            let arg = $arg;
            params.push($crate::cuda::launch::param(&arg));
        )*
        // SAFETY: the launcher checked every buffer length against the sizes it passes, and
        // the argument list matches the kernel's parameters (the compile test checks that
        // the entry exists; the parity test that the arguments mean what they say).
        unsafe { $dev.launch_raw(&$module, &$entry, $cfg, &mut params) }
    }};
}
pub(crate) use launch;

/// A kernel parameter as `cuLaunchKernel` takes it: the address of the value.
pub(crate) fn param<T: cudarc::driver::DeviceRepr>(v: &T) -> *mut std::ffi::c_void {
    v as *const T as *mut std::ffi::c_void
}

/// A 1-D launch.
pub(crate) fn cfg1(blocks: u32, threads: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Threads for a kernel that gives one block to each row of `len` elements: a power of two
/// from one warp up to 256 (512 for long rows), so short rows do not idle most of a block.
pub(crate) fn row_threads(len: usize) -> u32 {
    if len >= 4096 {
        512
    } else {
        (len.next_power_of_two() as u32).clamp(32, 256)
    }
}

/// Blocks for kernels that give one block to each row (plane, channel, column): every row,
/// but at most 32 blocks per SM, the kernels looping over the rest.
pub(crate) fn row_blocks(dev: &crate::cuda::CudaDevice, rows: usize) -> u32 {
    rows.min(dev.sm_count() as usize * 32) as u32
}

/// Fails unless `buf` has `want` elements.
pub(crate) fn check_len<T: DeviceElem>(
    op: &'static str,
    what: &str,
    buf: &DeviceBuffer<T>,
    want: usize,
) -> Result<()> {
    if buf.len() == want {
        Ok(())
    } else {
        Err(CudaError::invalid(
            op,
            format!("{what} has {} elements, expected {want}", buf.len()),
        ))
    }
}

/// The address of an optional buffer, 0 (a null pointer the kernel tests) when absent.
pub(crate) fn ptr_or_null<T: DeviceElem>(b: Option<&DeviceBuffer<T>>) -> u64 {
    b.map_or(0, |b| b.ptr())
}

/// Fails unless `v` fits the kernels' int arithmetic.
pub(crate) fn fits_i32(op: &'static str, what: &str, v: usize) -> Result<i32> {
    i32::try_from(v).map_err(|_| {
        CudaError::invalid(
            op,
            format!("{what} = {v} exceeds the kernel's 32-bit indices"),
        )
    })
}
