//! Convolution as GEMM, with the im2col matrix packed straight from the image.
//!
//! Shape legend: as in [`super`]; per image and group g:
//! y_g [Cout/G, Ho·Wo] = W_g [Cout/G, K] · col [K, Ho·Wo], K = Cin/G·KH·KW.
//!
//! **Stride 1 (implicit im2col).** Pad the image once to xp [Cin, Hp, Wp]. Compute the output on
//! the padded width, i.e. for columns j = oh·Wp + ow with ow < Wp (the columns ow >= Wo are
//! junk and dropped). Then row (ci, kh, kw) of col is
//!   col[(ci, kh, kw), j] = xp[ci, oh + kh·dh, ow + kw·dw] = xp_flat[off(ci, kh, kw) + j],
//!   off(ci, kh, kw) = ci·Hp·Wp + kh·dh·Wp + kw·dw,
//! a *contiguous window* of the padded image: the GEMM's B operand is "row r starts at off[r]",
//! which its packing reads as fast as a dense matrix. No col is ever written; the price is
//! (Wp - Wo)/Wp wasted columns (3% for 3x3 at 56x56). A 1x1 convolution is a plain GEMM.
//! Backward-weight is the same trick with the roles turned: dW_g += dy_g · colᵀ, where colᵀ is
//! the transposed view of the same windows. Backward-data is a forward convolution of dy with
//! the flipped, transposed kernel and padding dh·(KH-1) - ph.
//!
//! **Stride > 1** with a large output (stems): the padded image is split into stride² phases
//! (space-to-depth), which turns the strided windows back into contiguous ones; then as above.
//!
//! **Small output planes** (late ResNet stages, downsampling to them): an explicit
//! im2col of a *group of images* side by side, col [K, b·Ho·Wo], so one GEMM has enough columns
//! (a 7x7 output alone fills 49 of 64 columns of 16-wide slivers, and padded-width columns would
//! waste 22% more), and backward-weight gets a long k sum instead of re-reading dW per image.
//! Backward-data for stride > 1 is GEMM Wᵀ·dy then col2im.
//!
//! Threads: images are spread over the rayon pool (one serial GEMM per image) when there are
//! at least as many images as threads; otherwise each GEMM is threaded.

use super::{col2im, depthwise, im2col_strided, winograd, Conv2dParams};
use crate::cpu::gemm::{gemm_fast, ASource, GemmElem, Operand, PackedA, Threads};
use rayon::prelude::*;

/// Runs `f(index, piece, scratch, gemm_threads)` for every `chunk`-long piece of `out` (one
/// image, or one group of images; the last piece may be shorter), in parallel over pieces when
/// that keeps every thread busy.
fn for_each_image<T: GemmElem>(
    chunk: usize,
    out: &mut [T],
    f: impl Fn(usize, &mut [T], &mut Vec<T>, Threads) + Sync,
) {
    if chunk == 0 || out.is_empty() {
        return;
    }
    let n = out.len().div_ceil(chunk);
    let threads = rayon::current_num_threads();
    if threads > 1 && n >= threads {
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, o)| T::with_work_vec(|buf| f(i, o, buf, Threads::One)));
    } else {
        T::with_work_vec(|buf| {
            for (i, o) in out.chunks_mut(chunk).enumerate() {
                f(i, o, buf, Threads::Pool);
            }
        });
    }
}

/// Gives `len` elements of scratch out of `buf` (grown when needed; contents unspecified).
fn scratch<T: GemmElem>(buf: &mut Vec<T>, len: usize) -> &mut [T] {
    if buf.len() < len {
        buf.resize(len, T::ZERO);
    }
    &mut buf[..len]
}

