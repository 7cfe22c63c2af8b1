//! The tile transforms of one block: input patches to V, M back to output tiles, output
//! gradients to their transformed form (see the module comment of `winograd` for the algebra).

use super::transforms::{self, V8};
use super::{Geometry, SharedMut, A, L, POINTS};
use crate::cpu::conv::Conv2dParams;

/// One tile row's input slab: xs[cb, a, x, l] = x[n, cb·8 + l, ty·m − ph + a, x − pw] (zero
/// outside the image and past Cin), for tile row `row` = n·th + ty.
pub(super) fn input_slab(p: &Conv2dParams, geo: &Geometry, x: &[f32], row: usize, xs: &mut [f32]) {
    let (n, ty) = (row / geo.th, row % geo.th);
    let wp = geo.wp;
    let cols = p.w.min(wp - p.pad.1);
    // Zeros where no image value lands: the padding columns, rows outside the image, and
    // the lanes past Cin (all of a row, where Cin is not a multiple of 8).
    let ragged = p.c_in % L != 0;
    for (cb_a, row_buf) in xs.chunks_exact_mut(wp * L).enumerate() {
        let (cb, a) = (cb_a / A, cb_a % A);
        let ih = (ty * geo.m + a).wrapping_sub(p.pad.0);
        if ih >= p.h || (ragged && cb == p.c_in / L) {
            row_buf.fill(0.0);
        } else {
            row_buf[..p.pad.1 * L].fill(0.0);
            row_buf[(p.pad.1 + cols) * L..].fill(0.0);
        }
    }
    for ci in 0..p.c_in {
        let (cb, l) = (ci / L, ci % L);
        for a in 0..A {
            let ih = (ty * geo.m + a).wrapping_sub(p.pad.0);
            if ih >= p.h {
                continue;
            }
            let src = &x[((n * p.c_in + ci) * p.h + ih) * p.w..][..cols];
            let dst = &mut xs[((cb * A + a) * wp + p.pad.1) * L + l..];
            for (iw, &v) in src.iter().enumerate() {
                dst[iw * L] = v;
            }
        }
    }
}

/// The transformed input tiles of one block: v[(t·36 + ξ)·Cin8 + ci] = (Bᵀ d_t B)[ξ], from the
/// block's slabs (`xs` holds one slab per tile row).
#[inline(always)]
pub(super) fn input_block(geo: &Geometry, xs: &[f32], rows: usize, v: &mut [f32]) {
    let (m, wp, cb_n) = (geo.m, geo.wp, geo.cin8 / L);
    for j in 0..rows {
        let slab = &xs[j * geo.slab_len()..][..geo.slab_len()];
        for tx in 0..geo.tw {
            let t = j * geo.tw + tx;
            let out = &mut v[t * POINTS * geo.cin8..][..POINTS * geo.cin8];
            for cb in 0..cb_n {
                let patch = &slab[(cb * A * wp + tx * m) * L..];
                let mut d = [[V8::ZERO; A]; A];
                for (a, row) in d.iter_mut().enumerate() {
                    for (b, val) in row.iter_mut().enumerate() {
                        *val = V8::load(&patch[(a * wp + b) * L..]);
                    }
                }
                let vt = transforms::input_tile(&d);
                for (xi, vv) in vt.iter().flatten().enumerate() {
                    vv.store(&mut out[xi * geo.cin8 + cb * L..]);
                }
            }
        }
    }
}

