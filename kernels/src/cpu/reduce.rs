//! Reductions along one axis, and summing a broadcast shape back down.
//!
//! Shape legend: a reduction along axis `a` of a row-major tensor views it as
//! `[outer, len, inner]` (outer = product of the dims before `a`, len = dims[a], inner =
//! product of the dims after it); the result has `[outer, inner]` elements.

use super::broadcast::{broadcast_strides, BroadcastWalk};
use super::parallel::PAR_MIN_ELEMS;
use crate::Float;
use rayon::prelude::*;

/// Σ x, with eight partial sums: the compiler turns them into SIMD lanes (a single running sum
/// is a serial dependency chain it may not reorder), and pairwise-ish summing is more accurate.
pub fn sum_slice<T: Float>(x: &[T]) -> T {
    let mut acc = [T::ZERO; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    let mut total =
        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &v in tail {
        total += v;
    }
    total
}

/// out[o, i] = Σ_l x[o, l, i]. Fast path: each output row accumulated with vectorised
/// loops (eight partial sums when the axis is the last one), rows in parallel when large.
pub fn sum_axis<T: Float>(x: &[T], outer: usize, len: usize, inner: usize, out: &mut [T]) {
    assert_eq!(
        x.len(),
        outer * len * inner,
        "sum_axis: x is not [outer, len, inner]"
    );
    assert_eq!(
        out.len(),
        outer * inner,
        "sum_axis: out is not [outer, inner]"
    );
    if inner == 0 {
        return;
    }
    let row = |o: usize, dst: &mut [T]| {
        let src = &x[o * len * inner..][..len * inner];
        if inner == 1 {
            dst[0] = sum_slice(src);
            return;
        }
        dst.fill(T::ZERO);
        for s in src.chunks_exact(inner) {
            for (d, &v) in dst.iter_mut().zip(s) {
                *d += v;
            }
        }
    };
    if x.len() < PAR_MIN_ELEMS {
        out.chunks_mut(inner)
            .enumerate()
            .for_each(|(o, d)| row(o, d));
    } else if outer == 1 && inner > 1 {
        // One long output row: split the columns instead.
        const COLS: usize = 1 << 10;
        out.par_chunks_mut(COLS).enumerate().for_each(|(c, d)| {
            d.fill(T::ZERO);
            for l in 0..len {
                let s = &x[l * inner + c * COLS..][..d.len()];
                for (dv, &v) in d.iter_mut().zip(s) {
                    *dv += v;
                }
            }
        });
    } else {
        let min_rows = (PAR_MIN_ELEMS / (len * inner).max(1)).max(1);
        out.par_chunks_mut(inner)
            .with_min_len(min_rows)
            .enumerate()
            .for_each(|(o, d)| row(o, d));
    }
}

/// Reference of [`sum_axis`].
pub fn sum_axis_ref<T: Float>(x: &[T], outer: usize, len: usize, inner: usize, out: &mut [T]) {
    assert_eq!(x.len(), outer * len * inner);
    assert_eq!(out.len(), outer * inner);
    for o in 0..outer {
        let dst = &mut out[o * inner..(o + 1) * inner];
        dst.fill(T::ZERO);
        for l in 0..len {
            let src = &x[(o * len + l) * inner..(o * len + l + 1) * inner];
            for (d, &s) in dst.iter_mut().zip(src) {
                *d += s;
            }
        }
    }
}

/// values[o, i] = max_l x[o, l, i], argmax[o, i] = the *first* l reaching it (ties go to the
/// lowest index; a NaN anywhere in the row makes the value NaN and its index the NaN's).
/// Fast path: for inner > 1 the scan runs across whole rows of `inner` values at a time
/// (contiguous, branch-free selects), and output rows run in parallel for large inputs.
pub fn max_axis<T: Float>(
    x: &[T],
    outer: usize,
    len: usize,
    inner: usize,
    values: &mut [T],
    argmax: &mut [usize],
) {
    assert!(len > 0, "max over an empty axis");
    assert_eq!(
        x.len(),
        outer * len * inner,
        "max_axis: x is not [outer, len, inner]"
    );
    assert!(
        values.len() == outer * inner && argmax.len() == outer * inner,
        "max_axis: outputs"
    );
    if inner == 0 {
        return;
    }
    let row = |o: usize, vals: &mut [T], idx: &mut [usize]| {
        let src = &x[o * len * inner..][..len * inner];
        vals.copy_from_slice(&src[..inner]);
        idx.fill(0);
        for (l, line) in src.chunks_exact(inner).enumerate().skip(1) {
            for ((b, bi), &v) in vals.iter_mut().zip(idx.iter_mut()).zip(line) {
                // A NaN already chosen stays; a new NaN or a strictly larger value wins.
                let take = !b.is_nan() && (v > *b || v.is_nan());
                *b = if take { v } else { *b };
                *bi = if take { l } else { *bi };
            }
        }
    };
    if x.len() < PAR_MIN_ELEMS {
        for (o, (v, i)) in values
            .chunks_mut(inner)
            .zip(argmax.chunks_mut(inner))
            .enumerate()
        {
            row(o, v, i);
        }
    } else {
        let min_rows = (PAR_MIN_ELEMS / (len * inner)).max(1);
        values
            .par_chunks_mut(inner)
            .zip(argmax.par_chunks_mut(inner))
            .with_min_len(min_rows)
            .enumerate()
            .for_each(|(o, (v, i))| row(o, v, i));
    }
}

/// Reference of [`max_axis`].
pub fn max_axis_ref<T: Float>(
    x: &[T],
    outer: usize,
    len: usize,
    inner: usize,
    values: &mut [T],
    argmax: &mut [usize],
) {
    assert!(len > 0, "max over an empty axis");
    for o in 0..outer {
        for i in 0..inner {
            let mut best = x[o * len * inner + i];
            let mut best_l = 0;
            for l in 1..len {
                let v = x[(o * len + l) * inner + i];
                if best.is_nan() {
                    break;
                }
                if v > best || v.is_nan() {
                    best = v;
                    best_l = l;
                }
            }
            values[o * inner + i] = best;
            argmax[o * inner + i] = best_l;
        }
    }
}

/// dx[o, argmax[o, i], i] = g[o, i], zero elsewhere (the gradient of max along an axis).
pub fn scatter_to_argmax<T: Float>(
    g: &[T],
    argmax: &[usize],
    outer: usize,
    len: usize,
    inner: usize,
    dx: &mut [T],
) {
    dx.fill(T::ZERO);
    for o in 0..outer {
        for i in 0..inner {
            dx[(o * len + argmax[o * inner + i]) * inner + i] = g[o * inner + i];
        }
    }
}

/// out[o, i] = log Σ_l exp(x[o, l, i]), computed as M + log Σ exp(x - M) with M the maximum, so
/// no exp overflows. A row of all -inf gives -inf. Fast path for the last axis (inner = 1):
/// rows in parallel, f32 with the vectorised exp.
pub fn logsumexp_axis<T: Float>(x: &[T], outer: usize, len: usize, inner: usize, out: &mut [T]) {
    assert_eq!(
        x.len(),
        outer * len * inner,
        "logsumexp_axis: x is not [outer, len, inner]"
    );
    assert_eq!(
        out.len(),
        outer * inner,
        "logsumexp_axis: out is not [outer, inner]"
    );
    if inner != 1 || len == 0 {
        return logsumexp_axis_ref(x, outer, len, inner, out);
    }
    let lse_row = |r: &[T]| -> T {
        let m = super::softmax::row_max(r);
        if m == T::NEG_INFINITY || m == T::INFINITY || m.is_nan() {
            return m;
        }
        let total = match T::slice_f32(r) {
            Some(r32) => {
                T::from_f64(super::simd_math::exp_shifted_total_f32(r32, m.to_f64() as f32) as f64)
            }
            None => {
                let mut acc = [T::ZERO; 8];
                for (i, &v) in r.iter().enumerate() {
                    acc[i % 8] += (v - m).exp();
                }
                sum_slice(&acc)
            }
        };
        m + total.ln()
    };
    if x.len() < PAR_MIN_ELEMS {
        out.iter_mut()
            .zip(x.chunks_exact(len))
            .for_each(|(o, r)| *o = lse_row(r));
    } else {
        out.par_iter_mut()
            .zip(x.par_chunks_exact(len))
            .for_each(|(o, r)| *o = lse_row(r));
    }
}

/// Reference of [`logsumexp_axis`].
pub fn logsumexp_axis_ref<T: Float>(
    x: &[T],
    outer: usize,
    len: usize,
    inner: usize,
    out: &mut [T],
) {
    for o in 0..outer {
        for i in 0..inner {
            let at = |l: usize| x[(o * len + l) * inner + i];
            let m = (0..len).map(at).fold(T::NEG_INFINITY, |a, b| a.max_nan(b));
            out[o * inner + i] = if m == T::NEG_INFINITY || m == T::INFINITY {
                m
            } else {
                m + (0..len).map(|l| (at(l) - m).exp()).sum::<T>().ln()
            };
        }
    }
}

/// Sums `src` (dims `src_dims`) down to `dst_dims`, which must broadcast to `src_dims`: every
/// axis where dst has size 1 (or that dst lacks) is summed. This is the *un-broadcast* of a
/// gradient, and also a multi-axis `sum` with keepdim.
pub fn sum_to_shape<T: Float>(src: &[T], src_dims: &[usize], dst_dims: &[usize], out: &mut [T]) {
    if src_dims == dst_dims {
        out.copy_from_slice(src);
        return;
    }
    out.fill(T::ZERO);
    let trailing_rank = dst_dims.len();
    let leading = src_dims.len() - trailing_rank;
    // Fast path: only leading axes are summed (the bias-gradient case [B, C] -> [C]).
    if src_dims[leading..] == *dst_dims {
        for chunk in src.chunks_exact(out.len().max(1)) {
            for (o, &s) in out.iter_mut().zip(chunk) {
                *o += s;
            }
        }
        return;
    }
    let st = broadcast_strides(dst_dims, src_dims);
    for (&s, [d, _, _]) in src
        .iter()
        .zip(BroadcastWalk::new(src_dims, [&st, &[], &[]]))
    {
        out[d] += s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_reductions_match_reference() {
        use crate::cpu::testutil::{pool, Report, Rng};
        let mut rng = Rng(51);
        let mut rep = Report::new("sum_axis/logsumexp_axis f32", 2e-6);
        for (outer, len, inner) in [
            (1, 1, 1),
            (7, 7, 1),
            (33, 33, 7),
            (3, 1031, 1),
            (1, 40, 2000),
            (64, 1001, 1),
            (5, 3, 1031),
        ] {
            let x: Vec<f32> = rng
                .vec::<f32>(outer * len * inner)
                .iter()
                .map(|v| 10.0 * v)
                .collect();
            let case = format!("[{outer}, {len}, {inner}]");
            let (mut s, mut s_r) = (vec![0.0; outer * inner], vec![0.0; outer * inner]);
            let (mut l, mut l_r) = (vec![0.0; outer * inner], vec![0.0; outer * inner]);
            pool(2).install(|| {
                sum_axis(&x, outer, len, inner, &mut s);
                logsumexp_axis(&x, outer, len, inner, &mut l);
            });
            // References in f64: the fast sums are compared with exact ones, scaled by len.
            let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            sum_axis_ref(&x64, outer, len, inner, &mut s_r);
            logsumexp_axis_ref(&x64, outer, len, inner, &mut l_r);
            let s_scaled: Vec<f64> = s.iter().map(|&v| v as f64 / len as f64).collect();
            let s_r_scaled: Vec<f64> = s_r.iter().map(|&v| v / len as f64).collect();
            rep.compare(&format!("sum {case}"), &s_scaled, &s_r_scaled);
            let l64: Vec<f64> = l.iter().map(|&v| v as f64).collect();
            rep.compare(&format!("lse {case}"), &l64, &l_r);
            // max / argmax must match exactly, ties and a NaN included.
            let mut xm = x.clone();
            if xm.len() > 3 {
                xm[1] = xm[0];
                let mid = xm.len() / 2;
                xm[mid] = f32::NAN;
            }
            let (mut v, mut a) = (vec![0.0f32; outer * inner], vec![0; outer * inner]);
            let (mut v_r, mut a_r) = (vec![0.0f32; outer * inner], vec![0; outer * inner]);
            pool(2).install(|| max_axis(&xm, outer, len, inner, &mut v, &mut a));
            max_axis_ref(&xm, outer, len, inner, &mut v_r, &mut a_r);
            assert_eq!(a, a_r, "argmax {case}");
            rep.compare(&format!("max {case}"), &v, &v_r);
        }
        rep.finish();
    }

    #[test]
    fn max_ties_go_to_first() {
        let x = [1.0f64, 3.0, 3.0, 2.0];
        let (mut v, mut a) = ([0.0; 1], [9; 1]);
        max_axis(&x, 1, 4, 1, &mut v, &mut a);
        assert_eq!((v[0], a[0]), (3.0, 1));
    }

    #[test]
    fn logsumexp_does_not_overflow() {
        let x = [1000.0f64, 1000.0];
        let mut out = [0.0];
        logsumexp_axis(&x, 1, 2, 1, &mut out);
        assert!((out[0] - (1000.0 + 2f64.ln())).abs() < 1e-12);
    }

    #[test]
    fn sum_to_shape_middle_axis() {
        // [2,3,2] -> [2,1,2]
        let src: Vec<f64> = (0..12).map(|v| v as f64).collect();
        let mut out = [0.0; 4];
        sum_to_shape(&src, &[2, 3, 2], &[2, 1, 2], &mut out);
        assert_eq!(out, [6.0, 9.0, 24.0, 27.0]);
    }
}
