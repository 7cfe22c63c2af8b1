//! Parity cases: pooling, batch norm, PReLU, dropout.

use anglegrad_kernels::cpu::batchnorm::{self as cpu_bn, BatchNormShape};
use anglegrad_kernels::cpu::dropout as cpu_drop;
use anglegrad_kernels::cpu::pool::{self as cpu_pool, Pool2dParams};
use anglegrad_kernels::cpu::prelu as cpu_prelu;
use anglegrad_kernels::cuda::launch::{norm as gpu_norm, pool as gpu_pool};

use super::support::*;

fn pool_cases() -> Vec<Pool2dParams> {
    let sq = Pool2dParams::square;
    let mut rect = sq(2, 3, 5, 3, 2, 1);
    (rect.h, rect.w, rect.kh, rect.stride) = (7, 1031, 2, (1, 3));
    vec![
        sq(1, 1, 1, 1, 1, 0),
        sq(2, 3, 7, 3, 2, 1),
        sq(1, 2, 33, 2, 2, 0),
        sq(2, 5, 8, 3, 1, 1),
        sq(3, 2, 9, 4, 3, 2),
        sq(2, 7, 33, 3, 2, 1),
        rect,
    ]
}

pub fn pool<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    for p in pool_cases() {
        let mut x: Vec<T> = rng.vec(p.x_len(), 1.0);
        let tie = p.x_len() / 3;
        x[p.x_len() / 2] = x[tie]; // a tie somewhere
        let dy: Vec<T> = rng.vec(p.y_len(), 1.0);
        let tag = format!("{p:?}");
        let (x_d, dy_d) = (dev.htod(&x)?, dev.htod(&dy)?);
        // Max: values and argmax exactly; the backward adds in the CPU's order, so exactly too.
        let (mut y, mut am) = (vec![T::ZERO; p.y_len()], vec![0usize; p.y_len()]);
        cpu_pool::max_pool2d_forward_ref(&p, &x, &mut y, &mut am);
        let mut y_d = nan_buffer(dev, p.y_len())?;
        let mut am_d = dev.alloc::<usize>(p.y_len())?;
        gpu_pool::max_pool2d_forward(dev, &p, &x_d, &mut y_d, &mut am_d)?;
        check.compare(&format!("max pool {tag}"), &dev.dtoh(&y_d)?, &y);
        check.same_indices(&format!("max pool argmax {tag}"), &dev.dtoh(&am_d)?, &am);
        let mut dx = vec![T::ZERO; p.x_len()];
        cpu_pool::max_pool2d_backward(&p, &dy, &am, &mut dx);
        let mut dx_d = nan_buffer(dev, p.x_len())?;
        gpu_pool::max_pool2d_backward(dev, &p, &dy_d, &dev.htod(&am)?, &mut dx_d)?;
        check.compare(&format!("max pool bwd {tag}"), &dev.dtoh(&dx_d)?, &dx);
        for include in [true, false] {
            let mut y = vec![T::ZERO; p.y_len()];
            cpu_pool::avg_pool2d_forward_ref(&p, &x, include, &mut y);
            let mut y_d = nan_buffer(dev, p.y_len())?;
            gpu_pool::avg_pool2d_forward(dev, &p, &x_d, include, &mut y_d)?;
            check.compare(
                &format!("avg pool {tag} pad {include}"),
                &dev.dtoh(&y_d)?,
                &y,
            );
            let mut dx = vec![T::ZERO; p.x_len()];
            cpu_pool::avg_pool2d_backward(&p, &dy, include, &mut dx);
            let mut dx_d = nan_buffer(dev, p.x_len())?;
            gpu_pool::avg_pool2d_backward(dev, &p, &dy_d, include, &mut dx_d)?;
            check.compare(
                &format!("avg pool bwd {tag} pad {include}"),
                &dev.dtoh(&dx_d)?,
                &dx,
            );
        }
    }
    for (planes, plane) in [(1, 1), (7, 7), (33, 49), (3, 1031), (1031, 9)] {
        let x: Vec<T> = rng.vec(planes * plane, 1.0);
        let g: Vec<T> = rng.vec(planes, 1.0);
        let mut y = vec![0.0f64; planes];
        cpu_pool::global_avg_pool_forward(&to_f64(&x), planes, plane, &mut y);
        let mut dx = vec![T::ZERO; planes * plane];
        cpu_pool::global_avg_pool_backward(&g, planes, plane, &mut dx);
        let mut y_d = nan_buffer(dev, planes)?;
        gpu_pool::global_avg_pool_forward(dev, &dev.htod(&x)?, planes, plane, &mut y_d)?;
        let mut dx_d = nan_buffer(dev, planes * plane)?;
        gpu_pool::global_avg_pool_backward(dev, &dev.htod(&g)?, planes, plane, &mut dx_d)?;
        check.compare(
            &format!("global avg {planes}x{plane}"),
            &dev.dtoh(&y_d)?,
            &from_f64::<T>(&y),
        );
        check.compare(
            &format!("global avg bwd {planes}x{plane}"),
            &dev.dtoh(&dx_d)?,
            &dx,
        );
    }
    Ok(())
}

