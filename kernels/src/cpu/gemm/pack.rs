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

use crate::Float;

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
                out[..rows].copy_from_slice(src);
                out[rows..].fill(T::ZERO);
            }
        } else {
            // op(A)[i, p] = a[i·ld + p]: each row of the sliver is contiguous; write it with
            // stride mr (the sliver is small enough to stay in L1 while we do).
            for r in 0..rows {
                let src = &a.data[a.start(row0 + r) + p0..][..kc];
                for (out, &v) in sliver[r..].iter_mut().step_by(mr).zip(src) {
                    *out = v;
                }
            }
            for r in rows..mr {
                for out in sliver[r..].iter_mut().step_by(mr) {
                    *out = T::ZERO;
                }
            }
        }
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
    for (s, sliver) in dst.chunks_exact_mut(kc * nr).take(slivers).enumerate() {
        pack_b_sliver(b, p0, kc, j0 + s * nr, nr.min(nc - s * nr), sliver, nr);
    }
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
            out[..cols].copy_from_slice(src);
            out[cols..].fill(T::ZERO);
        }
    } else {
        // op(B)[p, j] = b[j·ld + p]: column j of the sliver is a contiguous row of b.
        for c in 0..cols {
            let src = &b.data[b.start(col0 + c) + p0..][..kc];
            for (out, &v) in sliver[c..].iter_mut().step_by(nr).zip(src) {
                *out = v;
            }
        }
        for c in cols..nr {
            for out in sliver[c..].iter_mut().step_by(nr).take(kc) {
                *out = T::ZERO;
            }
        }
    }
}
