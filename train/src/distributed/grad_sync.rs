//! Data parallelism's one rule: after every rank's backward, every rank must hold the same
//! gradient — the gradient of the global objective L = (1/R) Σ_r L_r, where L_r is rank r's loss
//! on its own shard of the batch. For a parameter every rank holds a copy of (the backbone),
//! that is the average of the ranks' gradients: one all-reduce (sum) and a division by R, as
//! PyTorch's DistributedDataParallel does. For a sharded parameter (the class block of the
//! sharded margin head) the backward already summed the ranks' contributions
//! ([`super::ShardedMarginHead`]): only the division by R is left.
//!
//! **Buckets.** Gradients are packed into buckets of about `bucket_bytes` (DDP's default is
//! 25 MiB) and each bucket is reduced by one call: fewer, larger messages (latency is paid per
//! call, bandwidth per byte) without one huge staging copy of all parameters.
//!
//! **Why not overlapped with the backward walk.** DDP starts a bucket's all-reduce as soon as
//! the backward has produced all its gradients, hiding communication behind the rest of the
//! backward. Our engine cannot say when that is without changes: `Tape::backward` returns the
//! whole `Grads` only at the end of the walk, the walk has no per-tensor "gradient ready" hook,
//! and the backbone's parameters are watched inside `Module::forward`, so the loop cannot
//! slip an identity op with a communicating backward rule in front of each layer either. What
//! it would take: the engine calling a callback when the last node reading a watched tensor
//! has been processed (the earliest node in the tape that lists it as an input), and an
//! asynchronous all-reduce (`MPI_Iallreduce`, NCCL on a side stream) started there and waited
//! for before the optimiser step. So the all-reduce runs after backward; on the measured runs
//! (see `mod.rs`) it is a small fraction of a step.
//!
//! **Batch norm** statistics stay per rank: each rank normalises with its own B samples, as
//! DDP without SyncBatchNorm does; with small per-rank batches, synchronised BN (an all-reduce
//! of the per-channel sums and sums of squares in every BN forward, and of two reductions in
//! its backward) would help, and needs a BN layer that takes a collective: not done. The
//! running statistics drift apart between ranks; rank 0's are the ones evaluated and saved in
//! checkpoints, and a resume gives them to every rank ([`broadcast_params`] does the same at
//! start-up; DDP's `broadcast_buffers` does it before every forward).

use std::collections::HashSet;

use anglegrad_engine::{with_float, DType, Element, Error, Float, Grads, Result, Tensor, TensorId};

use super::{Collective, CollectiveExt, CommElement, ReduceOp};
use crate::optim::{grad_norm, Params};

/// DDP's default bucket size.
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

/// The parameters of `params` that have a gradient, each once, in visiting order.
fn with_grads(grads: &Grads, params: &mut dyn Params) -> Vec<(TensorId, Tensor)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    params.for_each_param(&mut |_, p| {
        if let Some(g) = grads.get(p) {
            if seen.insert(p.id()) {
                out.push((p.id(), g.clone()));
            }
        }
    });
    out
}

/// Averages gradients over the ranks of `comm`: `replicated` (every rank holds a copy: all-reduce
/// sum in buckets of at most `bucket_bytes`, then ÷R) and `sharded` (each rank holds its own
/// block, whose gradient is already summed over ranks: ÷R). Every rank must call it with the
/// same replicated parameters. Returns the number of all-reduce calls made.
pub fn average_gradients(
    grads: &mut Grads,
    replicated: &mut dyn Params,
    sharded: &mut dyn Params,
    comm: &dyn Collective,
    bucket_bytes: usize,
) -> Result<usize> {
    let world = comm.world_size();
    let mut calls = 0;
    if world > 1 {
        let entries = with_grads(grads, replicated);
        check_same_everywhere(&entries, comm)?;
        for dtype in [DType::F32, DType::F64] {
            let of_type: Vec<&(TensorId, Tensor)> =
                entries.iter().filter(|(_, g)| g.dtype() == dtype).collect();
            for bucket in buckets(&of_type, bucket_bytes) {
                with_float!(dtype, "average_gradients", |T| {
                    reduce_bucket::<T>(grads, bucket, comm)
                })?;
                calls += 1;
            }
        }
    }
    for (id, g) in with_grads(grads, sharded) {
        let scaled = scale(&g, 1.0 / world as f64)?;
        grads.insert(id, scaled);
    }
    Ok(calls)
}

