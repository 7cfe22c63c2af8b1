//! 2-D pooling on NCHW tensors: max-pool (with argmax), average-pool, global average pool.
//!
//! Shape legend (see [`Pool2dParams`]):
//! - x  [N, C, H, W]    input;   dx: its gradient
//! - y  [N, C, Ho, Wo]  output;  dy: its gradient; Ho = (H + 2·ph - KH) / sh + 1 (floor mode)
//! - argmax [N, C, Ho, Wo]: for max-pool, the flat index ih·W + iw *within the input plane* of
//!   the element that won (PyTorch's `return_indices` convention); ties go to the first one in
//!   row-major window order, and a NaN wins (it propagates).
//!
//! max:  y[n,c,oh,ow] = max over the window of x (padding never wins: it counts as -inf)
//! avg:  y[n,c,oh,ow] = Σ window x / count, count = KH·KW when `count_include_pad`
//!       (PyTorch's default: the zeros of the padding are averaged in) or the number of
//!       in-image elements otherwise.
//! global average: y[n, c] = mean over H·W of x[n, c].
//!
//! The `*_ref` functions are the loops of the definition; the entry points run the same
//! arithmetic over planes in parallel (one rayon task per (n, c) plane chunk) with the window
//! clipped to the image once per output row instead of tested per tap.

use crate::Float;
use rayon::prelude::*;

/// Sizes and hyper-parameters of one pooling layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dParams {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: (usize, usize),
    pub pad: (usize, usize),
}

impl Pool2dParams {
    pub fn square(n: usize, c: usize, hw: usize, k: usize, stride: usize, pad: usize) -> Self {
        Pool2dParams {
            n,
            c,
            h: hw,
            w: hw,
            kh: k,
            kw: k,
            stride: (stride, stride),
            pad: (pad, pad),
        }
    }
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.pad.0 - self.kh) / self.stride.0 + 1
    }
    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.pad.1 - self.kw) / self.stride.1 + 1
    }
    pub fn x_len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }
    pub fn y_len(&self) -> usize {
        self.n * self.c * self.out_h() * self.out_w()
    }
    fn check(&self, x: usize, y: usize, what: &str) {
        assert!(
            self.kh > 0 && self.kw > 0 && self.stride.0 > 0 && self.stride.1 > 0,
            "{what}: kernel and stride must be >= 1 ({self:?})"
        );
        assert!(
            self.h + 2 * self.pad.0 >= self.kh && self.w + 2 * self.pad.1 >= self.kw,
            "{what}: window larger than the padded input ({self:?})"
        );
        assert!(
            self.pad.0 * 2 <= self.kh && self.pad.1 * 2 <= self.kw,
            "{what}: padding must be at most half the window, as in PyTorch ({self:?})"
        );
        assert!(
            x == self.x_len() && y == self.y_len(),
            "{what}: buffer lengths do not match {self:?}"
        );
    }
    /// The input rows (or columns) [lo, hi) under output row `o`, clipped to the image.
    #[inline(always)]
    fn window(o: usize, stride: usize, pad: usize, k: usize, len: usize) -> (usize, usize) {
        let start = (o * stride) as isize - pad as isize;
        let lo = start.max(0) as usize;
        let hi = ((start + k as isize).max(0) as usize).min(len);
        (lo, hi.max(lo))
    }
}

/// Max-pool forward: writes y and the argmax of every output (see the module legend).
pub fn max_pool2d_forward<T: Float>(p: &Pool2dParams, x: &[T], y: &mut [T], argmax: &mut [usize]) {
    p.check(x.len(), y.len(), "max_pool2d");
    assert_eq!(argmax.len(), y.len(), "max_pool2d: argmax length");
    let (plane_in, plane_out) = (p.h * p.w, p.out_h() * p.out_w());
    if plane_out == 0 {
        return;
    }
    y.par_chunks_mut(plane_out)
        .zip(argmax.par_chunks_mut(plane_out))
        .enumerate()
        .for_each(|(i, (y_pl, a_pl))| max_plane(p, &x[i * plane_in..][..plane_in], y_pl, a_pl));
}