pub fn batch_norm<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    let (eps, momentum) = (1e-5, 0.1);
    // M = N·S of at least 5: with two values per channel x̂ = ±1 and dx is pure rounding noise
    // (scaled by a possibly huge invstd), which measures nothing.
    for (n, c, s) in [
        (1, 1, 7),
        (7, 3, 33),
        (5, 33, 1),
        (3, 5, 1031),
        (1031, 2, 1),
        (4, 64, 49),
    ] {
        let sh = BatchNormShape { n, c, s };
        // An offset and a scale per channel, so normalising does something.
        let x: Vec<T> = (0..sh.len())
            .map(|i| T::from_f64(3.0 * rng.uniform() + ((i / s) % c) as f64))
            .collect();
        let dy: Vec<T> = rng.vec(sh.len(), 1.0);
        let gamma: Vec<T> = rng.vec(c, 1.0);
        let beta: Vec<T> = rng.vec(c, 1.0);
        let rm0: Vec<T> = rng.vec(c, 0.5);
        let rv0: Vec<T> = (0..c)
            .map(|_| T::from_f64(1.0 + rng.uniform().abs()))
            .collect();
        let (x64, dy64, g64, b64) = (to_f64(&x), to_f64(&dy), to_f64(&gamma), to_f64(&beta));
        let (x_d, dy_d, g_d, b_d) = (
            dev.htod(&x)?,
            dev.htod(&dy)?,
            dev.htod(&gamma)?,
            dev.htod(&beta)?,
        );
        let tag = format!("{n}x{c}x{s}");
        for affine in [true, false] {
            let (gr, br) = if affine {
                (Some(&g64[..]), Some(&b64[..]))
            } else {
                (None, None)
            };
            let (gd, bd) = if affine {
                (Some(&g_d), Some(&b_d))
            } else {
                (None, None)
            };
            // Training forward (+ running statistics), then its backward, against f64.
            let (mut rm, mut rv) = (to_f64(&rm0), to_f64(&rv0));
            let (mut y, mut mean, mut invstd) = (vec![0.0; sh.len()], vec![0.0; c], vec![0.0; c]);
            cpu_bn::batch_norm_forward_train_ref(
                &sh,
                &x64,
                gr,
                br,
                eps,
                momentum,
                Some((&mut rm, &mut rv)),
                &mut y,
                &mut mean,
                &mut invstd,
            );
            let (mut rm_d, mut rv_d) = (dev.htod(&rm0)?, dev.htod(&rv0)?);
            let mut y_d = nan_buffer(dev, sh.len())?;
            let (mut mean_d, mut invstd_d) = (nan_buffer(dev, c)?, nan_buffer(dev, c)?);
            gpu_norm::batch_norm_forward_train(
                dev,
                &sh,
                &x_d,
                gd,
                bd,
                eps,
                momentum,
                Some((&mut rm_d, &mut rv_d)),
                &mut y_d,
                &mut mean_d,
                &mut invstd_d,
            )?;
            let t = format!("{tag} affine {affine}");
            check.compare(
                &format!("bn train y {t}"),
                &dev.dtoh(&y_d)?,
                &from_f64::<T>(&y),
            );
            check.compare(
                &format!("bn mean {t}"),
                &dev.dtoh(&mean_d)?,
                &from_f64::<T>(&mean),
            );
            check.compare(
                &format!("bn invstd {t}"),
                &dev.dtoh(&invstd_d)?,
                &from_f64::<T>(&invstd),
            );
            check.compare(
                &format!("bn running mean {t}"),
                &dev.dtoh(&rm_d)?,
                &from_f64::<T>(&rm),
            );
            check.compare(
                &format!("bn running var {t}"),
                &dev.dtoh(&rv_d)?,
                &from_f64::<T>(&rv),
            );
            let (mut dx, mut dg, mut db) = (vec![0.0; sh.len()], vec![0.0; c], vec![0.0; c]);
            cpu_bn::batch_norm_backward_ref(
                &sh, &x64, &dy64, gr, &mean, &invstd, &mut dx, &mut dg, &mut db,
            );
            // The GPU backward gets the reference statistics rounded to T.
            let (mean_t, invstd_t) = (
                dev.htod(&from_f64::<T>(&mean))?,
                dev.htod(&from_f64::<T>(&invstd))?,
            );
            let mut dx_d = nan_buffer(dev, sh.len())?;
            let (mut dg_d, mut db_d) = (nan_buffer(dev, c)?, nan_buffer(dev, c)?);
            gpu_norm::batch_norm_backward(
                dev, &sh, &x_d, &dy_d, gd, &mean_t, &invstd_t, &mut dx_d, &mut dg_d, &mut db_d,
            )?;
            check.compare(
                &format!("bn bwd dx {t}"),
                &dev.dtoh(&dx_d)?,
                &from_f64::<T>(&dx),
            );
            // dgamma and dbeta are sums over M = N·S values: compared divided by M.
            let per_m = |v: Vec<f64>| v.iter().map(|x| x / (n * s) as f64).collect::<Vec<_>>();
            check.compare(
                &format!("bn bwd dgamma/M {t}"),
                &per_m(to_f64(&dev.dtoh(&dg_d)?)),
                &per_m(dg),
            );
            check.compare(
                &format!("bn bwd dbeta/M {t}"),
                &per_m(to_f64(&dev.dtoh(&db_d)?)),
                &per_m(db),
            );
            // Eval mode, forward and backward, with the running statistics.
            let (rm0_64, rv0_64) = (to_f64(&rm0), to_f64(&rv0));
            let mut ye = vec![0.0; sh.len()];
            cpu_bn::batch_norm_forward_eval(&sh, &x64, gr, br, &rm0_64, &rv0_64, eps, &mut ye);
            let (rm0_d, rv0_d) = (dev.htod(&rm0)?, dev.htod(&rv0)?);
            let mut ye_d = nan_buffer(dev, sh.len())?;
            gpu_norm::batch_norm_forward_eval(
                dev, &sh, &x_d, gd, bd, &rm0_d, &rv0_d, eps, &mut ye_d,
            )?;
            check.compare(
                &format!("bn eval y {t}"),
                &dev.dtoh(&ye_d)?,
                &from_f64::<T>(&ye),
            );
            let (mut dxe, mut dge, mut dbe) = (vec![0.0; sh.len()], vec![0.0; c], vec![0.0; c]);
            cpu_bn::batch_norm_backward_eval(
                &sh, &x64, &dy64, gr, &rm0_64, &rv0_64, eps, &mut dxe, &mut dge, &mut dbe,
            );
            let mut dxe_d = nan_buffer(dev, sh.len())?;
            let (mut dge_d, mut dbe_d) = (nan_buffer(dev, c)?, nan_buffer(dev, c)?);
            gpu_norm::batch_norm_backward_eval(
                dev, &sh, &x_d, &dy_d, gd, &rm0_d, &rv0_d, eps, &mut dxe_d, &mut dge_d, &mut dbe_d,
            )?;
            check.compare(
                &format!("bn eval bwd dx {t}"),
                &dev.dtoh(&dxe_d)?,
                &from_f64::<T>(&dxe),
            );
            check.compare(
                &format!("bn eval bwd dgamma/M {t}"),
                &per_m(to_f64(&dev.dtoh(&dge_d)?)),
                &per_m(dge),
            );
            check.compare(
                &format!("bn eval bwd dbeta/M {t}"),
                &per_m(to_f64(&dev.dtoh(&dbe_d)?)),
                &per_m(dbe),
            );
        }
    }
    Ok(())
}