/// Writes the block's output tiles into y (NCHW): Y_t = Aᵀ M_t A (+ bias), clipped to the
/// output, from mm[(t·36 + ξ)·Cout8 + co].
///
/// # Safety
/// `y` must point to the whole output, and no other thread may write the rows of these tiles.
#[inline(always)]
pub(super) unsafe fn output_block<const M: usize>(
    p: &Conv2dParams,
    geo: &Geometry,
    mm: &[f32],
    row0: usize,
    rows: usize,
    bias: Option<&[f32]>,
    y: SharedMut,
) {
    let (ho, wo) = (p.out_h(), p.out_w());
    for j in 0..rows {
        let (n, ty) = ((row0 + j) / geo.th, (row0 + j) % geo.th);
        let oh0 = ty * M;
        for tx in 0..geo.tw {
            let t = j * geo.tw + tx;
            let ow0 = tx * M;
            let (h_valid, w_valid) = (M.min(ho - oh0), M.min(wo - ow0));
            let tile = &mm[t * POINTS * geo.cout8..][..POINTS * geo.cout8];
            for cb in 0..geo.cout8 / L {
                let mut mt = [[V8::ZERO; A]; A];
                for (i, row) in mt.iter_mut().enumerate() {
                    for (jj, val) in row.iter_mut().enumerate() {
                        *val = V8::load(&tile[(i * A + jj) * geo.cout8 + cb * L..]);
                    }
                }
                let yt = transforms::output_tile::<M>(&mt);
                for l in 0..L.min(p.c_out - cb * L) {
                    let co = cb * L + l;
                    let bv = bias.map_or(0.0, |b| b[co]);
                    for (r, yrow) in yt.iter().enumerate().take(h_valid) {
                        let at = ((n * p.c_out + co) * ho + oh0 + r) * wo + ow0;
                        // SAFETY: w_valid values of output row oh0 + r, inside y and written
                        // only by this tile (see the caller).
                        let dst = unsafe { y.slice(at, w_valid) };
                        for (c, d) in dst.iter_mut().enumerate() {
                            *d = yrow[c].0[l] + bv;
                        }
                    }
                }
            }
        }
    }
}

/// One tile row's output-gradient slab: dys[cb, r, x, l] = dy[n, cb·8 + l, ty·m + r, x] (zero
/// past the output's edge and past Cout); dys is [Cout8/8, m, tw·m, 8].
pub(super) fn grad_slab(p: &Conv2dParams, geo: &Geometry, dy: &[f32], row: usize, dys: &mut [f32]) {
    let (n, ty) = (row / geo.th, row % geo.th);
    let (ho, wo, m) = (p.out_h(), p.out_w(), geo.m);
    let wb = geo.tw * m;
    // Zeros past the output's edge and in the lanes past Cout.
    let ragged = p.c_out % L != 0;
    for (cb_r, row_buf) in dys.chunks_exact_mut(wb * L).enumerate() {
        let (cb, r) = (cb_r / m, cb_r % m);
        if ty * m + r >= ho || (ragged && cb == p.c_out / L) {
            row_buf.fill(0.0);
        } else {
            row_buf[wo * L..].fill(0.0);
        }
    }
    for co in 0..p.c_out {
        let (cb, l) = (co / L, co % L);
        for r in 0..m.min(ho - ty * m) {
            let src = &dy[((n * p.c_out + co) * ho + ty * m + r) * wo..][..wo];
            let dst = &mut dys[((cb * m + r) * wb) * L + l..];
            for (ow, &v) in src.iter().enumerate() {
                dst[ow * L] = v;
            }
        }
    }
}

/// The transformed output gradients of one block: g[(t·36 + ξ)·Cout8 + co] = (A ∂Y_t Aᵀ)[ξ],
/// from the block's slabs (`dys` holds one per tile row).
#[inline(always)]
pub(super) fn grad_block<const M: usize>(geo: &Geometry, dys: &[f32], rows: usize, g: &mut [f32]) {
    let (cb_n, wb) = (geo.cout8 / L, geo.tw * M);
    let slab_len = geo.cout8 * M * wb;
    for j in 0..rows {
        let slab = &dys[j * slab_len..][..slab_len];
        for tx in 0..geo.tw {
            let t = j * geo.tw + tx;
            let out = &mut g[t * POINTS * geo.cout8..][..POINTS * geo.cout8];
            for cb in 0..cb_n {
                let tile = &slab[(cb * M * wb + tx * M) * L..];
                let mut dy = [[V8::ZERO; M]; M];
                for (r, row) in dy.iter_mut().enumerate() {
                    for (c, val) in row.iter_mut().enumerate() {
                        *val = V8::load(&tile[(r * wb + c) * L..]);
                    }
                }
                let gt = transforms::grad_tile::<M>(&dy);
                for (xi, gv) in gt.iter().flatten().enumerate() {
                    gv.store(&mut out[xi * geo.cout8 + cb * L..]);
                }
            }
        }
    }
}
