//! The backward rule of the sharded head (the parent module's "Backward" steps 1–3): every
//! rank's seeds gathered, the cosines recomputed chunk by chunk, this rank's class-weight
//! gradient kept local and the embedding gradient reduce-scattered back to the sample's rank.

use std::sync::Arc;

use anglegrad_engine::{with_float, BackwardRule, Element, Result, Tensor};
use anglegrad_kernels::cpu::gemm::{gemm, GemmShape};
use anglegrad_ops::{GradientMode, MarginHead};
use rayon::prelude::*;

use super::chunks::{chunk_logits, exp_shifted, for_each_chunk, normalize_backward_rows};
use super::{Target, OP};
use crate::distributed::{Collective, CollectiveExt, CommElement, ReduceOp};

/// φ'(c), the slope of the target logit; 1 when the margin is detached (or absent).
fn dphi(head: &MarginHead, c: f64) -> f64 {
    match head.margin {
        Some((f, GradientMode::Exact)) => f.derivative(c),
        _ => 1.0,
    }
}

pub(super) struct Saved {
    /// X̂ [N, D], the normalised global batch.
    pub(super) x_hat: Tensor,
    /// Norms of this rank's rows of X [B].
    pub(super) x_norm: Vec<f64>,
    pub(super) lse: Vec<f64>,
    /// Per global sample: its target (if held here) and the global target logit.
    pub(super) target: Vec<Option<(Target, f64)>>,
    pub(super) sample: Arc<Vec<usize>>,
}

pub(super) struct ShardedHeadRule {
    pub(super) head: MarginHead,
    pub(super) comm: Arc<dyn Collective>,
    pub(super) w: Tensor,
    pub(super) local_rows: usize,
    pub(super) saved: Saved,
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
