//! CPU kernels. One file per family; each starts with a shape legend.
//!
//! Every public function here is the entry point the engine and ops call. Where a fast version
//! exists (SIMD, threads) the entry point dispatches to it and the plain scalar version stays
//! beside it as the reference (`*_ref`), used by the tests as the oracle.
//!
//! | family | file | fast path |
//! |---|---|---|
//! | matrix multiply | [`gemm`] | BLIS loops, packing, AVX2+FMA micro-kernels, rayon |
//! | convolution | [`conv`] | implicit-im2col GEMM (stride 1), batched im2col, depthwise |
//! | pooling | [`pool`] | planes in parallel, windows clipped once per row |
//! | batch norm | [`batchnorm`] | per-channel sums in parallel, affine pass over planes |
//! | PReLU, dropout | [`prelu`], [`dropout`] | planes / chunks in parallel; counter-based RNG |
//! | elementwise | [`elementwise`], [`broadcast`] | op matched once, vectorised loops, row broadcast |
//! | reductions, softmax | [`reduce`], [`softmax`] | 8-lane sums, AVX2 exp ([`simd_math`]) |
//!
//! Threads come from the current rayon pool (build one with `ThreadPoolBuilder` and call
//! kernels inside `install` to choose the count); small inputs stay on the calling thread.

pub mod batchnorm;
pub mod broadcast;
pub mod conv;
pub mod dropout;
pub mod elementwise;
pub mod gemm;
pub mod movement;
pub mod parallel;
pub mod pool;
pub mod prelu;
pub mod reduce;
pub mod simd_math;
pub mod softmax;
#[cfg(test)]
pub(crate) mod testutil;
