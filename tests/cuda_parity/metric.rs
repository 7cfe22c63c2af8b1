//! Parity cases: the metric-learning kernels, whose references are the ops crate's functions
//! (evaluated in f64 on the same inputs).

use anglegrad_engine::{Tape, Tensor};
use anglegrad_kernels::cuda::launch::metric::{self as gpu, Fallback, Margin};
use anglegrad_ops::metric::margin::{Fallback as OpsFallback, MarginFn};

use super::support::*;

fn tensor(v: Vec<f64>, dims: &[usize]) -> Tensor {
    Tensor::from_vec(v, dims.to_vec()).expect("reference tensor")
}

pub fn pairwise<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    for (n, m, d) in [
        (1, 1, 1),
        (7, 33, 7),
        (33, 7, 1031),
        (1031, 33, 3),
        (17, 65, 16),
    ] {
        let a: Vec<T> = rng.vec(n * d, 1.0);
        let mut b: Vec<T> = rng.vec(m * d, 1.0);
        // Row 0 of b equals row 0 of a: that distance must be exactly 0.
        b[..d].copy_from_slice(&a[..d]);
        let g: Vec<T> = rng.vec(n * m, 1.0);
        let tape = Tape::new();
        let ta = tape.watch(&tensor(to_f64(&a), &[n, d]));
        let tb = tape.watch(&tensor(to_f64(&b), &[m, d]));
        let dist = anglegrad_ops::metric::distance::pairwise_sq_dist(&ta, &tb).expect("ops");
        let want = dist.to_vec_f64();
        let grads = tape
            .backward_with_seed(&dist, &tensor(to_f64(&g), &[n, m]))
            .expect("ops backward");
        let da = grads.wrt(&ta).expect("da").to_vec_f64();
        let db = grads.wrt(&tb).expect("db").to_vec_f64();
        let (a_d, b_d, g_d) = (dev.htod(&a)?, dev.htod(&b)?, dev.htod(&g)?);
        let mut out = nan_buffer(dev, n * m)?;
        gpu::pairwise_sq_dist(dev, &a_d, &b_d, n, m, d, &mut out)?;
        let got = dev.dtoh(&out)?;
        let tag = format!("{n}x{m}x{d}");
        check.compare(&format!("D² {tag}"), &got, &from_f64::<T>(&want));
        check.compare(
            &format!("D² of identical rows {tag}"),
            &got[..1],
            &[T::ZERO],
        );
        let (mut da_d, mut db_d) = (nan_buffer(dev, n * d)?, nan_buffer(dev, m * d)?);
        gpu::pairwise_sq_dist_backward(
            dev,
            &a_d,
            &b_d,
            &g_d,
            n,
            m,
            d,
            Some(&mut da_d),
            Some(&mut db_d),
        )?;
        // The gradients sum over m (or n) terms: compare them scaled by that length.
        let scale = |v: Vec<f64>, k: usize| v.iter().map(|x| x / k as f64).collect::<Vec<_>>();
        let got_da = scale(to_f64(&dev.dtoh(&da_d)?), m);
        let got_db = scale(to_f64(&dev.dtoh(&db_d)?), n);
        check.compare(&format!("dD²/da {tag} (/M)"), &got_da, &scale(da, m));
        check.compare(&format!("dD²/db {tag} (/N)"), &got_db, &scale(db, n));
    }
    Ok(())
}

pub fn l2_normalize<T: CudaFloat>(
    dev: &CudaDevice,
    rng: &mut Rng,
    check: &mut Check,
) -> Result<()> {
    let eps = 1e-12;
    for (o, l, i) in [
        (1, 1, 1),
        (7, 7, 1),
        (1031, 33, 1),
        (3, 512, 1),
        (5, 33, 7),
        (2, 1031, 3),
    ] {
        let x: Vec<T> = rng.vec(o * l * i, 1.0);
        let g: Vec<T> = rng.vec(o * l * i, 1.0);
        let tape = Tape::new();
        let tx = tape.watch(&tensor(to_f64(&x), &[o, l, i]));
        let y = anglegrad_ops::l2_normalize(&tx, 1, eps).expect("ops");
        let want = y.to_vec_f64();
        let grads = tape
            .backward_with_seed(&y, &tensor(to_f64(&g), &[o, l, i]))
            .expect("ops backward");
        let dx = grads.wrt(&tx).expect("dx").to_vec_f64();
        let x_d = dev.htod(&x)?;
        let (mut y_d, mut dx_d) = (nan_buffer(dev, x.len())?, nan_buffer(dev, x.len())?);
        gpu::l2_normalize(dev, &x_d, o, l, i, eps, &mut y_d)?;
        gpu::l2_normalize_backward(dev, &x_d, &dev.htod(&g)?, o, l, i, eps, &mut dx_d)?;
        let tag = format!("{o}x{l}x{i}");
        check.compare(
            &format!("nrm {tag}"),
            &dev.dtoh(&y_d)?,
            &from_f64::<T>(&want),
        );
        check.compare(
            &format!("nrm bwd {tag}"),
            &dev.dtoh(&dx_d)?,
            &from_f64::<T>(&dx),
        );
    }
    Ok(())
}

