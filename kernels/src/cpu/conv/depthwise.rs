//! Depthwise convolution (groups = Cin = Cout: one k x k filter per channel) done directly.
//!
//! Shape legend: x [N, C, H, W], w [C, 1, KH, KW], y [N, C, Ho, Wo] (see [`super`]).
//!
//! As a GEMM each group would be a 1 x K by K x Ho·Wo product, all overhead. Directly, every
//! kernel tap (kh, kw) adds w[c, kh, kw] times a shifted row of the input to a row of the output:
//! y[oh, ow_lo..ow_hi] += w · x[ih, iw_lo..] (unit stride: a vectorised axpy), and the weight
//! gradient is the matching dot product. Planes (forward) and channels (weight gradient) run
//! in parallel.

use super::{valid_range, Conv2dParams};
use crate::Float;
use rayon::prelude::*;

/// True when `p` is a pure depthwise convolution (channel multiplier 1).
pub(super) fn is_depthwise(p: &Conv2dParams) -> bool {
    p.groups > 1 && p.groups == p.c_in && p.groups == p.c_out
}

/// Calls `f(oh, ih, ow_lo, ow_hi, iw_lo)` for every output row and tap (kh, kw) that reads
/// inside the image: output columns ow_lo..ow_hi read input columns iw_lo + (ow - ow_lo)·sw.
#[inline(always)]
fn for_each_run(
    p: &Conv2dParams,
    kh: usize,
    kw: usize,
    mut f: impl FnMut(usize, usize, usize, usize, usize),
) {
    let (ho, wo) = (p.out_h(), p.out_w());
    let (lo, hi) = valid_range(p.w, wo, kw * p.dilation.1, p.pad.1, p.stride.1);
    if lo >= hi {
        return;
    }
    let iw_lo = lo * p.stride.1 + kw * p.dilation.1 - p.pad.1;
    for oh in 0..ho {
        let ih = (oh * p.stride.0 + kh * p.dilation.0).wrapping_sub(p.pad.0);
        if ih < p.h {
            f(oh, ih, lo, hi, iw_lo);
        }
    }
}

pub(super) fn forward<T: Float>(p: &Conv2dParams, x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T]) {
    let (plane_in, wo) = (p.h * p.w, p.out_w());
    let plane_out = p.out_h() * wo;
    let taps = p.kh * p.kw;
    y.par_chunks_mut(plane_out.max(1))
        .enumerate()
        .for_each(|(i, y_pl)| {
            let c = i % p.c_in;
            let x_pl = &x[i * plane_in..][..plane_in];
            y_pl.fill(b.map_or(T::ZERO, |b| b[c]));
            for kh in 0..p.kh {
                for kw in 0..p.kw {
                    let wv = w[c * taps + kh * p.kw + kw];
                    for_each_run(p, kh, kw, |oh, ih, lo, hi, iw| {
                        let dst = &mut y_pl[oh * wo + lo..oh * wo + hi];
                        let src = &x_pl[ih * p.w + iw..];
                        if p.stride.1 == 1 {
                            for (d, &v) in dst.iter_mut().zip(src) {
                                *d += wv * v;
                            }
                        } else {
                            for (d, s) in dst.iter_mut().zip(src.chunks(p.stride.1)) {
                                *d += wv * s[0];
                            }
                        }
                    });
                }
            }
        });
}

pub(super) fn backward_weight<T: Float>(p: &Conv2dParams, x: &[T], dy: &[T], dw: &mut [T]) {
    let (plane_in, wo) = (p.h * p.w, p.out_w());
    let plane_out = p.out_h() * wo;
    let taps = p.kh * p.kw;
    dw.par_chunks_mut(taps).enumerate().for_each(|(c, dw_c)| {
        for kh in 0..p.kh {
            for kw in 0..p.kw {
                let mut acc = [T::ZERO; 8];
                for n in 0..p.n {
                    let plane = n * p.c_in + c;
                    let (x_pl, g_pl) = (
                        &x[plane * plane_in..][..plane_in],
                        &dy[plane * plane_out..][..plane_out],
                    );
                    for_each_run(p, kh, kw, |oh, ih, lo, hi, iw| {
                        let g = &g_pl[oh * wo + lo..oh * wo + hi];
                        let src = &x_pl[ih * p.w + iw..];
                        for (j, (&gv, s)) in g.iter().zip(src.chunks(p.stride.1)).enumerate() {
                            acc[j % 8] += gv * s[0];
                        }
                    });
                }
                dw_c[kh * p.kw + kw] = crate::cpu::reduce::sum_slice(&acc);
            }
        }
    });
}
