//! # anglegrad-kernels
//!
//! Plain functions on buffers: no tensors, no tape. Every kernel takes slices plus the
//! dimensions it needs (and, for GEMM, leading dimensions and transpose flags) and writes into
//! an output slice. The engine and the ops crate call them; nothing here knows about autodiff.
//!
//! Layout of this crate (../shared/DESIGN.md §4):
//! - [`float`]: the [`Float`] trait, which makes every kernel generic over `f32` and `f64`.
//! - [`cpu`]: the CPU kernels. Each family has a plain scalar *reference* version that is never
//!   optimised (it is documentation and the oracle of the tests); fast versions (SIMD, threads)
//!   sit behind the same function signatures and are tested against the reference.
//! - [`cuda`]: the CUDA kernels (`.cu` sources compiled at run time with NVRTC), their
//!   launchers on device buffers, the device and its caching allocator. Built on every machine;
//!   used only where a driver and a GPU are present.

pub mod cpu;
pub mod cuda;
pub mod float;

pub use float::Float;