pub fn prelu<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    for (n, c, s) in [
        (1, 1, 1),
        (2, 7, 33),
        (3, 5, 1031),
        (33, 3, 1),
        (1031, 2, 1),
    ] {
        for shared in [false, true] {
            let mut x: Vec<T> = rng.vec(n * c * s, 1.0);
            x[0] = T::ZERO; // the kink takes the slope side
            let dy: Vec<T> = rng.vec(n * c * s, 1.0);
            let slope: Vec<T> = rng.vec(if shared { 1 } else { c }, 1.0);
            let (x64, dy64, sl64) = (to_f64(&x), to_f64(&dy), to_f64(&slope));
            let mut y = vec![0.0; x.len()];
            cpu_prelu::prelu_forward_ref(&x64, n, c, s, &sl64, &mut y);
            let (mut dx, mut ds) = (vec![0.0; x.len()], vec![0.0; slope.len()]);
            cpu_prelu::prelu_backward_ref(&x64, n, c, s, &sl64, &dy64, &mut dx, &mut ds);
            let (x_d, sl_d) = (dev.htod(&x)?, dev.htod(&slope)?);
            let mut y_d = nan_buffer(dev, x.len())?;
            gpu_norm::prelu_forward(dev, &x_d, n, c, s, &sl_d, &mut y_d)?;
            let (mut dx_d, mut ds_d) = (nan_buffer(dev, x.len())?, nan_buffer(dev, slope.len())?);
            gpu_norm::prelu_backward(
                dev,
                &x_d,
                n,
                c,
                s,
                &sl_d,
                &dev.htod(&dy)?,
                &mut dx_d,
                &mut ds_d,
            )?;
            let tag = format!("{n}x{c}x{s} shared {shared}");
            check.compare(
                &format!("prelu {tag}"),
                &dev.dtoh(&y_d)?,
                &from_f64::<T>(&y),
            );
            check.compare(
                &format!("prelu bwd dx {tag}"),
                &dev.dtoh(&dx_d)?,
                &from_f64::<T>(&dx),
            );
            // dslope sums over a channel's N·S values: compared divided by that count.
            let m = (n * s * if shared { c } else { 1 }) as f64;
            let per = |v: Vec<f64>| v.iter().map(|x| x / m).collect::<Vec<_>>();
            check.compare(
                &format!("prelu bwd dslope/count {tag}"),
                &per(to_f64(&dev.dtoh(&ds_d)?)),
                &per(ds),
            );
        }
    }
    Ok(())
}

