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
//! | [`sampler`] | [`BatchShard`]: each rank reads its own block of every global batch |
//! | [`grad_sync`] | averaging gradients in buckets; clipping by the global norm; broadcasting parameters |
//! | [`shard`] | [`ClassShard`]: which classes a rank holds; gathering the blocks |
//! | [`sharded_head`] | [`ShardedMarginHead`]: the margin-softmax head with W split over ranks, exact |
//! | [`partial_fc`] | insightface's partial FC: a sample of the negative classes per step |
//! | [`checkpoint`] | checkpoints hold the gathered head; resuming re-shards it for any rank count |
//! | [`data_parallel`] | [`Distributed`]: what the training loop calls at each point where ranks must agree |
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
//! The README's section "Training on several processes" has the measurements (1 against 2 MPI
//! processes on the synthetic set: the same verification accuracy, no speed-up on a 2-core
//! machine) and, on paper, the memory and traffic per rank for C = 2M identities at D = 512 on
//! 8, 64 and 512 ranks, with where the all-gather of embeddings becomes the bottleneck.

pub mod checkpoint;
pub mod collective;
pub mod data_parallel;
pub mod grad_sync;
pub mod loopback;
#[cfg(feature = "mpi")]
pub mod mpi;
#[cfg(feature = "nccl")]
pub mod nccl;
pub mod partial_fc;
pub mod sampler;
pub mod shard;
pub mod sharded_head;
pub mod single;

pub use collective::{Buf, BufMut, Collective, CollectiveExt, CommElement, ReduceOp};
pub use data_parallel::Distributed;
pub use grad_sync::{average_gradients, broadcast_params, clip_grad_norm, DEFAULT_BUCKET_BYTES};
pub use loopback::Loopback;
#[cfg(feature = "mpi")]
pub use mpi::Mpi;
#[cfg(feature = "nccl")]
pub use nccl::Nccl;
pub use partial_fc::{sample_classes, ClassSample};
pub use sampler::BatchShard;
pub use shard::{gather_rows, ClassShard};
pub use sharded_head::ShardedMarginHead;
pub use single::SingleProcess;