/// Geometry of the implicit im2col.
///
/// For stride s > 1 the padded image is first split into s_h·s_w *phases*,
/// phase (a, b)[y, x] = xp[y·s_h + a, x·s_w + b], so that tap (kh, kw) of output (oh, ow) reads
/// phase ((kh·dh) % s_h, (kw·dw) % s_w) at [oh + (kh·dh)/s_h, ow + (kw·dw)/s_w]: a stride-1
/// window again, and the same contiguous-row trick applies (space-to-depth).
struct Padded {
    /// Rows and columns of one phase plane, ceil(Hp / s_h) x ceil(Wp / s_w) (the padded image
    /// itself when the stride is 1).
    hp: usize,
    wp: usize,
    /// s_h·s_w.
    phases: usize,
    /// Columns computed per image: (Ho - 1)·wp + Wo (the last row's junk is not needed).
    cols: usize,
    /// off[g][r]: start of im2col row r of group g in the phase planes.
    offsets: Vec<Vec<usize>>,
}

impl Padded {
    fn new(p: &Conv2dParams) -> Self {
        let (sh, sw) = p.stride;
        let (hp, wp) = (
            (p.h + 2 * p.pad.0).div_ceil(sh),
            (p.w + 2 * p.pad.1).div_ceil(sw),
        );
        let phases = sh * sw;
        let cols = (p.out_h() - 1) * wp + p.out_w();
        let offsets = (0..p.groups)
            .map(|g| {
                let mut o = Vec::with_capacity(p.k_len());
                for ci in 0..p.c_in_g() {
                    for kh in 0..p.kh {
                        for kw in 0..p.kw {
                            let (dy, dx) = (kh * p.dilation.0, kw * p.dilation.1);
                            let phase = (dy % sh) * sw + dx % sw;
                            let plane = (g * p.c_in_g() + ci) * phases + phase;
                            o.push(plane * hp * wp + (dy / sh) * wp + dx / sw);
                        }
                    }
                }
                o
            })
            .collect();
        Padded {
            hp,
            wp,
            phases,
            cols,
            offsets,
        }
    }

    fn needs_copy(&self, p: &Conv2dParams) -> bool {
        p.pad != (0, 0) || self.phases > 1
    }

    /// Length of the padded (phase-split) copy of one image.
    fn len(&self, p: &Conv2dParams) -> usize {
        if self.needs_copy(p) {
            p.c_in * self.phases * self.hp * self.wp
        } else {
            0
        }
    }

    /// Copies one image [Cin, H, W] into its zero-padded phase planes [Cin, s_h·s_w, hp, wp].
    fn pad_image<T: GemmElem>(&self, p: &Conv2dParams, x_img: &[T], xp: &mut [T]) {
        let ((ph, pw), (sh, sw)) = (p.pad, p.stride);
        let plane = self.hp * self.wp;
        for (src, dst) in x_img
            .chunks_exact(p.h * p.w)
            .zip(xp.chunks_exact_mut(self.phases * plane))
        {
            for (phase, d) in dst.chunks_exact_mut(plane).enumerate() {
                let (a, b) = (phase / sw, phase % sw);
                // Phase columns x whose image column x·sw + b - pw lies in [0, W).
                let x_lo = pw.saturating_sub(b).div_ceil(sw).min(self.wp);
                let x_hi = (p.w + pw)
                    .saturating_sub(b)
                    .div_ceil(sw)
                    .clamp(x_lo, self.wp);
                for (y, d_row) in d.chunks_exact_mut(self.wp).enumerate() {
                    let ih = (y * sh + a).wrapping_sub(ph);
                    if ih >= p.h {
                        d_row.fill(T::ZERO);
                        continue;
                    }
                    d_row[..x_lo].fill(T::ZERO);
                    d_row[x_hi..].fill(T::ZERO);
                    let s_row = &src[ih * p.w..][..p.w];
                    let iw0 = x_lo * sw + b - pw;
                    if sw == 1 {
                        d_row[x_lo..x_hi].copy_from_slice(&s_row[iw0..iw0 + x_hi - x_lo]);
                    } else {
                        let picks = s_row[iw0..].chunks(sw).map(|c| c[0]);
                        for (o, v) in d_row[x_lo..x_hi].iter_mut().zip(picks) {
                            *o = v;
                        }
                    }
                }
            }
        }
    }
}

