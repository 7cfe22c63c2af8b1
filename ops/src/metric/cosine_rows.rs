//! The row arithmetic of a class-chunked cosine head, shared by the fused margin head
//! ([`super::margin_head`]) and the sharded head of distributed training (`train::distributed`):
//! normalising rows and the backward of that, the cosines of a batch against one chunk of
//! classes, a chunk's logits and their shifted exponentials.
//!
//! Shapes: x̂ [B, D] normalised embeddings, ŵ [nc, D] one chunk of normalised class weights,
//! cos [B, nc]. Norms are kept in f64: r = sqrt(‖v‖² + ε).

use anglegrad_engine::Float;
use anglegrad_kernels::cpu::gemm::{gemm, GemmShape};
use anglegrad_kernels::cpu::simd_math::exp_shifted_sum_f32;
use rayon::prelude::*;

/// Row norms sqrt(‖v‖² + ε) and the normalised rows.
pub fn normalize_rows<T: Float>(v: &[T], d: usize, eps: f64, out: &mut [T], norms: &mut [f64]) {
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

/// The cosines of every row of x̂ with the normalised chunk rows: [B, nc].
pub fn chunk_cosines<T: Float>(
    x_hat: &[T],
    w_hat: &[T],
    b: usize,
    nc: usize,
    d: usize,
    cos: &mut [T],
) {
    gemm(
        &GemmShape::dense(b, nc, d, false, true),
        T::ONE,
        x_hat,
        w_hat,
        T::ZERO,
        cos,
    );
}

/// y = exp(x − shift), returning Σ y (AVX2 for f32, scalar otherwise).
pub fn exp_shifted<T: Float>(x: &[T], shift: f64, y: &mut [T]) -> f64 {
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

/// The logits of one row of a chunk: s·c, with the target (if in the chunk) set to s·φ(c_y).
pub fn chunk_logits<T: Float>(cos_row: &[T], s: T, target: Option<(usize, f64)>, z: &mut [T]) {
    for (zo, &c) in z.iter_mut().zip(cos_row) {
        *zo = s * c;
    }
    if let Some((j, logit)) = target {
        z[j] = T::from_f64(logit);
    }
}

/// (g − u (u·g)) / r for each row: the backward of v -> v / r, r = sqrt(‖v‖² + ε).
pub fn normalize_backward_rows<T: Float>(u: &[T], g: &mut [T], norms: &[f64], d: usize) {
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
