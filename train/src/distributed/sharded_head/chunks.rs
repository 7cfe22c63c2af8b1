//! The row and chunk arithmetic the sharded head's forward and backward share: normalising
//! rows (and its backward), the cosines of the batch against one chunk of classes, a chunk's
//! logits and their shifted exponentials. Shapes as in the parent module: N gathered samples,
//! D embedding size, nc classes in a chunk.

use anglegrad_engine::Float;
use anglegrad_kernels::cpu::gemm::{gemm, GemmShape};
use anglegrad_kernels::cpu::simd_math::exp_shifted_sum_f32;
use anglegrad_ops::MarginHead;
use rayon::prelude::*;

/// Row norms r = sqrt(‖v‖² + ε) (in f64) and the rows v / r.
pub(super) fn normalize_rows<T: Float>(
    v: &[T],
    d: usize,
    eps: f64,
    out: &mut [T],
    norms: &mut [f64],
) {
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
pub(super) fn normalize_backward_rows<T: Float>(u: &[T], g: &mut [T], norms: &[f64], d: usize) {
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
pub(super) fn for_each_chunk<T: Float>(
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
pub(super) fn exp_shifted<T: Float>(x: &[T], shift: f64, y: &mut [T]) -> f64 {
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
pub(super) fn chunk_logits<T: Float>(
    cos_row: &[T],
    s: T,
    target: Option<(usize, f64)>,
    z: &mut [T],
) {
    for (zo, &c) in z.iter_mut().zip(cos_row) {
        *zo = s * c;
    }
    if let Some((j, logit)) = target {
        z[j] = T::from_f64(logit);
    }
}