/// Weights of each group packed once for all images: op(A) = W_g [Cout/G, K], or its
/// transpose W_gᵀ [K, Cout/G] for backward-data.
fn pack_weights<T: GemmElem>(p: &Conv2dParams, w: &[T], transpose: bool) -> Vec<PackedA<T>> {
    let (k, cog) = (p.k_len(), p.c_out_g());
    (0..p.groups)
        .map(|g| {
            let w_g = &w[g * cog * k..][..cog * k];
            if transpose {
                PackedA::new(Operand::dense(w_g, k, true), k, cog)
            } else {
                PackedA::new(Operand::dense(w_g, k, false), cog, k)
            }
        })
        .collect()
}

pub(super) fn forward<T: GemmElem>(
    p: &Conv2dParams,
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    y: &mut [T],
) {
    if depthwise::is_depthwise(p) {
        return depthwise::forward(p, x, w, b, y);
    }
    if winograd::supports(p) {
        if let (Some(x), Some(w), Some(y)) = (T::slice_f32(x), T::slice_f32(w), T::slice_f32_mut(y))
        {
            return winograd::forward(p, x, w, b.and_then(T::slice_f32), y);
        }
    }
    let (ho, wo, cog, k) = (p.out_h(), p.out_w(), p.c_out_g(), p.k_len());
    let plane = ho * wo;
    let x_img_len = p.c_in * p.h * p.w;
    let weights = pack_weights(p, w, false);
    let batch = images_per_gemm(p);
    if batch == 1 {
        let geo = Padded::new(p);
        let xp_len = geo.len(p);
        let direct = geo.wp == wo;
        for_each_image(p.c_out * plane, y, |i, y_img, buf, threads| {
            let x_img = &x[i * x_img_len..][..x_img_len];
            let tmp_len = if direct { 0 } else { cog * geo.cols };
            let (xp, tmp) = scratch(buf, xp_len + tmp_len).split_at_mut(xp_len);
            let xp: &[T] = if geo.needs_copy(p) {
                geo.pad_image(p, x_img, xp);
                xp
            } else {
                x_img
            };
            for (g, packed) in weights.iter().enumerate() {
                let b_op = Operand {
                    data: xp,
                    ld: 0,
                    trans: false,
                    offsets: Some(&geo.offsets[g]),
                };
                let y_g = &mut y_img[g * cog * plane..][..cog * plane];
                if direct {
                    gemm_fast(
                        (cog, plane, k),
                        T::ONE,
                        ASource::Packed(packed),
                        b_op,
                        T::ZERO,
                        y_g,
                        plane,
                        threads,
                    );
                } else {
                    gemm_fast(
                        (cog, geo.cols, k),
                        T::ONE,
                        ASource::Packed(packed),
                        b_op,
                        T::ZERO,
                        tmp,
                        geo.cols,
                        threads,
                    );
                    // Drop the junk columns: row oh of the result starts at oh·Wp.
                    for (dst, src) in y_g.chunks_exact_mut(plane).zip(tmp.chunks(geo.cols)) {
                        for (d_row, oh) in dst.chunks_exact_mut(wo).zip(0..ho) {
                            d_row.copy_from_slice(&src[oh * geo.wp..][..wo]);
                        }
                    }
                }
            }
            add_bias(y_img, b, plane);
        });
    } else {
        // Groups of `batch` images: col [K, batch·plane] = im2col of each image side by side,
        // C [Cout/G, batch·plane] = W_g · col, then each image's columns are its output plane.
        let y_img_len = p.c_out * plane;
        for_each_image(
            batch * p.c_out * plane,
            y,
            |chunk, y_chunk, buf, threads| {
                let images = y_chunk.len() / y_img_len;
                let cols = images * plane;
                let (col, out) = scratch(buf, k * cols + cog * cols).split_at_mut(k * cols);
                for (g, packed) in weights.iter().enumerate() {
                    for t in 0..images {
                        let x_img = &x[(chunk * batch + t) * x_img_len..][..x_img_len];
                        im2col_strided(p, x_img, g, &mut col[t * plane..], cols);
                    }
                    let b_op = Operand::dense(&*col, cols, false);
                    gemm_fast(
                        (cog, cols, k),
                        T::ONE,
                        ASource::Packed(packed),
                        b_op,
                        T::ZERO,
                        out,
                        cols,
                        threads,
                    );
                    for (t, y_img) in y_chunk.chunks_exact_mut(y_img_len).enumerate() {
                        for (co, dst) in y_img[g * cog * plane..][..cog * plane]
                            .chunks_exact_mut(plane)
                            .enumerate()
                        {
                            dst.copy_from_slice(&out[co * cols + t * plane..][..plane]);
                        }
                    }
                }
                for y_img in y_chunk.chunks_exact_mut(y_img_len) {
                    add_bias(y_img, b, plane);
                }
            },
        );
    }
}

