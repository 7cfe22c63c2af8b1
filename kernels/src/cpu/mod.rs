//! CPU kernels. One file per family; each starts with a shape legend.
//!
//! Every public function here is the entry point the engine and ops call. Where a fast version
//! exists (SIMD, threads) the entry point dispatches to it and the plain scalar version stays
//! beside it as the reference (`*_ref`), used by the tests as the oracle.

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
