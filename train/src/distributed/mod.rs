//! Training past one process: data parallelism for the backbone, model parallelism (a sharded
//! class matrix) for the margin head, over MPI or NCCL.
//!
//! | file | idea |
//! |---|---|
//! | [`collective`] | [`Collective`]: all-reduce (sum, max), all-gather, broadcast, reduce-scatter, barrier; rank and world size |
//! | [`single`] | [`SingleProcess`]: R = 1, every operation the identity |
//! | [`loopback`] | [`Loopback`]: R threads of one process as R ranks — the tests' fake group |
//! | `mpi` | `Mpi` (feature `mpi`): `MPI_COMM_WORLD` through rsmpi, processes started by `mpirun` |
//! | `nccl` | `Nccl` (feature `nccl`): NCCL through cudarc — compiled, not yet run (no GPU here) |
//!
//! A data-parallel step, rank r of R (the loop of `trainer/run.rs` does exactly this):
//!
//! ```text
//! batch_r   = block r of the global batch (same seed on every rank)      sampler.rs
//! emb_r     = backbone(batch_r)                     [B/R, D], BN statistics of B/R samples
//! loss_r    = sharded head: all-gather emb, local classes, all-reduce    sharded_head.rs
//!             LSE pieces — or, for the other losses, the loss of batch_r
//! grads     = backward(loss_r)                      (the head's backward reduce-scatters ∂emb)
//! grads     = average over ranks, in buckets        all-reduce, ÷R         grad_sync.rs
//! step      = the optimiser on the replicated backbone and on this rank's head block
//! ```
//!
//! Launch: `mpirun -np 2 target/release/examples/train --distributed mpi` (built with
//! `--features mpi`). With the single-process group the same code runs with R = 1.
//!
//! ## NCCL
//!
//! The NCCL backend is written against cudarc 0.19's `nccl` module and compiles
//! (`cargo build --features nccl`), but the machine it was written on has no GPU, so it has never
//! run. Owed on a GPU machine: `cargo test -p anglegrad-train --features nccl` (the one-rank
//! test stops skipping), then the MPI test suite's checks with `--distributed nccl` on 2+ GPUs
//! (MPI carries the NCCL id), and a measurement of the staged host↔device copies, which go away
//! once the engine keeps tensors on the GPU.
//!
//! ## Scaling
//!
//! See the section filled in with measurements below.

pub mod collective;
pub mod loopback;
#[cfg(feature = "mpi")]
pub mod mpi;
#[cfg(feature = "nccl")]
pub mod nccl;
pub mod single;

pub use collective::{Buf, BufMut, Collective, CollectiveExt, CommElement, ReduceOp};
pub use loopback::Loopback;
#[cfg(feature = "mpi")]
pub use mpi::Mpi;
#[cfg(feature = "nccl")]
pub use nccl::Nccl;
pub use single::SingleProcess;