/// How many images share one GEMM: 1 for large outputs (the per-image GEMM is wide enough, and
/// stride-1 layers then use the implicit im2col), else enough for about 512 columns.
fn images_per_gemm(p: &Conv2dParams) -> usize {
    let plane = p.out_h() * p.out_w();
    if plane >= 512 || (p.stride == (1, 1) && plane >= 400) {
        1
    } else {
        (512 / plane.max(1)).clamp(1, p.n.max(1))
    }
}

fn add_bias<T: GemmElem>(y_img: &mut [T], b: Option<&[T]>, plane: usize) {
    if let Some(b) = b {
        for (ch, &bv) in y_img.chunks_exact_mut(plane).zip(b) {
            ch.iter_mut().for_each(|v| *v += bv);
        }
    }
}

pub(super) fn backward_data<T: GemmElem>(p: &Conv2dParams, dy: &[T], w: &[T], dx: &mut [T]) {
    let (kh, kw) = (p.kh, p.kw);
    let (reach_h, reach_w) = (p.dilation.0 * (kh - 1), p.dilation.1 * (kw - 1));
    if p.stride == (1, 1) && p.pad.0 <= reach_h && p.pad.1 <= reach_w {
        // dx = conv(dy, w'), w'[g·Cin/G + ci, co, a, b] = w[g·Cout/G + co, ci, KH-1-a, KW-1-b].
        let (cig, cog) = (p.c_in_g(), p.c_out_g());
        let mut w_t = vec![T::ZERO; w.len()];
        for g in 0..p.groups {
            for co in 0..cog {
                for ci in 0..cig {
                    for a in 0..kh {
                        for b in 0..kw {
                            let src =
                                (((g * cog + co) * cig + ci) * kh + kh - 1 - a) * kw + kw - 1 - b;
                            let dst = (((g * cig + ci) * cog + co) * kh + a) * kw + b;
                            w_t[dst] = w[src];
                        }
                    }
                }
            }
        }
        let p_t = Conv2dParams {
            n: p.n,
            c_in: p.c_out,
            h: p.out_h(),
            w: p.out_w(),
            c_out: p.c_in,
            kh,
            kw,
            stride: (1, 1),
            pad: (reach_h - p.pad.0, reach_w - p.pad.1),
            dilation: p.dilation,
            groups: p.groups,
        };
        debug_assert_eq!((p_t.out_h(), p_t.out_w()), (p.h, p.w));
        return forward(&p_t, dy, &w_t, None, dx);
    }
    // General stride: dcol = W_gᵀ · dy_g, then scatter-add col2im.
    let (plane, cog, k) = (p.out_h() * p.out_w(), p.c_out_g(), p.k_len());
    let dy_img_len = p.c_out * plane;
    let weights = pack_weights(p, w, true);
    for_each_image(p.c_in * p.h * p.w, dx, |i, dx_img, buf, threads| {
        dx_img.fill(T::ZERO);
        let col = scratch(buf, k * plane);
        for (g, packed) in weights.iter().enumerate() {
            let dy_g = &dy[i * dy_img_len + g * cog * plane..][..cog * plane];
            let b_op = Operand::dense(dy_g, plane, false);
            gemm_fast(
                (k, plane, cog),
                T::ONE,
                ASource::Packed(packed),
                b_op,
                T::ZERO,
                col,
                plane,
                threads,
            );
            col2im(p, col, g, dx_img);
        }
    });
}