pub fn dropout<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    for n in SIZES.into_iter().chain([100_003]) {
        for (p, seed) in [
            (0.0, 1u64),
            (0.1, 2),
            (0.5, 42),
            (0.9, 7),
            (1.0, 3),
            (0.25, u64::MAX),
        ] {
            let x: Vec<T> = rng.vec(n, 1.0);
            let (mut y, mut mask) = (vec![T::ZERO; n], vec![T::ZERO; n]);
            cpu_drop::dropout_forward_ref(&x, p, seed, &mut y, &mut mask);
            let (mut y_d, mut mask_d) = (nan_buffer(dev, n)?, nan_buffer(dev, n)?);
            gpu_norm::dropout_forward(dev, &dev.htod(&x)?, p, seed, &mut y_d, &mut mask_d)?;
            let tag = format!("n={n} p={p} seed={seed}");
            check.compare(&format!("dropout mask {tag}"), &dev.dtoh(&mask_d)?, &mask);
            check.compare(&format!("dropout y {tag}"), &dev.dtoh(&y_d)?, &y);
            let g: Vec<T> = rng.vec(n, 1.0);
            let mut dx = vec![T::ZERO; n];
            cpu_drop::dropout_backward(&g, &mask, &mut dx);
            let mut dx_d = nan_buffer(dev, n)?;
            gpu_norm::dropout_backward(dev, &dev.htod(&g)?, &mask_d, &mut dx_d)?;
            check.compare(&format!("dropout bwd {tag}"), &dev.dtoh(&dx_d)?, &dx);
        }
    }
    Ok(())
}