pub fn topk<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    let views = [
        (1, 1, 1, 1),
        (7, 7, 1, 3),
        (1, 33, 7, 5),
        (3, 1031, 1, 7),
        (2, 1031, 3, 1),
        (5, 7, 1, 7),
    ];
    for (case, (o, l, i, k)) in views.into_iter().enumerate() {
        // A coarse grid makes ties common; one view gets NaNs (sorted as the largest).
        let mut x: Vec<T> = (0..o * l * i)
            .map(|_| T::from_f64((rng.uniform() * 8.0).round() / 8.0))
            .collect();
        if case == 3 {
            x[5] = T::from_f64(f64::NAN);
            x[700] = T::from_f64(f64::NAN);
        }
        for largest in [true, false] {
            let t = tensor(to_f64(&x), &[o, l, i]);
            let (vals, idx) = anglegrad_ops::metric::topk::topk(&t, k, 1, largest).expect("ops");
            let mut v_d = nan_buffer(dev, o * k * i)?;
            let mut i_d = dev.alloc::<usize>(o * k * i)?;
            gpu::topk(dev, &dev.htod(&x)?, o, l, i, k, largest, &mut v_d, &mut i_d)?;
            let tag = format!("{o}x{l}x{i} k={k} largest={largest}");
            check.compare(
                &format!("topk values {tag}"),
                &dev.dtoh(&v_d)?,
                &from_f64::<T>(&vals.to_vec_f64()),
            );
            check.same_indices(&format!("topk indices {tag}"), &dev.dtoh(&i_d)?, &idx);
        }
    }
    Ok(())
}

/// Every variant of MarginFn, with the kernel-side mirror.
fn margins() -> Vec<(MarginFn, Margin)> {
    let fb = [
        (OpsFallback::Threshold, Fallback::Threshold),
        (OpsFallback::EasyMargin, Fallback::EasyMargin),
        (OpsFallback::None, Fallback::None),
    ];
    let mut v = vec![
        (MarginFn::Additive { m: 0.35 }, Margin::Additive { m: 0.35 }),
        (
            MarginFn::AngularAcos { m: 0.5 },
            Margin::AngularAcos { m: 0.5 },
        ),
        (
            MarginFn::Combined {
                m1: 1.0,
                m2: 0.3,
                m3: 0.2,
            },
            Margin::Combined {
                m1: 1.0,
                m2: 0.3,
                m3: 0.2,
            },
        ),
        (
            MarginFn::Combined {
                m1: 0.9,
                m2: 0.4,
                m3: 0.15,
            },
            Margin::Combined {
                m1: 0.9,
                m2: 0.4,
                m3: 0.15,
            },
        ),
    ];
    for (o, g) in fb {
        v.push((
            MarginFn::Angular {
                m: 0.5,
                fallback: o,
            },
            Margin::Angular {
                m: 0.5,
                fallback: g,
            },
        ));
    }
    for m in [1, 2, 3, 4] {
        v.push((MarginFn::Multiplicative { m }, Margin::Multiplicative { m }));
    }
    v
}

pub fn margin<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    for n in SIZES {
        let mut c: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
        // The edges: c = ±1, rounding past 1, c = 0, ArcFace's switch at cos(π - m).
        let edges = [
            1.0,
            -1.0,
            1.0 + 1e-7,
            0.0,
            (std::f64::consts::PI - 0.5).cos(),
            0.999_999,
        ];
        for (slot, e) in c.iter_mut().zip(edges) {
            *slot = e;
        }
        let c: Vec<T> = from_f64(&c);
        let g: Vec<T> = rng.vec(n, 1.0);
        let (c_d, g_d) = (dev.htod(&c)?, dev.htod(&g)?);
        for (ops_fn, kernel) in margins() {
            let want: Vec<T> = c
                .iter()
                .map(|v| T::from_f64(ops_fn.value(v.to_f64())))
                .collect();
            let dwant: Vec<T> = c
                .iter()
                .zip(&g)
                .map(|(v, &gi)| gi * T::from_f64(ops_fn.derivative(v.to_f64())))
                .collect();
            let (mut out, mut dc) = (nan_buffer(dev, n)?, nan_buffer(dev, n)?);
            gpu::margin(dev, kernel, &c_d, &mut out)?;
            gpu::margin_backward(dev, kernel, &c_d, &g_d, &mut dc)?;
            check.compare(&format!("{ops_fn:?} n={n} φ"), &dev.dtoh(&out)?, &want);
            check.compare(&format!("{ops_fn:?} n={n} dφ"), &dev.dtoh(&dc)?, &dwant);
        }
    }
    Ok(())
}
