//! The chunk loop the sharded head's forward and backward share: the cosines of the gathered
//! batch against one chunk of this rank's (sampled) classes. The row arithmetic itself
//! (normalising, its backward, logits, shifted exponentials) is the single-process head's,
//! `anglegrad_ops::metric::cosine_rows`, re-exported here. Shapes as in the parent module: N
//! gathered samples, D embedding size, nc classes in a chunk.

use anglegrad_engine::Float;
use anglegrad_kernels::cpu::gemm::{gemm, GemmShape};
pub(super) use anglegrad_ops::metric::cosine_rows::{
    chunk_logits, exp_shifted, normalize_backward_rows, normalize_rows,
};
use anglegrad_ops::MarginHead;

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
