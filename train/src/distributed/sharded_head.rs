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

use std::sync::Arc;

use anglegrad_engine::{with_float, BackwardRule, Element, Error, Float, Result, Rng, Tensor};
use anglegrad_kernels::cpu::gemm::{gemm, GemmShape};
use anglegrad_kernels::cpu::simd_math::exp_shifted_sum_f32;
use anglegrad_losses::MarginSoftmax;
use anglegrad_ops::{GradientMode, MarginHead, TensorOps};
use rayon::prelude::*;

use super::partial_fc::{check_rate, sample_classes};
use super::{ClassShard, Collective, CollectiveExt, CommElement, ReduceOp};

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

fn phi(head: &MarginHead, c: f64) -> f64 {
    head.margin.map_or(c, |(f, _)| f.value(c))
}

fn dphi(head: &MarginHead, c: f64) -> f64 {
    match head.margin {
        Some((f, GradientMode::Exact)) => f.derivative(c),
        _ => 1.0,
    }
}

/// Row norms r = sqrt(‖v‖² + ε) (in f64) and the rows v / r.
fn normalize_rows<T: Float>(v: &[T], d: usize, eps: f64, out: &mut [T], norms: &mut [f64]) {
    out.par_chunks_mut(d)
        .zip(v.par_chunks(d))
        .zip(norms.par_iter_mut())
        .for_each(|((o, row), n)| {
            let r = (row.iter().map(|&e| e.to_f64() * e.to_f64()).sum::<f64>() + eps).sqrt();
            *n = r;
            let inv = T::from_f64(1.0 / r);
            for (oe, &e) in o.iter_mut().zip(row) {
                *oe = e * inv;
            }
        });
}

/// (g − u (u·g)) / r for each row: the backward of v ↦ v / r.
fn normalize_backward_rows<T: Float>(u: &[T], g: &mut [T], norms: &[f64], d: usize) {
    g.par_chunks_mut(d)
        .zip(u.par_chunks(d))
        .zip(norms.par_iter())
        .for_each(|((gr, ur), &r)| {
            let dot: f64 = gr
                .iter()
                .zip(ur)
                .map(|(&a, &b)| a.to_f64() * b.to_f64())
                .sum();
            let (dot, inv) = (T::from_f64(dot), T::from_f64(1.0 / r));
            for (ge, &ue) in gr.iter_mut().zip(ur) {
                *ge = (*ge - ue * dot) * inv;
            }
        });
}

/// For each chunk of the sampled classes: normalises their weight rows into Ŵ_chunk [nc, D]
/// and computes the cosines X̂ · Ŵ_chunkᵀ [N, nc]; calls `f(j0, nc, (Ŵ_chunk, norms), cos)`.
fn for_each_chunk<T: Float>(
    w: &[T],
    sample: &[usize],
    d: usize,
    head: &MarginHead,
    x_hat: &[T],
    n: usize,
    mut f: impl FnMut(usize, usize, (&[T], &[f64]), &[T]),
) {
    let chunk = head.chunk.clamp(1, sample.len().max(1));
    let (mut rows, mut w_hat, mut w_norm, mut cos) = (
        vec![T::ZERO; chunk * d],
        vec![T::ZERO; chunk * d],
        vec![0.0; chunk],
        vec![T::ZERO; n * chunk],
    );
    for j0 in (0..sample.len()).step_by(chunk) {
        let nc = chunk.min(sample.len() - j0);
        for (dst, &c) in rows.chunks_mut(d).zip(&sample[j0..j0 + nc]) {
            dst.copy_from_slice(&w[c * d..(c + 1) * d]);
        }
        normalize_rows(
            &rows[..nc * d],
            d,
            head.eps,
            &mut w_hat[..nc * d],
            &mut w_norm[..nc],
        );
        gemm(
            &GemmShape::dense(n, nc, d, false, true),
            T::ONE,
            x_hat,
            &w_hat[..nc * d],
            T::ZERO,
            &mut cos[..n * nc],
        );
        f(j0, nc, (&w_hat[..nc * d], &w_norm[..nc]), &cos[..n * nc]);
    }
}

/// y = exp(x − shift), returning Σ y (AVX2 for f32, as the fused single-process head).
fn exp_shifted<T: Float>(x: &[T], shift: f64, y: &mut [T]) -> f64 {
    if let (Some(xs), Some(ys)) = (T::slice_f32(x), T::slice_f32_mut(y)) {
        return exp_shifted_sum_f32(xs, shift as f32, ys) as f64;
    }
    let mut total = 0.0;
    for (o, &v) in y.iter_mut().zip(x) {
        let e = (v.to_f64() - shift).exp();
        *o = T::from_f64(e);
        total += e;
    }
    total
}

/// One row of a chunk's logits: s·c, the target (when in the chunk) set to s·φ(c_y).
fn chunk_logits<T: Float>(cos_row: &[T], s: T, target: Option<(usize, f64)>, z: &mut [T]) {
    for (zo, &c) in z.iter_mut().zip(cos_row) {
        *zo = s * c;
    }
    if let Some((j, logit)) = target {
        z[j] = T::from_f64(logit);
    }
}

