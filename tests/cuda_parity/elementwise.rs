//! Parity cases: elementwise maps, comparisons, where, data movement.

use anglegrad_kernels::cpu::elementwise::{self as cpu, BinaryOp, CompareOp, UnaryOp};
use anglegrad_kernels::cpu::movement as cpu_mv;
use anglegrad_kernels::cuda::launch::elementwise as gpu;
use anglegrad_kernels::cuda::launch::movement as gpu_mv;

use super::support::*;

const UNARY: [UnaryOp; 14] = [
    UnaryOp::Neg,
    UnaryOp::Exp,
    UnaryOp::Log,
    UnaryOp::Sqrt,
    UnaryOp::Abs,
    UnaryOp::Relu,
    UnaryOp::Sigmoid,
    UnaryOp::Tanh,
    UnaryOp::Sin,
    UnaryOp::Cos,
    UnaryOp::Acos,
    UnaryOp::Powf(2.5),
    UnaryOp::Affine {
        mul: -2.0,
        add: 0.5,
    },
    UnaryOp::Clamp { lo: -0.3, hi: 0.4 },
];

/// Inputs inside each op's domain, away from its kinks: log, sqrt and powf get positive
/// inputs, acos stays in [-1, 1] (its clamp is exercised by 1 + 1e-7 in one element).
fn domain<T: Float>(op: UnaryOp, rng: &mut Rng, n: usize) -> Vec<T> {
    match op {
        UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Powf(_) => (0..n)
            .map(|_| T::from_f64(3.0 * rng.uniform().abs() + 0.05))
            .collect(),
        UnaryOp::Acos => {
            let mut v: Vec<T> = rng.vec(n, 0.999);
            v[0] = T::from_f64(1.0 + 1e-7);
            v
        }
        _ => rng.vec(n, 4.0),
    }
}

pub fn unary<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    for n in SIZES {
        for op in UNARY {
            let x = domain::<T>(op, rng, n);
            let g: Vec<T> = rng.vec(n, 1.0);
            let (mut y, mut dx) = (vec![T::ZERO; n], vec![T::ZERO; n]);
            cpu::unary_ref(op, &x, &mut y);
            cpu::unary_backward_ref(op, &x, &y, &g, &mut dx);
            let (xd, yd_cpu, gd) = (dev.htod(&x)?, dev.htod(&y)?, dev.htod(&g)?);
            let (mut yd, mut dxd) = (nan_buffer(dev, n)?, nan_buffer(dev, n)?);
            gpu::unary(dev, op, &xd, &mut yd)?;
            // The backward is fed the CPU's y, so it is checked on its own.
            gpu::unary_backward(dev, op, &xd, &yd_cpu, &gd, &mut dxd)?;
            check.compare(&format!("{op:?} n={n} fwd"), &dev.dtoh(&yd)?, &y);
            check.compare(&format!("{op:?} n={n} bwd"), &dev.dtoh(&dxd)?, &dx);
        }
    }
    Ok(())
}

/// (a dims, b dims, out dims): same shapes, bias rows, outer products, broadcasts on both sides
/// across odd sizes, a scalar, rank 4.
type Bcast = (&'static [usize], &'static [usize], &'static [usize]);
const BROADCASTS: [Bcast; 8] = [
    (&[1], &[1], &[1]),
    (&[1031], &[1031], &[1031]),
    (&[33, 7], &[7], &[33, 7]),
    (&[33, 1], &[1, 7], &[33, 7]),
    (&[3, 1, 1031], &[3, 7, 1], &[3, 7, 1031]),
    (&[], &[1031], &[1031]),
    (&[2, 3, 1, 5], &[3, 7, 1], &[2, 3, 7, 5]),
    (&[7, 33], &[1, 1], &[7, 33]),
];

const BINARY: [BinaryOp; 7] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Maximum,
    BinaryOp::Minimum,
    BinaryOp::Pow,
];

fn len(d: &[usize]) -> usize {
    d.iter().product()
}