fn max_plane<T: Float>(p: &Pool2dParams, x: &[T], y: &mut [T], argmax: &mut [usize]) {
    let wo = p.out_w();
    for (oh, (y_row, a_row)) in y
        .chunks_exact_mut(wo)
        .zip(argmax.chunks_exact_mut(wo))
        .enumerate()
    {
        let (h0, h1) = Pool2dParams::window(oh, p.stride.0, p.pad.0, p.kh, p.h);
        for (ow, (yv, av)) in y_row.iter_mut().zip(a_row.iter_mut()).enumerate() {
            let (w0, w1) = Pool2dParams::window(ow, p.stride.1, p.pad.1, p.kw, p.w);
            let mut best = T::NEG_INFINITY;
            let mut best_at = h0 * p.w + w0;
            'window: for ih in h0..h1 {
                for (iw, &v) in x[ih * p.w + w0..ih * p.w + w1].iter().enumerate() {
                    if v > best || v.is_nan() {
                        best = v;
                        best_at = ih * p.w + w0 + iw;
                        if v.is_nan() {
                            break 'window;
                        }
                    }
                }
            }
            *yv = best;
            *av = best_at;
        }
    }
}

/// Reference max-pool: every tap tested against the image bounds.
pub fn max_pool2d_forward_ref<T: Float>(
    p: &Pool2dParams,
    x: &[T],
    y: &mut [T],
    argmax: &mut [usize],
) {
    p.check(x.len(), y.len(), "max_pool2d");
    let (ho, wo) = (p.out_h(), p.out_w());
    for nc in 0..p.n * p.c {
        for oh in 0..ho {
            for ow in 0..wo {
                let (mut best, mut best_at) = (T::NEG_INFINITY, usize::MAX);
                for kh in 0..p.kh {
                    for kw in 0..p.kw {
                        let ih = (oh * p.stride.0 + kh) as isize - p.pad.0 as isize;
                        let iw = (ow * p.stride.1 + kw) as isize - p.pad.1 as isize;
                        if ih < 0 || iw < 0 || ih >= p.h as isize || iw >= p.w as isize {
                            continue;
                        }
                        let at = ih as usize * p.w + iw as usize;
                        let v = x[nc * p.h * p.w + at];
                        if best_at == usize::MAX || (!best.is_nan() && (v > best || v.is_nan())) {
                            best = v;
                            best_at = at;
                        }
                    }
                }
                y[(nc * ho + oh) * wo + ow] = best;
                argmax[(nc * ho + oh) * wo + ow] = best_at;
            }
        }
    }
}

/// Max-pool backward: dx[n, c, argmax] += dy (overlapping windows add), zero elsewhere.
pub fn max_pool2d_backward<T: Float>(p: &Pool2dParams, dy: &[T], argmax: &[usize], dx: &mut [T]) {
    p.check(dx.len(), dy.len(), "max_pool2d backward");
    let (plane_in, plane_out) = (p.h * p.w, p.out_h() * p.out_w());
    if plane_in == 0 {
        return;
    }
    dx.par_chunks_mut(plane_in)
        .enumerate()
        .for_each(|(i, dx_pl)| {
            dx_pl.fill(T::ZERO);
            let (g, a) = (
                &dy[i * plane_out..][..plane_out],
                &argmax[i * plane_out..][..plane_out],
            );
            for (&gv, &at) in g.iter().zip(a) {
                dx_pl[at] += gv;
            }
        });
}

/// Average-pool forward.
pub fn avg_pool2d_forward<T: Float>(
    p: &Pool2dParams,
    x: &[T],
    count_include_pad: bool,
    y: &mut [T],
) {
    p.check(x.len(), y.len(), "avg_pool2d");
    let (plane_in, plane_out, wo) = (p.h * p.w, p.out_h() * p.out_w(), p.out_w());
    if plane_out == 0 {
        return;
    }
    y.par_chunks_mut(plane_out)
        .enumerate()
        .for_each(|(i, y_pl)| {
            let x = &x[i * plane_in..][..plane_in];
            for (oh, y_row) in y_pl.chunks_exact_mut(wo).enumerate() {
                let (h0, h1) = Pool2dParams::window(oh, p.stride.0, p.pad.0, p.kh, p.h);
                for (ow, yv) in y_row.iter_mut().enumerate() {
                    let (w0, w1) = Pool2dParams::window(ow, p.stride.1, p.pad.1, p.kw, p.w);
                    let mut acc = T::ZERO;
                    for ih in h0..h1 {
                        for &v in &x[ih * p.w + w0..ih * p.w + w1] {
                            acc += v;
                        }
                    }
                    *yv = acc / avg_count(p, count_include_pad, (h0, h1), (w0, w1));
                }
            }
        });
}

