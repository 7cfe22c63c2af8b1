//! The CUDA backend: kernels written in CUDA C++, compiled at run time with NVRTC, launched
//! through `cudarc` on device buffers. No tensors, no tape: like [`crate::cpu`], plain
//! functions on buffers plus the sizes they need.
//!
//! | piece | file |
//! |---|---|
//! | the `.cu` sources, one family per file, `common.cuh` pasted in front | `*.cu`, `*.cuh`, listed in [`modules`] |
//! | finding libnvrtc, compiling a module to PTX | [`nvrtc`] |
//! | the PTX cache (memory and disk) | [`cache`] |
//! | a device: context, stream, module loading, copies | [`device`] |
//! | device buffers and the caching allocator | [`alloc`] |
//! | the launchers, one per family | [`launch`] |
//! | errors with the CUDA error name or the NVRTC log | [`error`] |
//! | the CPU emulation of the kernels (tests without a GPU) | [`emulator`], `emulator/emu.h` |
//!
//! Kernel families (each entry point `<op>_<fwd|bwd>_<f32|f64>`; CPU reference in brackets):
//! elementwise unary / binary with broadcasting / compare / where [`cpu::elementwise`];
//! sum / max+argmax / logsumexp along an axis [`cpu::reduce`]; softmax, log-softmax, softmax
//! cross-entropy [`cpu::softmax`]; permute, narrow, index_select / index_add, gather /
//! scatter_add [`cpu::movement`]; pairwise squared distances, l2-normalise, top-k, the angular
//! margins φ [ops/src/metric]; our tiled GEMM [`cpu::gemm`]; conv2d forward / backward-data /
//! backward-weight / backward-bias as implicit GEMMs [`cpu::conv`]; max / average / global
//! average pooling [`cpu::pool`]; batch norm [`cpu::batchnorm`]; PReLU [`cpu::prelu`];
//! dropout with the CPU's exact SplitMix64 mask [`cpu::dropout`].
//!
//! # Why cudarc is always built (no cargo feature)
//!
//! With `dynamic-loading`, cudarc needs nothing from CUDA to build or link: libcuda and libnvrtc
//! are opened with dlopen the first time they are used. It costs about 10 s of CPU once per
//! clean build and nothing afterwards, and in exchange every build (clippy in CI included)
//! type-checks the backend and every `cargo test` runs the NVRTC compile test: a backend
//! behind a feature that CI does not build rots. On a machine without CUDA:
//! [`driver_available`] is false, [`CudaDevice::new`] returns [`CudaError::NoDriver`] (never a
//! panic: the driver library is probed before any driver call), and the CUDA tests print
//! "skipped: ...".
//!
//! # Setting up a machine
//!
//! - Driver: any NVIDIA driver for CUDA 12.x or 13.x.
//! - NVRTC: a CUDA toolkit's `lib64` on `LD_LIBRARY_PATH`, or the PyPI wheel
//!   `nvidia-cuda-nvrtc` with `ANGLEGRAD_NVRTC_LIB` pointing at its `lib` folder
//!   (`scripts/test.sh` installs it). Its CUDA version must not be newer than the driver's
//!   (the driver cannot load newer PTX; [`CudaError::NvrtcNewerThanDriver`] says so).
//! - PTX cache: `ANGLEGRAD_CACHE_DIR` (default `~/.cache/anglegrad/ptx`, `off` to disable).
//!
//! # Next: tensors on the device (engine, not this crate)
//!
//! The engine can hold device data without touching the ops' CPU paths: a variant
//! `Storage::Cuda { dev: Arc<CudaDevice>, buf: Arc<CudaBuf> }` (`CudaBuf` = `F32(DeviceBuffer<f32>)`
//! | `F64(DeviceBuffer<f64>)`), a process-wide `Device::Cuda(i) -> Arc<CudaDevice>` registry,
//! `Tensor::to_device` through [`CudaDevice::htod`] / [`CudaDevice::dtoh`], `as_slice` on a
//! device tensor returning a device-mismatch error, and `Error::Cuda(CudaError)`. Each op then
//! matches on the device and calls the launcher beside the CPU kernel it calls today; the
//! engine's un-broadcast becomes [`launch::reduce::sum_axis`] over merged axes.
//!
//! [`cpu::elementwise`]: crate::cpu::elementwise
//! [`cpu::reduce`]: crate::cpu::reduce
//! [`cpu::softmax`]: crate::cpu::softmax
//! [`cpu::movement`]: crate::cpu::movement
//! [`cpu::gemm`]: crate::cpu::gemm
//! [`cpu::conv`]: crate::cpu::conv
//! [`cpu::pool`]: crate::cpu::pool
//! [`cpu::batchnorm`]: crate::cpu::batchnorm
//! [`cpu::prelu`]: crate::cpu::prelu
//! [`cpu::dropout`]: crate::cpu::dropout

pub mod alloc;
pub mod cache;
pub mod device;
pub mod emulator;
pub mod error;
pub mod launch;
pub mod modules;
pub mod nvrtc;

pub use alloc::{DeviceBuffer, DeviceElem, MemoryStats};
pub use device::{device_count, driver_available, driver_version, CudaDevice};
pub use error::{CudaError, Result};
pub use launch::CudaFloat;

// Index buffers are `usize` on the host and `unsigned long long` in the kernels.
const _: () = assert!(
    std::mem::size_of::<usize>() == 8,
    "the CUDA backend needs a 64-bit host"
);