struct Saved {
    /// X̂ [N, D], the normalised global batch.
    x_hat: Tensor,
    /// Norms of this rank's rows of X [B].
    x_norm: Vec<f64>,
    lse: Vec<f64>,
    /// Per global sample: its target (if held here) and the global target logit.
    target: Vec<Option<(Target, f64)>>,
    sample: Arc<Vec<usize>>,
}

struct ShardedHeadRule {
    head: MarginHead,
    comm: Arc<dyn Collective>,
    w: Tensor,
    local_rows: usize,
    saved: Saved,
}

impl BackwardRule for ShardedHeadRule {
    fn name(&self) -> &'static str {
        OP
    }

    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (n, d) = (self.saved.x_hat.dims()[0], self.saved.x_hat.dims()[1]);
        let c = self.w.dims()[0];
        with_float!(g.dtype(), OP, |T| {
            let (dx, dw) = self.backward_typed::<T>(g.as_slice::<T>()?, n, d, needs[1])?;
            Ok(vec![
                needs[0]
                    .then(|| Tensor::from_vec(dx, [self.local_rows, d]))
                    .transpose()?,
                dw.map(|v| Tensor::from_vec(v, [c, d])).transpose()?,
            ])
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.saved.x_hat]
    }
}

impl ShardedHeadRule {
    #[allow(clippy::type_complexity)]
    fn backward_typed<T: Element + CommElement>(
        &self,
        g: &[T],
        n: usize,
        d: usize,
        need_dw: bool,
    ) -> Result<(Vec<T>, Option<Vec<T>>)> {
        let (head, saved) = (&self.head, &self.saved);
        let x_hat = saved.x_hat.as_slice::<T>()?;
        let w = self.w.as_slice::<T>()?;
        // 1. Every sample's seed on every rank.
        let g_all = self.comm.all_gather_vec(g)?;
        // The target entry of ∂L/∂c: G_i (p_iy − 1) s φ'(c_iy), with p_iy = e^{t_i − LSE_i}.
        let target_grad: Vec<Option<(usize, T)>> = saved
            .target
            .iter()
            .enumerate()
            .map(|(i, t)| {
                t.map(|(t, logit)| {
                    let p = (logit - saved.lse[i]).exp();
                    let slope = head.s * dphi(head, t.cos);
                    (t.column, T::from_f64(g_all[i].to_f64() * (p - 1.0) * slope))
                })
            })
            .collect();
        // 2. Chunk by chunk: partial ∂L/∂X̂ and this rank's ∂L/∂W rows.
        let mut dx_hat = vec![T::ZERO; n * d];
        let mut dw = need_dw.then(|| vec![T::ZERO; self.w.numel()]);
        let s = T::from_f64(head.s);
        let mut grad: Vec<T> = Vec::new();
        let mut dw_chunk: Vec<T> = Vec::new();
        for_each_chunk(
            w,
            &saved.sample,
            d,
            head,
            x_hat,
            n,
            |j0, nc, (w_hat, w_norm), cos| {
                // ∂L/∂c = s·G_i·p_ij, the target entries replaced.
                grad.resize(n * nc, T::ZERO);
                grad.par_chunks_mut(nc)
                    .zip(cos.par_chunks(nc))
                    .enumerate()
                    .for_each_init(
                        || vec![T::ZERO; nc],
                        |z, (i, (out, row))| {
                            chunk_logits(row, s, None, z);
                            exp_shifted(z, saved.lse[i], out);
                            let scale = s * g_all[i];
                            for v in out.iter_mut() {
                                *v *= scale;
                            }
                            if let Some((col, value)) = target_grad[i] {
                                if (j0..j0 + nc).contains(&col) {
                                    out[col - j0] = value;
                                }
                            }
                        },
                    );
                gemm(
                    &GemmShape::dense(n, d, nc, false, false),
                    T::ONE,
                    &grad,
                    w_hat,
                    T::ONE,
                    &mut dx_hat,
                );
                if let Some(dw) = dw.as_mut() {
                    dw_chunk.resize(nc * d, T::ZERO);
                    gemm(
                        &GemmShape::dense(nc, d, n, true, false),
                        T::ONE,
                        &grad,
                        x_hat,
                        T::ZERO,
                        &mut dw_chunk,
                    );
                    normalize_backward_rows(w_hat, &mut dw_chunk, w_norm, d);
                    for (k, &class) in saved.sample[j0..j0 + nc].iter().enumerate() {
                        dw[class * d..(class + 1) * d]
                            .copy_from_slice(&dw_chunk[k * d..(k + 1) * d]);
                    }
                }
            },
        );
        // 3. Sum over the ranks' classes; each rank keeps its own samples' rows.
        let mut dx = self.comm.reduce_scatter_vec(&dx_hat, ReduceOp::Sum)?;
        let first = self.comm.rank() * self.local_rows;
        let x_hat_local = &x_hat[first * d..(first + self.local_rows) * d];
        normalize_backward_rows(x_hat_local, &mut dx, &saved.x_norm, d);
        Ok((dx, dw))
    }
}
