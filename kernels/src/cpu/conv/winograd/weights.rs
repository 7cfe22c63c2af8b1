//! The kernel side of Winograd: U = G g Gᵀ for every (output, input) channel pair, packed for
//! the GEMM, and the adjoint dw = Gᵀ dU G; with the buffers kept between calls.

use std::cell::RefCell;

use super::{dispatch, g_matrix, transforms, Geometry, SharedMut, A, L, POINTS};
use crate::cpu::conv::Conv2dParams;
use crate::cpu::gemm::PackedB;
use rayon::prelude::*;
use transforms::V8;

thread_local! {
    /// Buffers of the transformed kernels and of dU, kept between calls on this thread (for
    /// 512 channels they are 36 MiB: allocating them afresh costs a page fault per 4 KiB).
    static BUFFERS: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

pub(super) fn take_buffer() -> Vec<f32> {
    BUFFERS.with(|b| b.borrow_mut().pop()).unwrap_or_default()
}

/// Most buffers a thread keeps: the 36 transformed kernels of a forward pass and dU.
pub(super) const MAX_POOLED: usize = POINTS + 1;

/// Keeps `v` for the next [`take_buffer`] on this thread. A thread never keeps more than
/// [`MAX_POOLED`]: a caller that gives back more than it took cannot grow the pool (and the
/// process) without bound.
pub(super) fn give_buffer(v: Vec<f32>) {
    BUFFERS.with(|b| {
        let mut b = b.borrow_mut();
        if b.len() < MAX_POOLED {
            b.push(v);
        }
    });
}

/// Buffers this thread keeps (for the tests).
#[cfg(test)]
pub(super) fn pooled_buffers() -> usize {
    BUFFERS.with(|b| b.borrow().len())
}

/// U_ξ = op(B) [Cin, Cout] for each point ξ, packed for the GEMM:
/// U_ξ[ci, co] = (G w[co, ci] Gᵀ)[ξ]. Give the buffers back with [`give_buffer`].
pub(super) fn transform_weights(p: &Conv2dParams, geo: &Geometry, w: &[f32]) -> Vec<PackedB<f32>> {
    let (cin, cout, r) = (p.c_in, p.c_out, geo.r);
    let gm = g_matrix(r);
    let mut u: Vec<PackedB<f32>> = (0..POINTS)
        .map(|_| PackedB::for_writing(cin, cout, take_buffer()))
        .collect();
    let ptrs: Vec<SharedMut> = u
        .iter_mut()
        .map(|b| SharedMut(b.data_mut().as_mut_ptr()))
        .collect();
    let u_ref = &u;
    (0..cin).into_par_iter().for_each(|ci| {
        // SAFETY: writes only row ci of every U_ξ (this task's own part).
        unsafe { dispatch::kernels(w, cin, cout, r, gm, ci, u_ref, &ptrs) }
    });
    u
}

/// Row ci of every U_ξ: U_ξ[ci, co] = (G w[co, ci] Gᵀ)[ξ], eight output channels at a time.
///
/// # Safety
/// `ptrs[ξ]` must point to the buffer of `u[ξ]`, and no other thread may write row ci.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn kernel_row(
    w: &[f32],
    cin: usize,
    cout: usize,
    r: usize,
    gm: &[[f32; 5]; A],
    ci: usize,
    u: &[PackedB<f32>],
    ptrs: &[SharedMut],
) {
    for cb in 0..cout.div_ceil(L) {
        let lanes = L.min(cout - cb * L);
        let mut g = [[V8::ZERO; 5]; 5];
        for l in 0..lanes {
            let k = &w[((cb * L + l) * cin + ci) * r * r..][..r * r];
            for a in 0..r {
                for b in 0..r {
                    g[a][b].0[l] = k[a * r + b];
                }
            }
        }
        let ut = transforms::kernel_tile(gm, r, &g);
        for (xi, uv) in ut.iter().flatten().enumerate() {
            let at = u[xi].index(ci, cb * L);
            // SAFETY: columns cb·8 .. cb·8 + lanes of row ci are contiguous in the packed
            // layout and inside U_ξ's buffer; only this call writes row ci.
            let dst = unsafe { ptrs[xi].slice(at, lanes) };
            if lanes == L {
                uv.store(dst);
            } else {
                dst.copy_from_slice(&uv.0[..lanes]);
            }
        }
    }
}

/// dw[co, ci] = Gᵀ dU[co, ci] G for one output channel, eight input channels at a time, from
/// du [36, Cout, Cin8].
#[inline(always)]
pub(super) fn kernel_grad_row(
    du: &[f32],
    (cin, cin8, cout): (usize, usize, usize),
    r: usize,
    gm: &[[f32; 5]; A],
    co: usize,
    dw_co: &mut [f32],
) {
    for cb in 0..cin8 / L {
        let mut dut = [[V8::ZERO; A]; A];
        for (i, row) in dut.iter_mut().enumerate() {
            for (j, val) in row.iter_mut().enumerate() {
                *val = V8::load(&du[((i * A + j) * cout + co) * cin8 + cb * L..]);
            }
        }
        let dg = transforms::kernel_grad(gm, r, &dut);
        for l in 0..L.min(cin - cb * L) {
            let k = &mut dw_co[(cb * L + l) * r * r..][..r * r];
            for a in 0..r {
                for b in 0..r {
                    k[a * r + b] = dg[a][b].0[l];
                }
            }
        }
    }
}