pub fn binary<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    for (ad, bd, od) in BROADCASTS {
        for op in BINARY {
            // Pow: a > 0; Div: |b| >= 0.5.
            let a: Vec<T> = rng
                .vec::<T>(len(ad), 2.0)
                .into_iter()
                .map(|v| {
                    if op == BinaryOp::Pow {
                        v.abs() + T::from_f64(0.1)
                    } else {
                        v
                    }
                })
                .collect();
            let b: Vec<T> = rng
                .vec::<T>(len(bd), 2.0)
                .into_iter()
                .map(|v| {
                    if op == BinaryOp::Div {
                        v + T::from_f64(if v >= T::ZERO { 0.5 } else { -0.5 })
                    } else {
                        v
                    }
                })
                .collect();
            let n = len(od);
            let g: Vec<T> = rng.vec(n, 1.0);
            let mut z = vec![T::ZERO; n];
            cpu::binary_ref(op, &a, ad, &b, bd, &mut z, od);
            let (mut ga, mut gb) = (vec![T::ZERO; n], vec![T::ZERO; n]);
            cpu::binary_backward(op, &a, ad, &b, bd, &g, od, Some(&mut ga), Some(&mut gb));
            let (a_d, b_d, g_d) = (dev.htod(&a)?, dev.htod(&b)?, dev.htod(&g)?);
            let mut z_d = nan_buffer(dev, n)?;
            gpu::binary(dev, op, &a_d, ad, &b_d, bd, &mut z_d, od)?;
            let (mut ga_d, mut gb_d) = (nan_buffer(dev, n)?, nan_buffer(dev, n)?);
            gpu::binary_backward(
                dev,
                op,
                &a_d,
                ad,
                &b_d,
                bd,
                &g_d,
                od,
                Some(&mut ga_d),
                Some(&mut gb_d),
            )?;
            let case = format!("{op:?} {ad:?} {bd:?}");
            check.compare(&format!("{case} fwd"), &dev.dtoh(&z_d)?, &z);
            check.compare(&format!("{case} ga"), &dev.dtoh(&ga_d)?, &ga);
            check.compare(&format!("{case} gb"), &dev.dtoh(&gb_d)?, &gb);
            // Only one gradient asked for: the other pointer is null and must not be written.
            let mut ga_only = nan_buffer(dev, n)?;
            gpu::binary_backward(
                dev,
                op,
                &a_d,
                ad,
                &b_d,
                bd,
                &g_d,
                od,
                Some(&mut ga_only),
                None,
            )?;
            check.compare(&format!("{case} ga alone"), &dev.dtoh(&ga_only)?, &ga);
        }
    }
    Ok(())
}

/// Values on a coarse grid, so that ties (a == b) are common.
fn coarse<T: Float>(rng: &mut Rng, n: usize) -> Vec<T> {
    (0..n)
        .map(|_| T::from_f64((rng.uniform() * 2.0).round() / 2.0))
        .collect()
}

pub fn compare_where<T: CudaFloat>(
    dev: &CudaDevice,
    rng: &mut Rng,
    check: &mut Check,
) -> Result<()> {
    let ops = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Gt,
        CompareOp::Ge,
    ];
    for (ad, bd, od) in BROADCASTS {
        let (a, b): (Vec<T>, Vec<T>) = (coarse(rng, len(ad)), coarse(rng, len(bd)));
        let n = len(od);
        let (a_d, b_d) = (dev.htod(&a)?, dev.htod(&b)?);
        for op in ops {
            let mut want = vec![T::ZERO; n];
            cpu::compare(op, &a, ad, &b, bd, &mut want, od);
            let mut got = nan_buffer(dev, n)?;
            gpu::compare(dev, op, &a_d, ad, &b_d, bd, &mut got, od)?;
            check.compare(&format!("{op:?} {ad:?} {bd:?}"), &dev.dtoh(&got)?, &want);
        }
        // where(cond, a, b) with cond shaped like a, and its backward.
        let cond: Vec<T> = a
            .iter()
            .map(|&v| if v > T::ZERO { T::ONE } else { T::ZERO })
            .collect();
        let cond_d = dev.htod(&cond)?;
        let mut want = vec![T::ZERO; n];
        cpu::where_select(&cond, ad, &a, ad, &b, bd, &mut want, od);
        let mut got = nan_buffer(dev, n)?;
        gpu::where_select(dev, &cond_d, ad, &a_d, ad, &b_d, bd, &mut got, od)?;
        check.compare(&format!("where {ad:?} {bd:?}"), &dev.dtoh(&got)?, &want);
        let g: Vec<T> = rng.vec(n, 1.0);
        let (mut ga, mut gb) = (vec![T::ZERO; n], vec![T::ZERO; n]);
        cpu::where_backward(&cond, ad, &g, od, &mut ga, &mut gb);
        let (mut ga_d, mut gb_d) = (nan_buffer(dev, n)?, nan_buffer(dev, n)?);
        gpu::where_backward(dev, &cond_d, ad, &dev.htod(&g)?, od, &mut ga_d, &mut gb_d)?;
        check.compare(&format!("where bwd a {ad:?}"), &dev.dtoh(&ga_d)?, &ga);
        check.compare(&format!("where bwd b {ad:?}"), &dev.dtoh(&gb_d)?, &gb);
    }
    Ok(())
}

/// (outer, len, inner) views used by the movement and scatter cases.
const VIEWS: [(usize, usize, usize); 5] =
    [(1, 1, 1), (7, 7, 1), (1, 33, 7), (3, 1031, 1), (33, 7, 33)];

