//! The sharded margin-softmax head (model parallel over classes): rank r holds the class
//! weights of its block [start_r, end_r) only, yet every rank gets the exact loss and
//! gradients of the single-process head over all C classes. The same idea as the fused,
//! class-chunked head (`anglegrad_ops::fused_margin_softmax_rows`: an online log-sum-exp over
//! class chunks), with the chunks spread over ranks and their partial sums combined by
//! collectives. insightface: `recognition/arcface_torch/partial_fc_v2.py` (PartialFC_V2,
//! DistCrossEntropy, AllGather).
//!
//! Shape legend: R ranks, B samples per rank, N = R·B in the global batch, D embedding size,
//! C classes, C_r = this rank's block, S ≤ C_r its sampled classes (partial FC; S = C_r by
//! default). x [B, D] local embeddings, W_r [C_r, D] local class weights, y [B] global labels.
//!
//! Forward, on every rank:
//! 1. all-gather x → X [N, D] and y → Y [N]; X̂ = nrm(X).
//! 2. for the local (sampled) classes, chunk by chunk: c = X̂ · Ŵ_chunkᵀ [N, nc], logits
//!    z = s·c, with z_iy = s·φ(c_iy) where rank r holds y_i; running row max m_i and sum
//!    l_i = Σ_j e^{z_ij − m_i} over the local classes only.
//! 3. combine: M_i = max_r m_i^r (all-reduce max); l_i = Σ_r l_i^r·e^{m_i^r − M_i} (all-reduce
//!    sum), LSE_i = M_i + ln l_i; the target logit t_i = Σ_r t_i^r (all-reduce sum: only the
//!    rank holding y_i contributes a non-zero).
//! 4. ℓ_i = LSE_i − t_i; each rank returns the rows of its own samples [B].
//!
//! Backward, given g = ∂L/∂ℓ for the local rows:
//! 1. all-gather g → G [N] (every rank's classes feel every sample).
//! 2. chunk by chunk again: ∂L/∂c_ij = s·G_i·(p_ij − [j = y_i]) with p = e^{z − LSE} (the
//!    target entry times φ'(c_iy), or 1 when the margin is detached); partial ∂L/∂X̂ [N, D]
//!    += ∂L/∂c · Ŵ_chunk and ∂L/∂Ŵ_chunk = ∂L/∂cᵀ · X̂, then through nrm to ∂L/∂W rows.
//! 3. reduce-scatter ∂L/∂X̂ (sum over ranks' classes, each rank gets the block of its own B
//!    samples), then through nrm: ∂L/∂x. The class-weight gradient stays local.
//!
//! Gradient bookkeeping in data-parallel training: rank r's loss is the mean of its rows,
//! L_r = (1/B) Σ_{i∈r} ℓ_i, and the global objective is L = (1/R) Σ_r L_r. Because step 1 of
//! the backward gathers every rank's seed, ∂W_r comes out as Σ_r' ∂L_r'/∂W_r = R·∂L/∂W_r:
//! already summed over ranks, so averaging it needs only the division by R, no all-reduce
//! ([`super::grad_sync`]). ∂x is exactly ∂L_r/∂x, which flows into the backbone as usual.
//! (insightface keeps the global mean as every rank's loss and multiplies the embedding
//! gradient by R in AllGather's backward — "magic number" — for DDP's averaging; same result.)
//!
//! Cost per rank: 4 GEMMs of 2·N·D·S flops (cosines are recomputed in the backward; the
//! memory is O(N × chunk)), plus the all-gathers of X (N·D values) and G, three all-reduces
//! of N values and the reduce-scatter of ∂X̂ (N·D values). See `mod.rs` for the scaling.
//!
//! Cross-entropy: ℓ = LSE − t, as the single-process heads compute it (insightface's
//! DistCrossEntropy clamps p_y at 1e-30, i.e. caps ℓ at 69; the values differ only there).
//! insightface's `interclass_filtering_threshold` is not implemented (its default is off).
//!
//! Files: this one holds the head and its forward; `backward.rs` the rule of the backward steps
//! above; `chunks.rs` the row and chunk arithmetic both share.

use std::sync::Arc;

use anglegrad_engine::{with_float, Element, Error, Result, Rng, Tensor};
use anglegrad_losses::MarginSoftmax;
use anglegrad_ops::{MarginHead, TensorOps};
use rayon::prelude::*;

use super::partial_fc::{check_rate, sample_classes};
use super::{ClassShard, Collective, CollectiveExt, CommElement, ReduceOp};
use backward::{Saved, ShardedHeadRule};
use chunks::{chunk_logits, exp_shifted, for_each_chunk, normalize_rows};

mod backward;
mod chunks;

const OP: &str = "sharded_margin_softmax";

