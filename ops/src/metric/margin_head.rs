//! The fused margin-softmax head: normalised GEMM, margin on the target column, class-chunked
//! log-sum-exp, and a backward that walks the class chunks again — never holding the [B, C]
//! logits (issue: memory O(B × chunk) instead of O(B × C), for C up to millions of identities).
//!
//! Shape legend: x [B, D] embeddings, W [C, D] class weights (raw: normalised here), y [B],
//! a chunk of classes [j0, j1) of size nc; x̂ = nrm(x), ŵ_j = nrm(w_j) with nrm(v) =
//! v / sqrt(‖v‖² + ε).
//!
//! Forward, per chunk: c = x̂ · ŵ_chunkᵀ [B, nc] (one GEMM); z = s·c, with z_iy = s·φ(c_iy) where
//! the label falls in the chunk; the running max M_i and sum l_i of each row are updated online
//! (l_i ← l_i·e^{M_i − M'_i} + Σ_j e^{z_ij − M'_i}), so after the last chunk
//! LSE_i = M_i + ln l_i and loss_i = LSE_i − s·φ(c_iy) — the same numbers as the composite head,
//! without the [B, C] matrix.
//!
//! Backward, per chunk (recomputing c): p = e^{z − LSE}, ∂L/∂z = g_i (p − onehot),
//! ∂L/∂c = s·∂L/∂z (target entries times φ'(c_iy), or 1 when the margin is detached), then two
//! GEMMs: ∂L/∂x̂ += ∂L/∂c · ŵ_chunk and ∂L/∂ŵ_chunk = ∂L/∂cᵀ · x̂, and through the normalisation
//! ∂L/∂v = (g − u (u·g)) / sqrt(‖v‖² + ε). Cost: 4 GEMMs of 2·B·D·C flops against 3 for the
//! unfused head — the price of bounded memory. When the [B, C] cosines fit a byte budget
//! (`cache_bytes`, default 256 MiB) they are kept instead, and the backward skips the recompute.
//!
//! The composite head (`anglegrad_losses::MarginSoftmax` without fusion) is the test oracle.

use std::sync::Arc;

use anglegrad_engine::{with_float, BackwardRule, Element, Error, Float, Result, Tensor};
use anglegrad_kernels::cpu::gemm::{gemm, GemmShape};
use rayon::prelude::*;

use super::cosine_rows::{
    chunk_cosines, chunk_logits, exp_shifted, normalize_backward_rows, normalize_rows,
};
use super::margin::{GradientMode, MarginFn};
use crate::util::same_dtype;

/// Keep the [B, C] cosines between forward and backward when they fit in this many bytes
/// (saves one of the four GEMMs); above it, the backward recomputes them chunk by chunk and
/// the memory stays O(B × chunk). 256 MiB: C = 100k classes at B = 256 in f32 is 98 MiB.
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;

/// The settings of a fused head.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MarginHead {
    pub s: f64,
    /// φ on the target cosine; `None` is the plain normalised softmax.
    pub margin: Option<(MarginFn, GradientMode)>,
    /// Classes per chunk (memory: B × chunk logits at a time).
    pub chunk: usize,
    /// ε of the normalisations.
    pub eps: f64,
    /// Byte budget for keeping the cosines until the backward (see [`DEFAULT_CACHE_BYTES`]).
    pub cache_bytes: usize,
}

