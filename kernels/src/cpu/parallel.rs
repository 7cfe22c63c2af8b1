//! Shared plumbing of the fast elementwise kernels: split long buffers over the rayon pool,
//! leave short ones on the calling thread.
//!
//! Shape legend: every buffer of one call has the same length n (or, for the row helpers,
//! is `[rows, cols]`).
//!
//! The closures are generic parameters, so each call site is compiled to its own loop that the
//! compiler can vectorise (one `match` on the operation outside the loop, not one per element).

use rayon::prelude::*;

/// Below this many elements a call stays on one thread (a fork/join costs microseconds; a
/// vectorised pass over 32 Ki floats takes about as long).
pub const PAR_MIN_ELEMS: usize = 1 << 15;
/// Elements per rayon task above the threshold.
const CHUNK: usize = 1 << 14;

/// y[i] = f(x[i]).
pub fn map1<A: Sync + Copy, B: Send>(x: &[A], y: &mut [B], f: impl Fn(A) -> B + Sync) {
    assert_eq!(x.len(), y.len(), "elementwise: buffer lengths");
    let run = |x: &[A], y: &mut [B]| {
        for (o, &i) in y.iter_mut().zip(x) {
            *o = f(i);
        }
    };
    if x.len() < PAR_MIN_ELEMS {
        run(x, y);
    } else {
        y.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .for_each(|(y, x)| run(x, y));
    }
}

/// out[i] = f(a[i], b[i]).
pub fn map2<A: Sync + Copy, B: Sync + Copy, C: Send>(
    a: &[A],
    b: &[B],
    out: &mut [C],
    f: impl Fn(A, B) -> C + Sync,
) {
    assert!(
        a.len() == out.len() && b.len() == out.len(),
        "elementwise: buffer lengths"
    );
    let run = |a: &[A], b: &[B], out: &mut [C]| {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
        }
    };
    if out.len() < PAR_MIN_ELEMS {
        run(a, b, out);
    } else {
        out.par_chunks_mut(CHUNK)
            .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
            .for_each(|(o, (a, b))| run(a, b, o));
    }
}

/// out[i] = f(a[i], b[i], c[i]).
pub fn map3<A: Sync + Copy, B: Sync + Copy, C: Sync + Copy, D: Send>(
    a: &[A],
    b: &[B],
    c: &[C],
    out: &mut [D],
    f: impl Fn(A, B, C) -> D + Sync,
) {
    assert!(
        a.len() == out.len() && b.len() == out.len() && c.len() == out.len(),
        "elementwise: buffer lengths"
    );
    let run = |a: &[A], b: &[B], c: &[C], out: &mut [D]| {
        for (((o, &x), &y), &z) in out.iter_mut().zip(a).zip(b).zip(c) {
            *o = f(x, y, z);
        }
    };
    if out.len() < PAR_MIN_ELEMS {
        run(a, b, c, out);
    } else {
        out.par_chunks_mut(CHUNK)
            .zip(
                a.par_chunks(CHUNK)
                    .zip(b.par_chunks(CHUNK).zip(c.par_chunks(CHUNK))),
            )
            .for_each(|(o, (a, (b, c)))| run(a, b, c, o));
    }
}

/// Runs `f(row_index, out_row)` for every row of `out` ([rows, cols]), in parallel when the
/// whole buffer is large.
pub fn for_rows<T: Send>(out: &mut [T], cols: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    if cols == 0 {
        return;
    }
    if out.len() < PAR_MIN_ELEMS {
        out.chunks_mut(cols).enumerate().for_each(|(r, o)| f(r, o));
    } else {
        let rows_per_task = (CHUNK / cols).max(1);
        out.par_chunks_mut(cols)
            .with_min_len(rows_per_task)
            .enumerate()
            .for_each(|(r, o)| f(r, o));
    }
}