pub(super) fn backward_weight<T: GemmElem>(p: &Conv2dParams, x: &[T], dy: &[T], dw: &mut [T]) {
    if depthwise::is_depthwise(p) {
        return depthwise::backward_weight(p, x, dy, dw);
    }
    if winograd::supports(p) {
        if let (Some(x), Some(dy), Some(dw)) =
            (T::slice_f32(x), T::slice_f32(dy), T::slice_f32_mut(dw))
        {
            return winograd::backward_weight(p, x, dy, dw);
        }
    }
    dw.fill(T::ZERO);
    // Images one after the other, each GEMM threaded and accumulating into dw (beta = 1).
    T::with_work_vec(|buf| backward_weight_images(p, x, dy, dw, buf));
}

fn backward_weight_images<T: GemmElem>(
    p: &Conv2dParams,
    x: &[T],
    dy: &[T],
    dw: &mut [T],
    buf: &mut Vec<T>,
) {
    let (ho, wo, cog, k) = (p.out_h(), p.out_w(), p.c_out_g(), p.k_len());
    let plane = ho * wo;
    let (x_img_len, dy_img_len) = (p.c_in * p.h * p.w, p.c_out * plane);
    if p.stride == (1, 1) {
        let geo = Padded::new(p);
        let xp_len = geo.len(p);
        let direct = geo.wp == wo;
        let dyp_len = if direct { 0 } else { p.c_out * geo.cols };
        for i in 0..p.n {
            let x_img = &x[i * x_img_len..][..x_img_len];
            let dy_img = &dy[i * dy_img_len..][..dy_img_len];
            let (xp, dyp) = scratch(buf, xp_len + dyp_len).split_at_mut(xp_len);
            let xp: &[T] = if geo.needs_copy(p) {
                geo.pad_image(p, x_img, xp);
                xp
            } else {
                x_img
            };
            // dy on the padded width, zeros in the junk columns so they add nothing.
            let dyp: &[T] = if direct {
                dy_img
            } else {
                for (dst, src) in dyp
                    .chunks_exact_mut(geo.cols)
                    .zip(dy_img.chunks_exact(plane))
                {
                    dst.fill(T::ZERO);
                    for (oh, s_row) in src.chunks_exact(wo).enumerate() {
                        dst[oh * geo.wp..][..wo].copy_from_slice(s_row);
                    }
                }
                dyp
            };
            let cols = if direct { plane } else { geo.cols };
            for g in 0..p.groups {
                let a_op = Operand::dense(&dyp[g * cog * cols..][..cog * cols], cols, false);
                let b_op = Operand {
                    data: xp,
                    ld: 0,
                    trans: true,
                    offsets: Some(&geo.offsets[g]),
                };
                let dw_g = &mut dw[g * cog * k..][..cog * k];
                gemm_fast(
                    (cog, k, cols),
                    T::ONE,
                    ASource::Matrix(a_op),
                    b_op,
                    T::ONE,
                    dw_g,
                    k,
                    Threads::Pool,
                );
            }
        }
    } else {
        // Groups of images: dW_g += dy_g [Cout/G, b·plane] · colᵀ, col [K, b·plane].
        let batch = images_per_gemm(p);
        for i0 in (0..p.n).step_by(batch) {
            let images = batch.min(p.n - i0);
            let cols = images * plane;
            let (col, dys) = scratch(buf, k * cols + p.c_out * cols).split_at_mut(k * cols);
            for t in 0..images {
                let dy_img = &dy[(i0 + t) * dy_img_len..][..dy_img_len];
                for (co, src) in dy_img.chunks_exact(plane).enumerate() {
                    dys[co * cols + t * plane..][..plane].copy_from_slice(src);
                }
            }
            for g in 0..p.groups {
                for t in 0..images {
                    let x_img = &x[(i0 + t) * x_img_len..][..x_img_len];
                    im2col_strided(p, x_img, g, &mut col[t * plane..], cols);
                }
                let a_op = Operand::dense(&dys[g * cog * cols..][..cog * cols], cols, false);
                let b_op = Operand::dense(&*col, cols, true);
                let dw_g = &mut dw[g * cog * k..][..cog * k];
                gemm_fast(
                    (cog, k, cols),
                    T::ONE,
                    ASource::Matrix(a_op),
                    b_op,
                    T::ONE,
                    dw_g,
                    k,
                    Threads::Pool,
                );
            }
        }
    }
}