impl MarginHead {
    /// A head with scale s and margin, 4096-class chunks, ε 1e-12 and the default cache budget.
    pub fn new(s: f64, margin: Option<(MarginFn, GradientMode)>) -> Self {
        MarginHead {
            s,
            margin,
            chunk: 4096,
            eps: 1e-12,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }

    fn phi(&self, c: f64) -> f64 {
        self.margin.map_or(c, |(f, _)| f.value(c))
    }
    fn dphi(&self, c: f64) -> f64 {
        match self.margin {
            Some((f, GradientMode::Exact)) => f.derivative(c),
            _ => 1.0,
        }
    }
}

/// Per-row margin-softmax cross-entropy [B] of embeddings x [B, D] against class weights
/// W [C, D] (mean it for the batch loss).
pub fn fused_margin_softmax_rows(
    x: &Tensor,
    w: &Tensor,
    labels: &[usize],
    head: MarginHead,
) -> Result<Tensor> {
    const OP: &str = "fused_margin_softmax";
    same_dtype(OP, x, w)?;
    if x.rank() != 2 || w.rank() != 2 || x.dims()[1] != w.dims()[1] {
        return Err(Error::ShapeMismatch {
            op: OP,
            lhs: x.shape().clone(),
            rhs: w.shape().clone(),
        });
    }
    if head.chunk == 0 {
        return Err(Error::invalid(OP, "chunk must be >= 1"));
    }
    let (b, d, c) = (x.dims()[0], x.dims()[1], w.dims()[0]);
    if labels.len() != b {
        return Err(Error::invalid(
            OP,
            format!("{} labels for {b} embeddings", labels.len()),
        ));
    }
    if let Some(&bad) = labels.iter().find(|&&y| y >= c) {
        return Err(Error::IndexOutOfRange {
            op: OP,
            index: bad,
            size: c,
        });
    }
    let tracked = Tensor::any_tracked(&[x, w]);
    let (losses, saved) = with_float!(x.dtype(), OP, |T| {
        let keep = tracked && b * c * std::mem::size_of::<T>() <= head.cache_bytes;
        let f = forward::<T>(
            x.as_slice::<T>()?,
            w.as_slice::<T>()?,
            labels,
            b,
            d,
            c,
            &head,
            keep,
        );
        let saved = Saved {
            x_hat: Tensor::from_vec(f.x_hat, [b, d])?,
            x_norm: f.x_norm,
            lse: f.lse,
            target_cos: f.target_cos,
            cosines: f
                .cosines
                .map(|v| Tensor::from_vec(v, [b * c]))
                .transpose()?,
        };
        Ok((Tensor::from_vec(f.loss, [b])?, saved))
    })?;
    let rule = MarginHeadRule {
        head,
        w: w.detach(),
        labels: Arc::new(labels.to_vec()),
        saved,
    };
    losses.record(&[x, w], rule)
}

struct Forward<T> {
    x_hat: Vec<T>,
    x_norm: Vec<f64>,
    lse: Vec<f64>,
    target_cos: Vec<f64>,
    loss: Vec<T>,
    /// The cosines, chunk after chunk ([B, nc] blocks), when kept for the backward.
    cosines: Option<Vec<T>>,
}

#[allow(clippy::too_many_arguments)]
fn forward<T: Float>(
    x: &[T],
    w: &[T],
    labels: &[usize],
    b: usize,
    d: usize,
    c: usize,
    head: &MarginHead,
    keep: bool,
) -> Forward<T> {
    let mut x_hat = vec![T::ZERO; b * d];
    let mut x_norm = vec![0.0; b];
    normalize_rows(x, d, head.eps, &mut x_hat, &mut x_norm);
    // Target cosines straight from the label rows (B dot products).
    let target_cos: Vec<f64> = (0..b)
        .map(|i| {
            let wy = &w[labels[i] * d..(labels[i] + 1) * d];
            let r = (wy.iter().map(|&e| e.to_f64() * e.to_f64()).sum::<f64>() + head.eps).sqrt();
            x_hat[i * d..(i + 1) * d]
                .iter()
                .zip(wy)
                .map(|(&a, &e)| a.to_f64() * e.to_f64())
                .sum::<f64>()
                / r
        })
        .collect();
    let target_logit: Vec<f64> = target_cos.iter().map(|&cy| head.s * head.phi(cy)).collect();
    let (mut run_max, mut run_sum) = (vec![f64::NEG_INFINITY; b], vec![0.0f64; b]);
    let chunk = head.chunk.min(c.max(1));
    let (mut w_hat, mut w_norm) = (vec![T::ZERO; chunk * d], vec![0.0; chunk]);
    let mut cosines = vec![T::ZERO; if keep { b * c } else { b * chunk }];
    let s = T::from_f64(head.s);
    for j0 in (0..c).step_by(chunk) {
        let nc = chunk.min(c - j0);
        normalize_rows(
            &w[j0 * d..(j0 + nc) * d],
            d,
            head.eps,
            &mut w_hat[..nc * d],
            &mut w_norm[..nc],
        );
        let cos = if keep {
            &mut cosines[j0 * b..(j0 + nc) * b]
        } else {
            &mut cosines[..b * nc]
        };
        chunk_cosines(&x_hat, &w_hat[..nc * d], b, nc, d, cos);
        cos.par_chunks(nc)
            .zip(run_max.par_iter_mut().zip(run_sum.par_iter_mut()))
            .enumerate()
            .for_each_init(
                || (vec![T::ZERO; nc], vec![T::ZERO; nc]),
                |(z, e), (i, (row, (m, l)))| {
                    let local = labels[i].checked_sub(j0).filter(|&t| t < nc);
                    chunk_logits(row, s, local.map(|t| (t, target_logit[i])), z);
                    let chunk_max = z.iter().fold(f64::NEG_INFINITY, |a, v| a.max(v.to_f64()));
                    let new_max = m.max(chunk_max);
                    let sum = exp_shifted(z, new_max, e);
                    *l = *l * (*m - new_max).exp() + sum;
                    *m = new_max;
                },
            );
    }
    let lse: Vec<f64> = run_max
        .iter()
        .zip(&run_sum)
        .map(|(m, l)| m + l.ln())
        .collect();
    let loss = lse
        .iter()
        .zip(&target_logit)
        .map(|(l, t)| T::from_f64(l - t))
        .collect();
    Forward {
        x_hat,
        x_norm,
        lse,
        target_cos,
        loss,
        cosines: keep.then_some(cosines),
    }
}

struct Saved {
    x_hat: Tensor,
    x_norm: Vec<f64>,
    lse: Vec<f64>,
    target_cos: Vec<f64>,
    cosines: Option<Tensor>,
}

struct MarginHeadRule {
    head: MarginHead,
    w: Tensor,
    labels: Arc<Vec<usize>>,
    saved: Saved,
}

impl BackwardRule for MarginHeadRule {
    fn name(&self) -> &'static str {
        "fused_margin_softmax"
    }

    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (b, d) = (self.saved.x_hat.dims()[0], self.saved.x_hat.dims()[1]);
        let c = self.w.dims()[0];
        with_float!(g.dtype(), "fused_margin_softmax", |T| {
            let (dx, dw) = backward::<T>(
                self,
                g.as_slice::<T>()?,
                self.w.as_slice::<T>()?,
                b,
                d,
                c,
                needs[1],
            )?;
            let dx = if needs[0] {
                Some(Tensor::from_vec(dx, [b, d])?)
            } else {
                None
            };
            let dw = dw.map(|v| Tensor::from_vec(v, [c, d])).transpose()?;
            Ok(vec![dx, dw])
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        let mut saved = vec![&self.saved.x_hat];
        saved.extend(self.saved.cosines.as_ref());
        saved
    }
}

#[allow(clippy::type_complexity)]
fn backward<T: Element>(
    rule: &MarginHeadRule,
    g: &[T],
    w: &[T],
    b: usize,
    d: usize,
    c: usize,
    need_dw: bool,
) -> Result<(Vec<T>, Option<Vec<T>>)> {
    let head = &rule.head;
    let x_hat = rule.saved.x_hat.as_slice::<T>()?;
    let cached = rule
        .saved
        .cosines
        .as_ref()
        .map(|t| t.as_slice::<T>())
        .transpose()?;
    let (lse, labels) = (&rule.saved.lse, &rule.labels);
    let target_logit: Vec<f64> = rule
        .saved
        .target_cos
        .iter()
        .map(|&cy| head.s * head.phi(cy))
        .collect();
    let target_slope: Vec<f64> = rule
        .saved
        .target_cos
        .iter()
        .map(|&cy| head.s * head.dphi(cy))
        .collect();
    let mut dx_hat = vec![T::ZERO; b * d];
    let mut dw = if need_dw {
        Some(vec![T::ZERO; c * d])
    } else {
        None
    };
    let chunk = head.chunk.min(c.max(1));
    let (mut w_hat, mut w_norm, mut dcos) = (
        vec![T::ZERO; chunk * d],
        vec![0.0; chunk],
        vec![T::ZERO; b * chunk],
    );
    let s = T::from_f64(head.s);
    for j0 in (0..c).step_by(chunk) {
        let nc = chunk.min(c - j0);
        normalize_rows(
            &w[j0 * d..(j0 + nc) * d],
            d,
            head.eps,
            &mut w_hat[..nc * d],
            &mut w_norm[..nc],
        );
        let cos: &[T] = match cached {
            Some(all) => &all[j0 * b..(j0 + nc) * b],
            None => {
                chunk_cosines(x_hat, &w_hat[..nc * d], b, nc, d, &mut dcos[..b * nc]);
                &dcos[..b * nc]
            }
        };
        // ∂L/∂c = s·g_i·(p_ij − [j = y_i]), p = exp(s·c − LSE); the target entry uses φ'.
        let mut grad = vec![T::ZERO; b * nc];
        grad.par_chunks_mut(nc)
            .zip(cos.par_chunks(nc))
            .enumerate()
            .for_each_init(
                || vec![T::ZERO; nc],
                |z, (i, (out, row))| {
                    let local = labels[i].checked_sub(j0).filter(|&t| t < nc);
                    chunk_logits(row, s, None, z);
                    exp_shifted(z, lse[i], out);
                    let scale = s * g[i];
                    for v in out.iter_mut() {
                        *v *= scale;
                    }
                    if let Some(t) = local {
                        let p = (target_logit[i] - lse[i]).exp();
                        out[t] = T::from_f64(g[i].to_f64() * (p - 1.0) * target_slope[i]);
                    }
                },
            );
        gemm(
            &GemmShape::dense(b, d, nc, false, false),
            T::ONE,
            &grad,
            &w_hat[..nc * d],
            T::ONE,
            &mut dx_hat,
        );
        if let Some(dw) = dw.as_mut() {
            let dw_chunk = &mut dw[j0 * d..(j0 + nc) * d];
            gemm(
                &GemmShape::dense(nc, d, b, true, false),
                T::ONE,
                &grad,
                x_hat,
                T::ZERO,
                dw_chunk,
            );
            normalize_backward_rows(&w_hat[..nc * d], dw_chunk, &w_norm[..nc], d);
        }
    }
    normalize_backward_rows(x_hat, &mut dx_hat, &rule.saved.x_norm, d);
    Ok((dx_hat, dw))
}