pub fn movement<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    let perms: [(&[usize], &[usize]); 5] = [
        (&[1031], &[0]),
        (&[7, 33, 3], &[2, 0, 1]),
        (&[33, 1031], &[1, 0]),
        (&[2, 3, 5, 7], &[3, 1, 0, 2]),
        (&[1, 7, 1], &[2, 1, 0]),
    ];
    for (dims, perm) in perms {
        let x: Vec<T> = rng.vec(len(dims), 1.0);
        let mut want = vec![T::ZERO; x.len()];
        cpu_mv::permute(&x, dims, perm, &mut want);
        let mut got = nan_buffer(dev, x.len())?;
        gpu_mv::permute(dev, &dev.htod(&x)?, dims, perm, &mut got)?;
        check.compare(
            &format!("permute {dims:?} {perm:?}"),
            &dev.dtoh(&got)?,
            &want,
        );
    }
    for (outer, l, inner) in VIEWS {
        let x: Vec<T> = rng.vec(outer * l * inner, 1.0);
        let x_d = dev.htod(&x)?;
        // narrow and its backward: a slice in the middle (or the whole axis when l = 1).
        let (start, out_len) = if l == 1 {
            (0, 1)
        } else {
            (l / 3, l - l / 3 - 1)
        };
        let mut want = vec![T::ZERO; outer * out_len * inner];
        cpu_mv::narrow(&x, outer, l, inner, start, out_len, &mut want);
        let mut got = nan_buffer(dev, want.len())?;
        gpu_mv::narrow(dev, &x_d, outer, l, inner, start, out_len, &mut got)?;
        check.compare(
            &format!("narrow {outer}x{l}x{inner}"),
            &dev.dtoh(&got)?,
            &want,
        );
        let mut dx = vec![T::ZERO; x.len()];
        cpu_mv::narrow_backward(&want, outer, l, inner, start, out_len, &mut dx);
        let mut dx_d = nan_buffer(dev, x.len())?;
        gpu_mv::narrow_backward(dev, &got, outer, l, inner, start, out_len, &mut dx_d)?;
        check.compare(
            &format!("narrow bwd {outer}x{l}x{inner}"),
            &dev.dtoh(&dx_d)?,
            &dx,
        );
        // index_select with repeated indices; gather along the axis.
        let idx: Vec<usize> = (0..l + 2).map(|_| rng.below(l)).collect();
        let mut want = vec![T::ZERO; outer * idx.len() * inner];
        cpu_mv::index_select(&x, outer, l, inner, &idx, &mut want);
        let mut got = nan_buffer(dev, want.len())?;
        gpu_mv::index_select(dev, &x_d, outer, l, inner, &dev.htod(&idx)?, &mut got)?;
        check.compare(
            &format!("index_select {outer}x{l}x{inner}"),
            &dev.dtoh(&got)?,
            &want,
        );
        let n = l + 1;
        let index: Vec<usize> = (0..outer * n * inner).map(|_| rng.below(l)).collect();
        let mut want = vec![T::ZERO; index.len()];
        cpu_mv::gather(&x, outer, l, inner, &index, n, &mut want);
        let mut got = nan_buffer(dev, want.len())?;
        gpu_mv::gather(dev, &x_d, outer, l, inner, &dev.htod(&index)?, n, &mut got)?;
        check.compare(
            &format!("gather {outer}x{l}x{inner}"),
            &dev.dtoh(&got)?,
            &want,
        );
    }
    Ok(())
}

pub fn scatter<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    for (outer, l, inner) in VIEWS {
        // Many more sources than slots: every slot receives several atomic adds.
        let idx: Vec<usize> = (0..3 * l + 2).map(|_| rng.below(l)).collect();
        let g: Vec<T> = rng.vec(outer * idx.len() * inner, 1.0);
        let base: Vec<T> = rng.vec(outer * l * inner, 1.0);
        let mut want = base.clone();
        cpu_mv::index_add(&g, outer, l, inner, &idx, &mut want);
        let mut got = dev.htod(&base)?;
        gpu_mv::index_add(
            dev,
            &dev.htod(&g)?,
            outer,
            l,
            inner,
            &dev.htod(&idx)?,
            &mut got,
        )?;
        check.compare(
            &format!("index_add {outer}x{l}x{inner}"),
            &dev.dtoh(&got)?,
            &want,
        );
        let n = 3 * l;
        let index: Vec<usize> = (0..outer * n * inner).map(|_| rng.below(l)).collect();
        let src: Vec<T> = rng.vec(index.len(), 1.0);
        let mut want = base.clone();
        cpu_mv::scatter_add(&mut want, outer, l, inner, &index, n, &src);
        let mut got = dev.htod(&base)?;
        gpu_mv::scatter_add(
            dev,
            &mut got,
            outer,
            l,
            inner,
            &dev.htod(&index)?,
            n,
            &dev.htod(&src)?,
        )?;
        check.compare(
            &format!("scatter_add {outer}x{l}x{inner}"),
            &dev.dtoh(&got)?,
            &want,
        );
    }
    Ok(())
}
