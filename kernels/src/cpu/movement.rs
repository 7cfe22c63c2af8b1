//! Data movement: permute, slices along an axis, concatenation, gathers and scatter-adds.
//!
//! Shape legend: "along axis a" views a row-major tensor as `[outer, len, inner]` (see
//! [`super::reduce`]). Indices are `usize` and checked by the caller (the ops crate returns an
//! error naming the bad index before any kernel runs).

use super::broadcast::contiguous_strides;
use crate::Float;

/// out = x permuted: out dims are `dims[perm[0]], dims[perm[1]], ...`.
pub fn permute<T: Copy>(x: &[T], dims: &[usize], perm: &[usize], out: &mut [T]) {
    let in_strides = contiguous_strides(dims);
    let out_dims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    // Stride in x of each output axis.
    let st: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
    let mut index = vec![0usize; out_dims.len()];
    let mut src = 0usize;
    for o in out.iter_mut() {
        *o = x[src];
        for axis in (0..out_dims.len()).rev() {
            index[axis] += 1;
            src += st[axis];
            if index[axis] < out_dims[axis] {
                break;
            }
            src -= st[axis] * out_dims[axis];
            index[axis] = 0;
        }
    }
}

/// out[o, l, i] = x[o, start + l, i] for l < out_len (a slice along an axis).
pub fn narrow<T: Copy>(
    x: &[T],
    outer: usize,
    len: usize,
    inner: usize,
    start: usize,
    out_len: usize,
    out: &mut [T],
) {
    for o in 0..outer {
        let src = &x[(o * len + start) * inner..(o * len + start + out_len) * inner];
        out[o * out_len * inner..(o + 1) * out_len * inner].copy_from_slice(src);
    }
}

/// The gradient of [`narrow`]: dx is zero except the slice, which receives g.
pub fn narrow_backward<T: Float>(
    g: &[T],
    outer: usize,
    len: usize,
    inner: usize,
    start: usize,
    out_len: usize,
    dx: &mut [T],
) {
    dx.fill(T::ZERO);
    for o in 0..outer {
        let dst = &mut dx[(o * len + start) * inner..(o * len + start + out_len) * inner];
        dst.copy_from_slice(&g[o * out_len * inner..(o + 1) * out_len * inner]);
    }
}

/// Concatenates parts along an axis: part p is `[outer, lens[p], inner]`, the result
/// `[outer, Σ lens, inner]`.
pub fn concat<T: Copy>(parts: &[&[T]], lens: &[usize], outer: usize, inner: usize, out: &mut [T]) {
    let total: usize = lens.iter().sum();
    let mut start = 0;
    for (part, &len) in parts.iter().zip(lens) {
        for o in 0..outer {
            let dst = &mut out[(o * total + start) * inner..(o * total + start + len) * inner];
            dst.copy_from_slice(&part[o * len * inner..(o + 1) * len * inner]);
        }
        start += len;
    }
}

/// out[o, j, i] = x[o, indices[j], i]: picks whole slices along an axis (`index_select`).
pub fn index_select<T: Copy>(
    x: &[T],
    outer: usize,
    len: usize,
    inner: usize,
    indices: &[usize],
    out: &mut [T],
) {
    let n = indices.len();
    for o in 0..outer {
        for (j, &idx) in indices.iter().enumerate() {
            let src = &x[(o * len + idx) * inner..(o * len + idx + 1) * inner];
            out[(o * n + j) * inner..(o * n + j + 1) * inner].copy_from_slice(src);
        }
    }
}

/// dx[o, indices[j], i] += g[o, j, i]: the gradient of [`index_select`] (repeated indices add).
pub fn index_add<T: Float>(
    g: &[T],
    outer: usize,
    len: usize,
    inner: usize,
    indices: &[usize],
    dx: &mut [T],
) {
    let n = indices.len();
    for o in 0..outer {
        for (j, &idx) in indices.iter().enumerate() {
            let dst = &mut dx[(o * len + idx) * inner..(o * len + idx + 1) * inner];
            for (d, &s) in dst
                .iter_mut()
                .zip(&g[(o * n + j) * inner..(o * n + j + 1) * inner])
            {
                *d += s;
            }
        }
    }
}

/// `gather` along an axis (torch.gather): index has the output's shape `[outer, n, inner]`, and
/// out[o, j, i] = x[o, index[o, j, i], i].
pub fn gather<T: Copy>(
    x: &[T],
    outer: usize,
    len: usize,
    inner: usize,
    index: &[usize],
    n: usize,
    out: &mut [T],
) {
    for o in 0..outer {
        for j in 0..n {
            for i in 0..inner {
                let at = (o * n + j) * inner + i;
                out[at] = x[(o * len + index[at]) * inner + i];
            }
        }
    }
}

/// `scatter_add` along an axis: dst[o, index[o, j, i], i] += src[o, j, i]. It is the gradient of
/// [`gather`] and the way per-class sums (segment sums) are built.
#[allow(clippy::too_many_arguments)]
pub fn scatter_add<T: Float>(
    dst: &mut [T],
    outer: usize,
    len: usize,
    inner: usize,
    index: &[usize],
    n: usize,
    src: &[T],
) {
    for o in 0..outer {
        for j in 0..n {
            for i in 0..inner {
                let at = (o * n + j) * inner + i;
                dst[(o * len + index[at]) * inner + i] += src[at];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_transposes() {
        let x = [1, 2, 3, 4, 5, 6]; // [2,3]
        let mut out = [0; 6];
        permute(&x, &[2, 3], &[1, 0], &mut out);
        assert_eq!(out, [1, 4, 2, 5, 3, 6]);
    }

    #[test]
    fn gather_then_scatter_add() {
        let x = [10.0f64, 20.0, 30.0, 40.0]; // [2,2], gather along axis 1
        let index = [1, 1, 0, 1];
        let mut out = [0.0; 4];
        gather(&x, 2, 2, 1, &index, 2, &mut out);
        assert_eq!(out, [20.0, 20.0, 30.0, 40.0]);
        let mut dst = [0.0; 4];
        scatter_add(&mut dst, 2, 2, 1, &index, 2, &[1.0, 1.0, 1.0, 1.0]);
        assert_eq!(dst, [0.0, 2.0, 1.0, 1.0]);
    }
}
