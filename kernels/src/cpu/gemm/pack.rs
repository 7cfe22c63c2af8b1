//! Packing: copy a block of op(A) or op(B) into the order the micro-kernel reads it.
//!
//! Shape legend (one cache block):
//! - A~ holds an `mc x kc` block of op(A) as ceil(mc / MR) *slivers*; sliver s is `kc x MR`,
//!   column-major within the sliver: `a_packed[s·kc·MR + p·MR + r] = op(A)[i0 + s·MR + r, p0 + p]`.
//! - B~ holds a `kc x nc` block of op(B) as ceil(nc / NR) slivers; sliver s is `kc x NR`,
//!   row-major: `b_packed[s·kc·NR + p·NR + c] = op(B)[p0 + p, j0 + s·NR + c]`.
//!
//! Rows (columns) past the edge of the matrix are written as zeros, so every sliver is whole and
//! the micro-kernel never branches on the edge. The transpose flags decide only which of the two
//! index orders is the contiguous one in memory; both cases copy with unit-stride reads.

use super::interleave::interleave;
use crate::Float;

/// Widest sliver any kernel uses (MR and NR are at most this).
const MAX_SLIVER: usize = 16;

/// Where an operand's numbers sit in its buffer. The stored matrix X has *lines* (rows, or
/// columns when `trans`), each contiguous: line `l` starts at `l * ld`, or at `offsets[l]` when
/// offsets are given. So `op(X)[r, c]` is at `start(r) + c` when not transposed and at
/// `start(c) + r` when transposed.
///
/// Offsets let a convolution hand its input to the GEMM without an im2col copy: every row of
/// the im2col matrix is a contiguous, shifted window of the (padded) image (see `conv`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operand<'a, T> {
    pub data: &'a [T],
    pub ld: usize,
    pub trans: bool,
    pub offsets: Option<&'a [usize]>,
}

impl<'a, T> Operand<'a, T> {
    /// A dense matrix with row stride `ld`.
    pub fn dense(data: &'a [T], ld: usize, trans: bool) -> Self {
        Operand {
            data,
            ld,
            trans,
            offsets: None,
        }
    }

    /// Start of stored line `l`.
    #[inline(always)]
    pub fn start(&self, l: usize) -> usize {
        match self.offsets {
            Some(o) => o[l],
            None => l * self.ld,
        }
    }
}

/// Packs `op(A)[i0..i0+mc, p0..p0+kc]` into `dst` as mr-tall slivers (see the module legend).
pub(crate) fn pack_a<T: Float>(
    a: Operand<'_, T>,
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
    dst: &mut [T],
    mr: usize,
) {
    let slivers = mc.div_ceil(mr);
    assert!(dst.len() >= slivers * kc * mr, "pack_a: buffer too short");
    for (s, sliver) in dst.chunks_exact_mut(kc * mr).take(slivers).enumerate() {
        let rows = mr.min(mc - s * mr);
        let row0 = i0 + s * mr;
        if a.trans {
            // op(A)[i, p] = a[p·ld + i]: for each p the mr values are contiguous.
            for (p, out) in sliver.chunks_exact_mut(mr).enumerate() {
                let src = &a.data[a.start(p0 + p) + row0..][..rows];
                copy_short(&mut out[..rows], src);
                out[rows..].fill(T::ZERO);
            }
        } else {
            // op(A)[i, p] = a[i·ld + p]: each row of the sliver is contiguous; write it with
            // stride mr (the sliver is small enough to stay in L1 while we do). The rows of a
            // wide A are far apart in memory (a new page each), which the hardware prefetcher
            // cannot guess: ask for the next sliver's rows now.
            for r in 0..mr.min(mc.saturating_sub((s + 1) * mr)) {
                prefetch_run(a.data, a.start(row0 + mr + r) + p0, kc);
            }
            let mut starts = [0usize; MAX_SLIVER];
            for (r, st) in starts.iter_mut().enumerate().take(rows) {
                *st = a.start(row0 + r) + p0;
            }
            interleave(a.data, &starts[..rows], kc, sliver, mr);
        }
    }
}

/// dst = src for the short runs of packing (an MR or NR sliver row): a plain loop, which the
/// compiler keeps inline, where `copy_from_slice` of a run-time length calls `memmove` (a
/// function call per 6 or 16 values).
#[inline(always)]
fn copy_short<T: Copy>(dst: &mut [T], src: &[T]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s;
    }
}

/// Packs `op(B)[p0..p0+kc, j0..j0+nc]` into `dst` as nr-wide slivers (see the module legend).
pub(crate) fn pack_b<T: Float>(
    b: Operand<'_, T>,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    dst: &mut [T],
    nr: usize,
) {
    let slivers = nc.div_ceil(nr);
    assert!(dst.len() >= slivers * kc * nr, "pack_b: buffer too short");
    if !b.trans {
        // Row p of the block is contiguous across all slivers: read it once, front to back,
        // and deal its nr-wide pieces out to the slivers (reading sliver by sliver would touch
        // one cache line per row, a new page each time when B is wide).
        for p in 0..kc {
            // Rows of a wide B are far apart: start loading the one after next.
            if p + 2 < kc {
                prefetch_run(b.data, b.start(p0 + p + 2) + j0, nc);
            }
            let src = &b.data[b.start(p0 + p) + j0..][..nc];
            for (s, piece) in src.chunks(nr).enumerate() {
                let out = &mut dst[s * kc * nr + p * nr..][..nr];
                copy_short(&mut out[..piece.len()], piece);
                out[piece.len()..].fill(T::ZERO);
            }
        }
        return;
    }
    for (s, sliver) in dst.chunks_exact_mut(kc * nr).take(slivers).enumerate() {
        // Stored rows of the next sliver: request them ahead (see `pack_a`).
        for c in 0..nr.min(nc.saturating_sub((s + 1) * nr)) {
            prefetch_run(b.data, b.start(j0 + (s + 1) * nr + c) + p0, kc);
        }
        pack_b_sliver(b, p0, kc, j0 + s * nr, nr.min(nc - s * nr), sliver, nr);
    }
}

/// Hints the CPU to start loading `data[start..start + len]` into cache (no effect on results).
#[inline(always)]
fn prefetch_run<T>(data: &[T], start: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let end = (start + len).min(data.len());
        let step = (64 / std::mem::size_of::<T>()).max(1);
        let mut i = start;
        while i < end {
            // SAFETY: a prefetch never faults and reads nothing architecturally; the address is
            // inside `data` anyway (i < end <= data.len()).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(data.as_ptr().add(i) as *const i8) };
            i += step;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, start, len);
}

/// One `kc x nr` sliver of B~ starting at column `col0`, `cols` of them valid.
pub(crate) fn pack_b_sliver<T: Float>(
    b: Operand<'_, T>,
    p0: usize,
    kc: usize,
    col0: usize,
    cols: usize,
    sliver: &mut [T],
    nr: usize,
) {
    if !b.trans {
        // op(B)[p, j] = b[p·ld + j]: nr contiguous values per p.
        for (p, out) in sliver.chunks_exact_mut(nr).take(kc).enumerate() {
            let src = &b.data[b.start(p0 + p) + col0..][..cols];
            copy_short(&mut out[..cols], src);
            out[cols..].fill(T::ZERO);
        }
    } else {
        // op(B)[p, j] = b[j·ld + p]: column j of the sliver is a contiguous line of b.
        let mut starts = [0usize; MAX_SLIVER];
        for (c, st) in starts.iter_mut().enumerate().take(cols) {
            *st = b.start(col0 + c) + p0;
        }
        interleave(b.data, &starts[..cols], kc, sliver, nr);
    }
}