/// Consecutive runs of gradients of at most `bucket_bytes` (a larger tensor is a bucket alone).
fn buckets<'a>(
    entries: &[&'a (TensorId, Tensor)],
    bucket_bytes: usize,
) -> Vec<Vec<&'a (TensorId, Tensor)>> {
    let mut out: Vec<Vec<&(TensorId, Tensor)>> = Vec::new();
    let mut bytes = 0;
    for &e in entries {
        let size = e.1.size_in_bytes();
        match out.last_mut() {
            Some(last) if bytes + size <= bucket_bytes => {
                last.push(e);
                bytes += size;
            }
            _ => {
                out.push(vec![e]);
                bytes = size;
            }
        }
    }
    out
}

/// One bucket: flatten, all-reduce (sum), ÷R, put each gradient back.
fn reduce_bucket<T: Element + CommElement>(
    grads: &mut Grads,
    bucket: Vec<&(TensorId, Tensor)>,
    comm: &dyn Collective,
) -> Result<()> {
    let mut flat: Vec<T> = Vec::with_capacity(bucket.iter().map(|(_, g)| g.numel()).sum());
    for (_, g) in &bucket {
        flat.extend_from_slice(g.as_slice::<T>()?);
    }
    comm.all_reduce_slice(&mut flat, ReduceOp::Sum)?;
    let inv = T::from_f64(1.0 / comm.world_size() as f64);
    let mut at = 0;
    for (id, g) in bucket {
        let n = g.numel();
        let avg: Vec<T> = flat[at..at + n].iter().map(|&v| v * inv).collect();
        grads.insert(*id, Tensor::from_vec(avg, g.dims())?);
        at += n;
    }
    Ok(())
}

/// The ranks must reduce the same tensors: compare their counts and total sizes first (a
/// mismatch would otherwise make MPI combine unrelated values, or read past a buffer).
fn check_same_everywhere(entries: &[(TensorId, Tensor)], comm: &dyn Collective) -> Result<()> {
    let mine = [
        entries.len() as u64,
        entries.iter().map(|(_, g)| g.numel() as u64).sum(),
    ];
    let all = comm.all_gather_vec(&mine)?;
    if all.chunks(2).any(|c| c != mine) {
        return Err(Error::invalid(
            "average_gradients",
            format!("the ranks hold different gradients: (count, values) per rank {all:?}"),
        ));
    }
    Ok(())
}

fn scale(g: &Tensor, factor: f64) -> Result<Tensor> {
    with_float!(g.dtype(), "average_gradients", |T| {
        let f = T::from_f64(factor);
        Tensor::from_vec(
            g.as_slice::<T>()?.iter().map(|&v| v * f).collect(),
            g.dims(),
        )
    })
}

/// `clip_grad_norm_` over parameters spread across ranks: the global norm
/// ‖g‖ = sqrt(‖g_replicated‖² + Σ_r ‖g_sharded,r‖²) (the replicated part, identical on every
/// rank after averaging, counted once), then every gradient × max_norm / (‖g‖ + 1e-6) when that
/// is below 1. Returns the norm before clipping (the same on every rank).
pub fn clip_grad_norm(
    grads: &mut Grads,
    replicated: &mut dyn Params,
    sharded: &mut dyn Params,
    max_norm: f64,
    comm: &dyn Collective,
) -> Result<f64> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(Error::invalid(
            "clip_grad_norm",
            format!("max_norm must be ≥ 0, got {max_norm}"),
        ));
    }
    let mut sharded_sq = [grad_norm(grads, sharded)?.powi(2)];
    comm.all_reduce_slice(&mut sharded_sq, ReduceOp::Sum)?;
    let total = (grad_norm(grads, replicated)?.powi(2) + sharded_sq[0]).sqrt();
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 || coef.is_nan() {
        let mut both = with_grads(grads, replicated);
        both.extend(with_grads(grads, sharded));
        for (id, g) in both {
            grads.insert(id, scale(&g, coef)?);
        }
    }
    Ok(total)
}

/// Replaces every parameter and buffer of `params` by rank `root`'s (DDP's start-up broadcast;
/// batch-norm running statistics before evaluation and checkpoints).
pub fn broadcast_params(params: &mut dyn Params, comm: &dyn Collective, root: usize) -> Result<()> {
    if comm.world_size() == 1 {
        return Ok(());
    }
    let mut failure = None;
    let mut visit = |_: &str, t: &mut Tensor| {
        if failure.is_some() {
            return;
        }
        let result = with_float!(t.dtype(), "broadcast_params", |T| (|| {
            let mut v = t.as_slice::<T>()?.to_vec();
            comm.broadcast_slice(&mut v, root)?;
            Tensor::from_vec(v, t.dims())
        })());
        match result {
            Ok(new) => *t = new,
            Err(e) => failure = Some(e),
        }
    };
    params.for_each_param(&mut visit);
    params.for_each_buffer(&mut visit);
    failure.map_or(Ok(()), Err)
}