/// A margin-softmax head whose class weights are split over the ranks of a group.
#[derive(Clone)]
pub struct ShardedMarginHead {
    /// s, the margin φ, classes per chunk, ε of the normalisations.
    pub head: MarginHead,
    /// The classes this rank holds.
    pub shard: ClassShard,
    /// Partial FC: the fraction of each rank's classes used per step (1 = all, exact softmax).
    pub sample_rate: f64,
    comm: Arc<dyn Collective>,
}

impl ShardedMarginHead {
    /// The sharded form of a (fused or composite) margin head of C classes over `comm`'s ranks.
    pub fn new(
        margin: &MarginSoftmax,
        classes: usize,
        comm: Arc<dyn Collective>,
    ) -> Result<ShardedMarginHead> {
        if margin.hard_negatives.is_some() {
            return Err(Error::invalid(
                OP,
                "SV-X / MV-Softmax hard-negative re-weighting has no sharded form",
            ));
        }
        let head = MarginHead {
            chunk: margin.fused_chunk.unwrap_or(4096),
            eps: margin.norm_eps,
            ..MarginHead::new(margin.s, margin.margin.as_op())
        };
        Ok(ShardedMarginHead {
            head,
            shard: ClassShard::of(classes, comm.as_ref())?,
            sample_rate: 1.0,
            comm,
        })
    }

    /// Partial FC with this sample rate (0 < rate ≤ 1).
    pub fn with_sample_rate(self, rate: f64) -> Result<ShardedMarginHead> {
        check_rate(rate)?;
        Ok(ShardedMarginHead {
            sample_rate: rate,
            ..self
        })
    }

    pub fn comm(&self) -> &Arc<dyn Collective> {
        &self.comm
    }

    /// The loss ℓ_i [B] of each of this rank's samples: x [B, D] local embeddings, `w` [C_r, D]
    /// this rank's class weights, `labels` [B] global class ids. `rng` draws the partial-FC
    /// sample (unused at rate 1). Every rank must call it in the same step with the same B.
    pub fn rows(&self, x: &Tensor, w: &Tensor, labels: &[usize], rng: &mut Rng) -> Result<Tensor> {
        self.check(x, w, labels)?;
        let (b, d) = (x.dims()[0], x.dims()[1]);
        with_float!(x.dtype(), OP, |T| {
            let f = self.forward::<T>(x.as_slice::<T>()?, w.as_slice::<T>()?, labels, b, d, rng)?;
            let rows = Tensor::from_vec(f.rows, [b])?;
            let rule = ShardedHeadRule {
                head: self.head,
                comm: self.comm.clone(),
                w: w.detach(),
                local_rows: b,
                saved: Saved {
                    x_hat: Tensor::from_vec(f.x_hat, [b * self.comm.world_size(), d])?,
                    x_norm: f.x_norm,
                    lse: f.lse,
                    target: f.target,
                    sample: Arc::new(f.sample),
                },
            };
            rows.record(&[x, w], rule)
        })
    }

    /// The mean of [`ShardedMarginHead::rows`]: this rank's share L_r of the loss.
    pub fn loss(&self, x: &Tensor, w: &Tensor, labels: &[usize], rng: &mut Rng) -> Result<Tensor> {
        self.rows(x, w, labels, rng)?.mean_all()
    }

    fn check(&self, x: &Tensor, w: &Tensor, labels: &[usize]) -> Result<()> {
        if x.rank() != 2
            || w.rank() != 2
            || x.dims()[1] != w.dims()[1]
            || w.dims()[0] != self.shard.len()
            || x.dtype() != w.dtype()
        {
            return Err(Error::invalid(
                OP,
                format!(
                    "embeddings {} {} and class block {} {} (rank {} holds {} classes)",
                    x.shape(),
                    x.dtype(),
                    w.shape(),
                    w.dtype(),
                    self.shard.rank,
                    self.shard.len()
                ),
            ));
        }
        if labels.len() != x.dims()[0] {
            return Err(Error::invalid(
                OP,
                format!("{} labels for {} embeddings", labels.len(), x.dims()[0]),
            ));
        }
        if let Some(&bad) = labels.iter().find(|&&y| y >= self.shard.classes) {
            return Err(Error::IndexOutOfRange {
                op: OP,
                index: bad,
                size: self.shard.classes,
            });
        }
        // Every rank must bring the same batch size and dimension (the all-gathers move equal
        // counts): say so instead of letting MPI read past a buffer.
        let shape = [x.dims()[0] as u64, x.dims()[1] as u64];
        let all = self.comm.all_gather_vec(&shape)?;
        if all.chunks(2).any(|s| s != shape) {
            return Err(Error::invalid(
                OP,
                format!("the ranks' embeddings differ in shape: [B, D] per rank {all:?}"),
            ));
        }
        Ok(())
    }