fn avg_count<T: Float>(
    p: &Pool2dParams,
    include_pad: bool,
    (h0, h1): (usize, usize),
    (w0, w1): (usize, usize),
) -> T {
    if include_pad {
        T::from_usize(p.kh * p.kw)
    } else {
        T::from_usize(((h1 - h0) * (w1 - w0)).max(1))
    }
}

/// Reference average-pool.
pub fn avg_pool2d_forward_ref<T: Float>(
    p: &Pool2dParams,
    x: &[T],
    count_include_pad: bool,
    y: &mut [T],
) {
    p.check(x.len(), y.len(), "avg_pool2d");
    let (ho, wo) = (p.out_h(), p.out_w());
    for nc in 0..p.n * p.c {
        for oh in 0..ho {
            for ow in 0..wo {
                let (mut acc, mut inside) = (T::ZERO, 0usize);
                for kh in 0..p.kh {
                    for kw in 0..p.kw {
                        let ih = (oh * p.stride.0 + kh) as isize - p.pad.0 as isize;
                        let iw = (ow * p.stride.1 + kw) as isize - p.pad.1 as isize;
                        if ih >= 0 && iw >= 0 && ih < p.h as isize && iw < p.w as isize {
                            acc += x[nc * p.h * p.w + ih as usize * p.w + iw as usize];
                            inside += 1;
                        }
                    }
                }
                let count = if count_include_pad {
                    p.kh * p.kw
                } else {
                    inside.max(1)
                };
                y[(nc * ho + oh) * wo + ow] = acc / T::from_usize(count);
            }
        }
    }
}

/// Average-pool backward: each input in a window receives dy / count (overwrites dx).
pub fn avg_pool2d_backward<T: Float>(
    p: &Pool2dParams,
    dy: &[T],
    count_include_pad: bool,
    dx: &mut [T],
) {
    p.check(dx.len(), dy.len(), "avg_pool2d backward");
    let (plane_in, plane_out, wo) = (p.h * p.w, p.out_h() * p.out_w(), p.out_w());
    if plane_in == 0 {
        return;
    }
    dx.par_chunks_mut(plane_in)
        .enumerate()
        .for_each(|(i, dx_pl)| {
            dx_pl.fill(T::ZERO);
            let g = &dy[i * plane_out..][..plane_out];
            for (oh, g_row) in g.chunks_exact(wo.max(1)).enumerate() {
                let (h0, h1) = Pool2dParams::window(oh, p.stride.0, p.pad.0, p.kh, p.h);
                for (ow, &gv) in g_row.iter().enumerate() {
                    let (w0, w1) = Pool2dParams::window(ow, p.stride.1, p.pad.1, p.kw, p.w);
                    let share = gv / avg_count::<T>(p, count_include_pad, (h0, h1), (w0, w1));
                    for ih in h0..h1 {
                        for d in &mut dx_pl[ih * p.w + w0..ih * p.w + w1] {
                            *d += share;
                        }
                    }
                }
            }
        });
}

/// Global average pool: y[n, c] = mean of the plane x[n, c] ([N·C, plane] -> [N·C]).
pub fn global_avg_pool_forward<T: Float>(x: &[T], planes: usize, plane: usize, y: &mut [T]) {
    assert!(
        x.len() == planes * plane && y.len() == planes,
        "global_avg_pool: lengths"
    );
    let inv = T::ONE / T::from_usize(plane.max(1));
    if plane == 0 {
        y.fill(T::ZERO);
        return;
    }
    y.par_iter_mut()
        .zip(x.par_chunks(plane))
        .for_each(|(yv, pl)| *yv = crate::cpu::reduce::sum_slice(pl) * inv);
}

