//! Elementwise kernels: unary maps, broadcasting binary maps, comparisons and `where`.
//!
//! Shape legend: `x`, `y`, `g` (upstream gradient) and the outputs of the unary kernels all
//! have the same number of elements n. Binary kernels read `a` and `b` through broadcast
//! strides (see [`super::broadcast`]) and write an output of dims `out_dims`.
//!
//! Each operation's derivative is written next to its forward formula, so the table below is
//! the whole calculus of the elementwise ops.

use super::broadcast::{broadcast_strides, BroadcastWalk};
use super::parallel::{map1, map2, map3, PAR_MIN_ELEMS};
use crate::Float;
use rayon::prelude::*;

/// A unary elementwise function y = f(x). Parameters are stored as f64 and converted once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Neg,
    Exp,
    /// Natural log; log(0) = -inf, log(x<0) = NaN (as the math says).
    Log,
    /// sqrt; its derivative 1/(2 sqrt x) is +inf at 0.
    Sqrt,
    /// |x|; derivative sign(x) with sign(0) = 0 (a subgradient).
    Abs,
    /// max(x, 0); derivative 1 for x > 0, 0 for x <= 0 (0 at the kink).
    Relu,
    /// 1 / (1 + e^-x), evaluated without overflow for large |x|.
    Sigmoid,
    Tanh,
    Sin,
    Cos,
    /// arccos on [-1, 1]. The input is clamped into [-1, 1] first (rounding after a
    /// normalisation can give 1.0000001). The derivative -1/sqrt(1 - x^2) is infinite at the
    /// ends, so it is guarded: -1/sqrt(max(1 - x^2, eps)) with eps the type's machine epsilon
    /// (f32: 1.2e-7 -> at most 2.9e3; f64: 2.2e-16 -> at most 6.7e7).
    Acos,
    /// x^p for a constant p; derivative p·x^(p-1).
    Powf(f64),
    /// y = mul·x + add (scaling by a constant, adding a constant).
    Affine {
        mul: f64,
        add: f64,
    },
    /// y = min(max(x, lo), hi); derivative 1 on [lo, hi] (bounds included), 0 outside (the
    /// value is constant there).
    Clamp {
        lo: f64,
        hi: f64,
    },
}