    fn forward<T: Element + CommElement>(
        &self,
        x: &[T],
        w: &[T],
        labels: &[usize],
        b: usize,
        d: usize,
        rng: &mut Rng,
    ) -> Result<Forward<T>> {
        let (comm, shard, head) = (&self.comm, &self.shard, &self.head);
        let n = b * comm.world_size();
        // 1. The global batch on every rank.
        let x_all = comm.all_gather_vec(x)?;
        let y_local: Vec<u64> = labels.iter().map(|&y| y as u64).collect();
        let y_all: Vec<usize> = comm
            .all_gather_vec(&y_local)?
            .into_iter()
            .map(|y| y as usize)
            .collect();
        let mut x_hat = vec![T::ZERO; n * d];
        let mut x_norm = vec![0.0; n];
        normalize_rows(&x_all, d, head.eps, &mut x_hat, &mut x_norm);
        // The classes of this step (partial FC) and, per sample, its target's position among
        // them when this rank holds it.
        let positives: Vec<usize> = y_all
            .iter()
            .filter(|&&y| shard.holds(y))
            .map(|&y| y - shard.start)
            .collect();
        let sample = sample_classes(shard.len(), &positives, self.sample_rate, rng)?;
        let target: Vec<Option<Target>> = (0..n)
            .map(|i| {
                let y = y_all[i];
                if !shard.holds(y) {
                    return None;
                }
                let local = y - shard.start;
                let wy = &w[local * d..(local + 1) * d];
                let r =
                    (wy.iter().map(|&e| e.to_f64() * e.to_f64()).sum::<f64>() + head.eps).sqrt();
                let cos = x_hat[i * d..(i + 1) * d]
                    .iter()
                    .zip(wy)
                    .map(|(&a, &e)| a.to_f64() * e.to_f64())
                    .sum::<f64>()
                    / r;
                Some(Target {
                    column: sample
                        .position(local)
                        .expect("positives are always sampled"),
                    cos,
                })
            })
            .collect();
        let local_target: Vec<f64> = target
            .iter()
            .map(|t| t.map_or(0.0, |t| head.s * phi(head, t.cos)))
            .collect();

        // 2. Running max and sum over the local classes, chunk by chunk.
        let (mut m, mut l) = (vec![f64::NEG_INFINITY; n], vec![0.0f64; n]);
        let s = T::from_f64(head.s);
        for_each_chunk(w, &sample.index, d, head, &x_hat, n, |j0, nc, _, cos| {
            cos.par_chunks(nc)
                .zip(m.par_iter_mut().zip(l.par_iter_mut()))
                .enumerate()
                .for_each_init(
                    || (vec![T::ZERO; nc], vec![T::ZERO; nc]),
                    |(z, e), (i, (row, (mi, li)))| {
                        let t = target[i]
                            .filter(|t| (j0..j0 + nc).contains(&t.column))
                            .map(|t| (t.column - j0, local_target[i]));
                        chunk_logits(row, s, t, z);
                        let chunk_max = z.iter().fold(f64::NEG_INFINITY, |a, v| a.max(v.to_f64()));
                        let new_max = mi.max(chunk_max);
                        let sum = exp_shifted(z, new_max, e);
                        *li = *li * (*mi - new_max).exp() + sum;
                        *mi = new_max;
                    },
                );
        });

        // 3. Combine the ranks: M = max_r m^r, l = Σ_r l^r e^{m^r − M}, t = Σ_r t^r.
        let mut big_m = m.clone();
        comm.all_reduce_slice(&mut big_m, ReduceOp::Max)?;
        let mut sums: Vec<f64> = (0..n)
            .map(|i| {
                if l[i] == 0.0 {
                    0.0
                } else {
                    l[i] * (m[i] - big_m[i]).exp()
                }
            })
            .chain(local_target.iter().copied())
            .collect();
        comm.all_reduce_slice(&mut sums, ReduceOp::Sum)?;
        let (l_all, t_all) = sums.split_at(n);
        let lse: Vec<f64> = (0..n).map(|i| big_m[i] + l_all[i].ln()).collect();

        // 4. This rank's rows.
        let first = comm.rank() * b;
        let rows = (first..first + b)
            .map(|i| T::from_f64(lse[i] - t_all[i]))
            .collect();
        Ok(Forward {
            x_hat,
            x_norm: x_norm[first..first + b].to_vec(),
            lse,
            target: target
                .iter()
                .zip(t_all)
                .map(|(t, &logit)| t.map(|t| (t, logit)))
                .collect(),
            sample: sample.index,
            rows,
        })
    }
}

/// A sample's target class when this rank holds it: its column among the sampled classes and
/// its cosine.
#[derive(Clone, Copy, Debug)]
struct Target {
    column: usize,
    cos: f64,
}

struct Forward<T> {
    x_hat: Vec<T>,
    x_norm: Vec<f64>,
    lse: Vec<f64>,
    target: Vec<Option<(Target, f64)>>,
    sample: Vec<usize>,
    rows: Vec<T>,
}

/// φ(c), the target logit's margin (c itself without one).
fn phi(head: &MarginHead, c: f64) -> f64 {
    head.margin.map_or(c, |(f, _)| f.value(c))
}