/// Global average pool backward: dx[n, c, :] = dy[n, c] / plane.
pub fn global_avg_pool_backward<T: Float>(dy: &[T], planes: usize, plane: usize, dx: &mut [T]) {
    assert!(
        dx.len() == planes * plane && dy.len() == planes,
        "global_avg_pool backward: lengths"
    );
    if plane == 0 {
        return;
    }
    let inv = T::ONE / T::from_usize(plane);
    dx.par_chunks_mut(plane)
        .zip(dy.par_iter())
        .for_each(|(pl, &g)| pl.fill(g * inv));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::testutil::{pool, Report, Rng};

    fn cases() -> Vec<Pool2dParams> {
        let sq = Pool2dParams::square;
        let mut rect = sq(2, 3, 5, 3, 2, 1);
        (rect.h, rect.w, rect.kh, rect.stride) = (7, 1031, 2, (1, 3));
        vec![
            sq(1, 1, 1, 1, 1, 0),
            sq(2, 3, 7, 3, 2, 1),
            sq(1, 2, 33, 2, 2, 0),
            sq(2, 5, 8, 3, 1, 1),
            sq(3, 2, 9, 4, 3, 2),
            rect,
        ]
    }

    #[test]
    fn pooling_matches_reference() {
        let mut rng = Rng(9);
        let mut max_rep = Report::new("max_pool2d f32", 0.0);
        let mut max_bwd = Report::new("max_pool2d backward f32", 1e-6);
        let mut avg_rep = Report::new("avg_pool2d f32", 1e-6);
        let mut avg_bwd = Report::new("avg_pool2d backward f32", 1e-6);
        for p in cases() {
            let case = format!("{p:?}");
            let mut x: Vec<f32> = rng.vec(p.x_len());
            x[p.x_len() / 2] = x[p.x_len() / 3]; // a tie somewhere
            let dy: Vec<f32> = rng.vec(p.y_len());
            pool(2).install(|| {
                let (mut y, mut a) = (vec![0.0; p.y_len()], vec![0; p.y_len()]);
                let (mut y_r, mut a_r) = (vec![0.0; p.y_len()], vec![0; p.y_len()]);
                max_pool2d_forward(&p, &x, &mut y, &mut a);
                max_pool2d_forward_ref(&p, &x, &mut y_r, &mut a_r);
                max_rep.compare(&case, &y, &y_r);
                assert_eq!(a, a_r, "argmax {case}");
                // Backward: scatter by the reference argmax, summed per plane.
                let mut dx = vec![f32::NAN; p.x_len()];
                max_pool2d_backward(&p, &dy, &a, &mut dx);
                let mut dx_r = vec![0.0f32; p.x_len()];
                let (pi, po) = (p.h * p.w, p.out_h() * p.out_w());
                for (o, (&g, &at)) in dy.iter().zip(&a_r).enumerate() {
                    dx_r[(o / po) * pi + at] += g;
                }
                max_bwd.compare(&case, &dx, &dx_r);
                for include in [true, false] {
                    let (mut y, mut y_r) = (vec![0.0; p.y_len()], vec![0.0; p.y_len()]);
                    avg_pool2d_forward(&p, &x, include, &mut y);
                    avg_pool2d_forward_ref(&p, &x, include, &mut y_r);
                    avg_rep.compare(&case, &y, &y_r);
                    // Adjoint check: <avg(x), dy> = <x, avg_backward(dy)>.
                    let mut dx = vec![f32::NAN; p.x_len()];
                    avg_pool2d_backward(&p, &dy, include, &mut dx);
                    let lhs: f64 = y.iter().zip(&dy).map(|(a, b)| *a as f64 * *b as f64).sum();
                    let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| *a as f64 * *b as f64).sum();
                    avg_bwd.note(
                        &format!("{case} include_pad {include} <Ax,g>=<x,A'g>"),
                        0,
                        (lhs - rhs).abs() / (1.0 + lhs.abs()),
                    );
                }
            });
        }
        for r in [max_rep, max_bwd, avg_rep, avg_bwd] {
            r.finish();
        }
    }

    #[test]
    fn max_pool_known_values_and_nan() {
        // 2x2 windows, stride 2 over [[1, 5], [3, 2]] -> 5 at flat index 1.
        let p = Pool2dParams::square(1, 1, 2, 2, 2, 0);
        let (mut y, mut a) = ([0.0f64], [0usize]);
        max_pool2d_forward(&p, &[1.0, 5.0, 3.0, 2.0], &mut y, &mut a);
        assert_eq!((y[0], a[0]), (5.0, 1));
        max_pool2d_forward(&p, &[1.0, f64::NAN, 3.0, 2.0], &mut y, &mut a);
        assert!(y[0].is_nan() && a[0] == 1);
    }

    #[test]
    fn global_avg_pool_known_values() {
        let x = [1.0f32, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0];
        let mut y = [0.0; 2];
        global_avg_pool_forward(&x, 2, 4, &mut y);
        assert_eq!(y, [2.5, 25.0]);
        let mut dx = [0.0; 8];
        global_avg_pool_backward(&[4.0, 8.0], 2, 4, &mut dx);
        assert_eq!(dx, [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
    }
}