impl UnaryOp {
    /// The forward value f(x).
    #[inline(always)]
    pub fn apply<T: Float>(self, x: T) -> T {
        match self {
            UnaryOp::Neg => -x,
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Abs => x.abs(),
            UnaryOp::Relu => {
                if x > T::ZERO {
                    x
                } else {
                    T::ZERO
                }
            }
            UnaryOp::Sigmoid => {
                // For x < 0 use e^x / (1 + e^x) so e^-x never overflows.
                if x >= T::ZERO {
                    T::ONE / (T::ONE + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (T::ONE + e)
                }
            }
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Sin => x.sin(),
            UnaryOp::Cos => x.cos(),
            UnaryOp::Acos => clamp(x, -T::ONE, T::ONE).acos(),
            UnaryOp::Powf(p) => x.powf(T::from_f64(p)),
            UnaryOp::Affine { mul, add } => T::from_f64(mul) * x + T::from_f64(add),
            UnaryOp::Clamp { lo, hi } => clamp(x, T::from_f64(lo), T::from_f64(hi)),
        }
    }

    /// The derivative f'(x), given x and the forward value y = f(x) (some rules are cheaper
    /// from y: exp' = y, sigmoid' = y(1-y), tanh' = 1-y^2, sqrt' = 1/(2y)).
    #[inline(always)]
    pub fn derivative<T: Float>(self, x: T, y: T) -> T {
        let two = T::from_f64(2.0);
        match self {
            UnaryOp::Neg => -T::ONE,
            UnaryOp::Exp => y,
            UnaryOp::Log => T::ONE / x,
            UnaryOp::Sqrt => T::ONE / (two * y),
            UnaryOp::Abs => sign(x),
            UnaryOp::Relu => {
                if x > T::ZERO {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
            UnaryOp::Sigmoid => y * (T::ONE - y),
            UnaryOp::Tanh => T::ONE - y * y,
            UnaryOp::Sin => x.cos(),
            UnaryOp::Cos => -x.sin(),
            UnaryOp::Acos => {
                let one_minus_x2 = T::ONE - x * x;
                let guarded = if one_minus_x2 > T::EPSILON {
                    one_minus_x2
                } else {
                    T::EPSILON
                };
                -T::ONE / guarded.sqrt()
            }
            UnaryOp::Powf(p) => T::from_f64(p) * x.powf(T::from_f64(p - 1.0)),
            UnaryOp::Affine { mul, .. } => T::from_f64(mul),
            UnaryOp::Clamp { lo, hi } => {
                if x >= T::from_f64(lo) && x <= T::from_f64(hi) {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
        }
    }
}

#[inline(always)]
fn clamp<T: Float>(x: T, lo: T, hi: T) -> T {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

#[inline(always)]
fn sign<T: Float>(x: T) -> T {
    if x > T::ZERO {
        T::ONE
    } else if x < T::ZERO {
        -T::ONE
    } else {
        T::ZERO
    }
}

/// y[i] = f(x[i]). The operation is matched once, outside a loop the compiler vectorises
/// (f32 exp through the AVX2 exp of `simd_math`); long buffers are split over rayon.
pub fn unary<T: Float>(op: UnaryOp, x: &[T], y: &mut [T]) {
    assert_eq!(x.len(), y.len(), "unary: buffer lengths");
    match op {
        UnaryOp::Neg => map1(x, y, |v| -v),
        UnaryOp::Abs => map1(x, y, |v| v.abs()),
        UnaryOp::Relu => map1(x, y, |v| if v > T::ZERO { v } else { T::ZERO }),
        UnaryOp::Sqrt => map1(x, y, |v| v.sqrt()),
        UnaryOp::Affine { mul, add } => {
            let (m, a) = (T::from_f64(mul), T::from_f64(add));
            map1(x, y, move |v| m * v + a)
        }
        UnaryOp::Clamp { lo, hi } => {
            let (lo, hi) = (T::from_f64(lo), T::from_f64(hi));
            map1(x, y, move |v| clamp(v, lo, hi))
        }
        UnaryOp::Exp => match (T::slice_f32(x), T::slice_f32_mut(y)) {
            (Some(x), Some(y)) => {
                let run = |x: &[f32], y: &mut [f32]| {
                    super::simd_math::exp_shifted_sum_f32(x, 0.0, y);
                };
                if x.len() < PAR_MIN_ELEMS {
                    run(x, y);
                } else {
                    y.par_chunks_mut(1 << 14)
                        .zip(x.par_chunks(1 << 14))
                        .for_each(|(y, x)| run(x, y));
                }
            }
            _ => map1(x, y, |v| v.exp()),
        },
        other => map1(x, y, move |v| other.apply(v)),
    }
}

/// Reference of [`unary`].
pub fn unary_ref<T: Float>(op: UnaryOp, x: &[T], y: &mut [T]) {
    assert_eq!(x.len(), y.len(), "unary: buffer lengths");
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = op.apply(xi);
    }
}

/// dx[i] = g[i] · f'(x[i]) (the chain rule for an elementwise map).
pub fn unary_backward<T: Float>(op: UnaryOp, x: &[T], y: &[T], g: &[T], dx: &mut [T]) {
    assert!(x.len() == dx.len() && y.len() == dx.len() && g.len() == dx.len());
    match op {
        UnaryOp::Relu => map2(x, g, dx, |v, d| if v > T::ZERO { d } else { T::ZERO }),
        UnaryOp::Neg => map1(g, dx, |d| -d),
        UnaryOp::Affine { mul, .. } => {
            let m = T::from_f64(mul);
            map1(g, dx, move |d| d * m)
        }
        UnaryOp::Exp => map2(y, g, dx, |e, d| d * e),
        UnaryOp::Sigmoid => map2(y, g, dx, |s, d| d * s * (T::ONE - s)),
        UnaryOp::Tanh => map2(y, g, dx, |t, d| d * (T::ONE - t * t)),
        other => map3(x, y, g, dx, move |a, b, d| d * other.derivative(a, b)),
    }
}

/// Reference of [`unary_backward`].
pub fn unary_backward_ref<T: Float>(op: UnaryOp, x: &[T], y: &[T], g: &[T], dx: &mut [T]) {
    assert!(x.len() == dx.len() && y.len() == dx.len() && g.len() == dx.len());
    for i in 0..dx.len() {
        dx[i] = g[i] * op.derivative(x[i], y[i]);
    }
}

/// A binary elementwise function z = f(a, b) with numpy broadcasting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// max(a, b); on a tie the gradient goes to `a`.
    Maximum,
    /// min(a, b); on a tie the gradient goes to `a`.
    Minimum,
    /// a^b; d/db = a^b ln a is taken as 0 where a <= 0 (undefined there).
    Pow,
}

impl BinaryOp {
    #[inline(always)]
    pub fn apply<T: Float>(self, a: T, b: T) -> T {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Maximum => a.max_nan(b),
            BinaryOp::Minimum => a.min_nan(b),
            BinaryOp::Pow => a.powf(b),
        }
    }

    /// The partial derivatives (∂z/∂a, ∂z/∂b) at (a, b) with z = f(a, b).
    #[inline(always)]
    pub fn partials<T: Float>(self, a: T, b: T, z: T) -> (T, T) {
        match self {
            BinaryOp::Add => (T::ONE, T::ONE),
            BinaryOp::Sub => (T::ONE, -T::ONE),
            BinaryOp::Mul => (b, a),
            BinaryOp::Div => (T::ONE / b, -a / (b * b)),
            BinaryOp::Maximum => {
                if a >= b {
                    (T::ONE, T::ZERO)
                } else {
                    (T::ZERO, T::ONE)
                }
            }
            BinaryOp::Minimum => {
                if a <= b {
                    (T::ONE, T::ZERO)
                } else {
                    (T::ZERO, T::ONE)
                }
            }
            BinaryOp::Pow => {
                let da = b * a.powf(b - T::ONE);
                let db = if a > T::ZERO { z * a.ln() } else { T::ZERO };
                (da, db)
            }
        }
    }
}

/// out = f(a, b) broadcast to `out_dims`.
///
/// Fast paths: same shapes (a vectorised zip), and any broadcast whose last axis is read
/// contiguously or repeated by both inputs (bias rows [B, C] + [C], per-row scales [B, C]·[B, 1],
/// ...): one inner loop per output row, rows in parallel. Other layouts take the reference walk.
pub fn binary<T: Float>(
    op: BinaryOp,
    a: &[T],
    a_dims: &[usize],
    b: &[T],
    b_dims: &[usize],
    out: &mut [T],
    out_dims: &[usize],
) {
    assert_eq!(
        out.len(),
        out_dims.iter().product::<usize>(),
        "binary: output length"
    );
    match op {
        BinaryOp::Add => binary_with(a, a_dims, b, b_dims, out, out_dims, |x, y| x + y),
        BinaryOp::Sub => binary_with(a, a_dims, b, b_dims, out, out_dims, |x, y| x - y),
        BinaryOp::Mul => binary_with(a, a_dims, b, b_dims, out, out_dims, |x, y| x * y),
        BinaryOp::Div => binary_with(a, a_dims, b, b_dims, out, out_dims, |x, y| x / y),
        other => binary_with(a, a_dims, b, b_dims, out, out_dims, move |x, y| {
            other.apply(x, y)
        }),
    }
}

fn binary_with<T: Float>(
    a: &[T],
    a_dims: &[usize],
    b: &[T],
    b_dims: &[usize],
    out: &mut [T],
    out_dims: &[usize],
    f: impl Fn(T, T) -> T + Sync + Copy,
) {
    if a_dims == b_dims {
        return map2(a, b, out, f);
    }
    let sa = broadcast_strides(a_dims, out_dims);
    let sb = broadcast_strides(b_dims, out_dims);
    let rank = out_dims.len();
    let cols = out_dims.last().copied().unwrap_or(1);
    let (la, lb) = (
        sa.last().copied().unwrap_or(0),
        sb.last().copied().unwrap_or(0),
    );
    if rank == 0 || cols == 0 || la > 1 || lb > 1 {
        return binary_walk(a, b, out, out_dims, &sa, &sb, f);
    }
    // Row r of the output: its multi-index over the leading axes gives the inputs' offsets.
    let lead = &out_dims[..rank - 1];
    let row_offsets = |mut r: usize| {
        let (mut oa, mut ob) = (0, 0);
        for axis in (0..lead.len()).rev() {
            let i = r % lead[axis];
            r /= lead[axis];
            oa += i * sa[axis];
            ob += i * sb[axis];
        }
        (oa, ob)
    };
    super::parallel::for_rows(out, cols, |r, row| {
        let (oa, ob) = row_offsets(r);
        match (la, lb) {
            (1, 1) => {
                for ((o, &x), &y) in row.iter_mut().zip(&a[oa..oa + cols]).zip(&b[ob..ob + cols]) {
                    *o = f(x, y);
                }
            }
            (1, _) => {
                let y = b[ob];
                for (o, &x) in row.iter_mut().zip(&a[oa..oa + cols]) {
                    *o = f(x, y);
                }
            }
            (_, 1) => {
                let x = a[oa];
                for (o, &y) in row.iter_mut().zip(&b[ob..ob + cols]) {
                    *o = f(x, y);
                }
            }
            _ => row.fill(f(a[oa], b[ob])),
        }
    });
}

fn binary_walk<T: Float>(
    a: &[T],
    b: &[T],
    out: &mut [T],
    out_dims: &[usize],
    sa: &[usize],
    sb: &[usize],
    f: impl Fn(T, T) -> T,
) {
    for (o, [ia, ib, _]) in out
        .iter_mut()
        .zip(BroadcastWalk::new(out_dims, [sa, sb, &[]]))
    {
        *o = f(a[ia], b[ib]);
    }
}

/// Reference of [`binary`]: the broadcast walk, one element at a time.
pub fn binary_ref<T: Float>(
    op: BinaryOp,
    a: &[T],
    a_dims: &[usize],
    b: &[T],
    b_dims: &[usize],
    out: &mut [T],
    out_dims: &[usize],
) {
    if a_dims == b_dims {
        // Same shape: a straight zip (the common case; no index arithmetic).
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = op.apply(x, y);
        }
        return;
    }
    let sa = broadcast_strides(a_dims, out_dims);
    let sb = broadcast_strides(b_dims, out_dims);
    for (o, [ia, ib, _]) in out
        .iter_mut()
        .zip(BroadcastWalk::new(out_dims, [&sa, &sb, &[]]))
    {
        *o = op.apply(a[ia], b[ib]);
    }
}

/// Gradients of z = f(a, b) *in the output's (broadcast) shape*: ga = g·∂z/∂a, gb = g·∂z/∂b.
/// Summing them back down to the input shapes is the engine's job (one place for it).
#[allow(clippy::too_many_arguments)]
pub fn binary_backward<T: Float>(
    op: BinaryOp,
    a: &[T],
    a_dims: &[usize],
    b: &[T],
    b_dims: &[usize],
    g: &[T],
    out_dims: &[usize],
    mut ga: Option<&mut [T]>,
    mut gb: Option<&mut [T]>,
) {
    let sa = broadcast_strides(a_dims, out_dims);
    let sb = broadcast_strides(b_dims, out_dims);
    let walk = BroadcastWalk::new(out_dims, [&sa, &sb, &[]]);
    for (i, [ia, ib, _]) in walk.enumerate() {
        let (x, y) = (a[ia], b[ib]);
        let (da, db) = op.partials(x, y, op.apply(x, y));
        if let Some(ga) = ga.as_deref_mut() {
            ga[i] = g[i] * da;
        }
        if let Some(gb) = gb.as_deref_mut() {
            gb[i] = g[i] * db;
        }
    }
}

/// A comparison; its result is 1 where true and 0 where false, in the input's float type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    #[inline(always)]
    pub fn holds<T: Float>(self, a: T, b: T) -> bool {
        match self {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            CompareOp::Lt => a < b,
            CompareOp::Le => a <= b,
            CompareOp::Gt => a > b,
            CompareOp::Ge => a >= b,
        }
    }
}

/// out = [a op b] (1 or 0), broadcast.
pub fn compare<T: Float>(
    op: CompareOp,
    a: &[T],
    a_dims: &[usize],
    b: &[T],
    b_dims: &[usize],
    out: &mut [T],
    out_dims: &[usize],
) {
    let sa = broadcast_strides(a_dims, out_dims);
    let sb = broadcast_strides(b_dims, out_dims);
    for (o, [ia, ib, _]) in out
        .iter_mut()
        .zip(BroadcastWalk::new(out_dims, [&sa, &sb, &[]]))
    {
        *o = if op.holds(a[ia], b[ib]) {
            T::ONE
        } else {
            T::ZERO
        };
    }
}

/// out = cond != 0 ? a : b, all three broadcast to `out_dims`.
#[allow(clippy::too_many_arguments)]
pub fn where_select<T: Float>(
    cond: &[T],
    cond_dims: &[usize],
    a: &[T],
    a_dims: &[usize],
    b: &[T],
    b_dims: &[usize],
    out: &mut [T],
    out_dims: &[usize],
) {
    let sc = broadcast_strides(cond_dims, out_dims);
    let sa = broadcast_strides(a_dims, out_dims);
    let sb = broadcast_strides(b_dims, out_dims);
    for (o, [ic, ia, ib]) in out
        .iter_mut()
        .zip(BroadcastWalk::new(out_dims, [&sc, &sa, &sb]))
    {
        *o = if cond[ic] != T::ZERO { a[ia] } else { b[ib] };
    }
}

/// Gradients of `where` in the output's shape: ga = g where cond, gb = g elsewhere.
pub fn where_backward<T: Float>(
    cond: &[T],
    cond_dims: &[usize],
    g: &[T],
    out_dims: &[usize],
    ga: &mut [T],
    gb: &mut [T],
) {
    let sc = broadcast_strides(cond_dims, out_dims);
    for (i, [ic, _, _]) in BroadcastWalk::new(out_dims, [&sc, &[], &[]]).enumerate() {
        let take_a = cond[ic] != T::ZERO;
        ga[i] = if take_a { g[i] } else { T::ZERO };
        gb[i] = if take_a { T::ZERO } else { g[i] };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        assert_eq!(UnaryOp::Sigmoid.apply(-1000.0f64), 0.0);
        assert_eq!(UnaryOp::Sigmoid.apply(1000.0f64), 1.0);
    }

    #[test]
    fn acos_clamps_domain_and_guards_derivative() {
        assert_eq!(UnaryOp::Acos.apply(1.0000001f32), 0.0);
        let d: f64 = UnaryOp::Acos.derivative(1.0, 0.0);
        assert!(d.is_finite() && d < 0.0);
    }

    #[test]
    fn fast_elementwise_matches_reference() {
        use crate::cpu::testutil::{pool, Report, Rng};
        let mut rng = Rng(41);
        let mut rep = Report::new("unary/binary f32 fast vs ref", 1e-6);
        let ops = [
            UnaryOp::Neg,
            UnaryOp::Exp,
            UnaryOp::Log,
            UnaryOp::Sqrt,
            UnaryOp::Abs,
            UnaryOp::Relu,
            UnaryOp::Sigmoid,
            UnaryOp::Tanh,
            UnaryOp::Acos,
            UnaryOp::Powf(2.5),
            UnaryOp::Affine {
                mul: -2.0,
                add: 0.5,
            },
            UnaryOp::Clamp { lo: -0.3, hi: 0.4 },
        ];
        for n in [1usize, 7, 33, 1031, 40_001] {
            let x: Vec<f32> = rng.vec::<f32>(n).iter().map(|v| 3.0 * v).collect();
            let g: Vec<f32> = rng.vec(n);
            for op in ops {
                let (mut y, mut y_r) = (vec![0.0; n], vec![0.0; n]);
                let (mut d, mut d_r) = (vec![0.0; n], vec![0.0; n]);
                pool(2).install(|| unary(op, &x, &mut y));
                unary_ref(op, &x, &mut y_r);
                pool(2).install(|| unary_backward(op, &x, &y_r, &g, &mut d));
                unary_backward_ref(op, &x, &y_r, &g, &mut d_r);
                rep.compare(
                    &format!("{op:?} n={n}"),
                    &[y, d].concat(),
                    &[y_r, d_r].concat(),
                );
            }
        }
        for (ad, bd, od) in [
            (vec![5, 7], vec![7], vec![5, 7]),
            (vec![5, 1], vec![1, 33], vec![5, 33]),
            (vec![3, 1, 1031], vec![3, 2, 1], vec![3, 2, 1031]),
            (vec![2, 3, 4], vec![2, 3, 4], vec![2, 3, 4]),
            (vec![4, 1], vec![4, 3], vec![4, 3]),
            (vec![1], vec![6, 2], vec![6, 2]),
            (vec![], vec![3], vec![3]),
            (vec![2, 3, 1], vec![3, 8], vec![2, 3, 8]),
        ] {
            let a: Vec<f32> = rng.vec(ad.iter().product());
            let b: Vec<f32> = rng.vec(bd.iter().product());
            let len = od.iter().product();
            for op in [
                BinaryOp::Add,
                BinaryOp::Sub,
                BinaryOp::Mul,
                BinaryOp::Div,
                BinaryOp::Maximum,
                BinaryOp::Pow,
            ] {
                let (mut o, mut o_r) = (vec![0.0; len], vec![0.0; len]);
                pool(2).install(|| binary(op, &a, &ad, &b, &bd, &mut o, &od));
                binary_ref(op, &a, &ad, &b, &bd, &mut o_r, &od);
                rep.compare(&format!("{op:?} {ad:?} {bd:?}"), &o, &o_r);
            }
        }
        rep.finish();
    }

    #[test]
    fn broadcast_add() {
        let a = [1.0f32, 2.0];
        let b = [10.0f32, 20.0, 30.0];
        let mut out = [0.0f32; 6];
        binary(BinaryOp::Add, &a, &[2, 1], &b, &[3], &mut out, &[2, 3]);
        assert_eq!(out, [11.0, 21.0, 31.0, 12.0, 22.0, 32.0]);
    }
}
