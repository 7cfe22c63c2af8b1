//! Parity cases: reductions along an axis, softmax, cross-entropy.

use anglegrad_kernels::cpu::{reduce as cpu, softmax as cpu_sm};
use anglegrad_kernels::cuda::launch::{reduce as gpu, softmax as gpu_sm};

use super::support::*;

/// [outer, len, inner] views: the last axis (inner = 1, one block per row) and middle axes
/// (inner > 1, one thread per column), short and long rows, many and few of them.
const VIEWS: [(usize, usize, usize); 8] = [
    (1, 1, 1),
    (7, 7, 1),
    (33, 33, 7),
    (3, 1031, 1),
    (5, 3, 1031),
    (1, 1031, 33),
    (1031, 7, 1),
    (2, 5003, 1),
];

pub fn sum<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    for (o, l, i) in VIEWS {
        let x: Vec<T> = rng.vec(o * l * i, 1.0);
        // The reference sums in f64; the error is then the GPU's alone.
        let mut want = vec![0.0f64; o * i];
        cpu::sum_axis_ref(&to_f64(&x), o, l, i, &mut want);
        let mut got = nan_buffer(dev, o * i)?;
        gpu::sum_axis(dev, &dev.htod(&x)?, o, l, i, &mut got)?;
        check.compare(
            &format!("sum {o}x{l}x{i}"),
            &dev.dtoh(&got)?,
            &from_f64::<T>(&want),
        );
    }
    Ok(())
}

pub fn max<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    for (case, &(o, l, i)) in VIEWS.iter().enumerate() {
        let mut x: Vec<T> = rng.vec(o * l * i, 1.0);
        if x.len() > 3 {
            // A tie with the first element of the first column, and (in every other view) a
            // NaN, which must win and report its own index.
            let step = i.max(1);
            if l > 1 {
                x[step] = x[0];
            }
            if case % 2 == 1 {
                let at = x.len() / 2;
                x[at] = T::from_f64(f64::NAN);
            }
        }
        let (mut v, mut a) = (vec![T::ZERO; o * i], vec![0usize; o * i]);
        cpu::max_axis_ref(&x, o, l, i, &mut v, &mut a);
        let mut v_d = nan_buffer(dev, o * i)?;
        let mut a_d = dev.alloc::<usize>(o * i)?;
        gpu::max_axis(dev, &dev.htod(&x)?, o, l, i, &mut v_d, &mut a_d)?;
        let tag = format!("{o}x{l}x{i}");
        check.compare(&format!("max {tag}"), &dev.dtoh(&v_d)?, &v);
        check.same_indices(&format!("argmax {tag}"), &dev.dtoh(&a_d)?, &a);
        // Backward: g to the argmax positions, zeros elsewhere.
        let g: Vec<T> = rng.vec(o * i, 1.0);
        let mut dx = vec![T::ZERO; x.len()];
        cpu::scatter_to_argmax(&g, &a, o, l, i, &mut dx);
        let mut dx_d = nan_buffer(dev, x.len())?;
        gpu::scatter_to_argmax(dev, &dev.htod(&g)?, &dev.htod(&a)?, o, l, i, &mut dx_d)?;
        check.compare(&format!("max bwd {tag}"), &dev.dtoh(&dx_d)?, &dx);
    }
    Ok(())
}

pub fn logsumexp<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    for (o, l, i) in VIEWS {
        let x: Vec<T> = rng.vec(o * l * i, 10.0);
        let mut want = vec![0.0f64; o * i];
        cpu::logsumexp_axis_ref(&to_f64(&x), o, l, i, &mut want);
        let mut got = nan_buffer(dev, o * i)?;
        gpu::logsumexp_axis(dev, &dev.htod(&x)?, o, l, i, &mut got)?;
        check.compare(
            &format!("lse {o}x{l}x{i}"),
            &dev.dtoh(&got)?,
            &from_f64::<T>(&want),
        );
    }
    // A row of -inf gives -inf, a row with +inf gives +inf (no NaN from inf - inf).
    let inf = f64::INFINITY;
    let x: Vec<T> = from_f64(&[-inf, -inf, -inf, 1.0, inf, 2.0]);
    let mut got = nan_buffer(dev, 2)?;
    gpu::logsumexp_axis(dev, &dev.htod(&x)?, 2, 3, 1, &mut got)?;
    check.compare(
        "lse of infinities",
        &dev.dtoh(&got)?,
        &from_f64::<T>(&[-inf, inf]),
    );
    Ok(())
}

/// [rows, cols]: one element, warps, long rows (the 512-thread blocks past 4096), many rows.
const ROWS: [(usize, usize); 7] = [
    (1, 1),
    (7, 7),
    (33, 33),
    (3, 1031),
    (1031, 7),
    (2, 4099),
    (1, 100_003),
];

pub fn softmax<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    for (r, c) in ROWS {
        let x: Vec<T> = rng.vec(r * c, 20.0);
        let g: Vec<T> = rng.vec(r * c, 1.0);
        let x64 = to_f64(&x);
        let (mut s, mut ls) = (vec![0.0; r * c], vec![0.0; r * c]);
        cpu_sm::softmax_rows_ref(&x64, r, c, &mut s);
        cpu_sm::log_softmax_rows_ref(&x64, r, c, &mut ls);
        let x_d = dev.htod(&x)?;
        let (mut s_d, mut ls_d) = (nan_buffer(dev, r * c)?, nan_buffer(dev, r * c)?);
        gpu_sm::softmax_rows(dev, &x_d, r, c, &mut s_d)?;
        gpu_sm::log_softmax_rows(dev, &x_d, r, c, &mut ls_d)?;
        let tag = format!("{r}x{c}");
        check.compare(
            &format!("softmax {tag}"),
            &dev.dtoh(&s_d)?,
            &from_f64::<T>(&s),
        );
        check.compare(
            &format!("log_softmax {tag}"),
            &dev.dtoh(&ls_d)?,
            &from_f64::<T>(&ls),
        );
        // Backwards, fed the reference outputs rounded to T:
        //   softmax: dx = y (g - Σ g y);  log-softmax: dx = g - exp(y) Σ g.
        let (y, ly): (Vec<T>, Vec<T>) = (from_f64(&s), from_f64(&ls));
        let (mut dsx, mut dlx) = (vec![0.0; r * c], vec![0.0; r * c]);
        for row in 0..r {
            let span = row * c..(row + 1) * c;
            let dot: f64 = span.clone().map(|j| g[j].to_f64() * y[j].to_f64()).sum();
            let total: f64 = span.clone().map(|j| g[j].to_f64()).sum();
            for j in span {
                dsx[j] = y[j].to_f64() * (g[j].to_f64() - dot);
                dlx[j] = g[j].to_f64() - ly[j].to_f64().exp() * total;
            }
        }
        let g_d = dev.htod(&g)?;
        let (mut dsx_d, mut dlx_d) = (nan_buffer(dev, r * c)?, nan_buffer(dev, r * c)?);
        gpu_sm::softmax_rows_backward(dev, &dev.htod(&y)?, &g_d, r, c, &mut dsx_d)?;
        gpu_sm::log_softmax_rows_backward(dev, &dev.htod(&ly)?, &g_d, r, c, &mut dlx_d)?;
        check.compare(
            &format!("softmax bwd {tag}"),
            &dev.dtoh(&dsx_d)?,
            &from_f64::<T>(&dsx),
        );
        check.compare(
            &format!("log_softmax bwd {tag}"),
            &dev.dtoh(&dlx_d)?,
            &from_f64::<T>(&dlx),
        );
    }
    // A NaN row stays NaN; a row starting with -inf is fine (as the CPU).
    let x: Vec<T> = from_f64(&[f64::NAN, 1.0, f64::NEG_INFINITY, 0.0]);
    let mut want = vec![T::ZERO; 4];
    cpu_sm::log_softmax_rows_ref(&x, 2, 2, &mut want);
    let mut got = nan_buffer(dev, 4)?;
    gpu_sm::log_softmax_rows(dev, &dev.htod(&x)?, 2, 2, &mut got)?;
    check.compare("log_softmax NaN / -inf rows", &dev.dtoh(&got)?, &want);
    Ok(())
}

pub fn cross_entropy<T: CudaFloat>(
    dev: &CudaDevice,
    rng: &mut Rng,
    check: &mut Check,
) -> Result<()> {
    for (r, c) in ROWS {
        let x: Vec<T> = rng.vec(r * c, 20.0);
        let labels: Vec<usize> = (0..r).map(|_| rng.below(c)).collect();
        let (mut loss, mut probs) = (vec![0.0f64; r], vec![0.0f64; r * c]);
        cpu_sm::cross_entropy_rows(&to_f64(&x), r, c, &labels, &mut loss, &mut probs);
        let labels_d = dev.htod(&labels)?;
        let (mut loss_d, mut probs_d) = (nan_buffer(dev, r)?, nan_buffer(dev, r * c)?);
        gpu_sm::cross_entropy_rows(
            dev,
            &dev.htod(&x)?,
            r,
            c,
            &labels_d,
            &mut loss_d,
            &mut probs_d,
        )?;
        let tag = format!("{r}x{c}");
        check.compare(
            &format!("ce loss {tag}"),
            &dev.dtoh(&loss_d)?,
            &from_f64::<T>(&loss),
        );
        check.compare(
            &format!("ce probs {tag}"),
            &dev.dtoh(&probs_d)?,
            &from_f64::<T>(&probs),
        );
        // dx_rj = g_r (p_rj - [j = label_r]), from the reference probabilities rounded to T.
        let p: Vec<T> = from_f64(&probs);
        let g: Vec<T> = rng.vec(r, 1.0);
        let mut dx = vec![T::ZERO; r * c];
        for row in 0..r {
            for j in 0..c {
                let onehot = if labels[row] == j { T::ONE } else { T::ZERO };
                dx[row * c + j] = g[row] * (p[row * c + j] - onehot);
            }
        }
        let mut dx_d = nan_buffer(dev, r * c)?;
        gpu_sm::cross_entropy_rows_backward(
            dev,
            &dev.htod(&p)?,
            &labels_d,
            &dev.htod(&g)?,
            r,
            c,
            &mut dx_d,
        )?;
        check.compare(&format!("ce bwd {tag}"), &dev.dtoh(&dx_d)?, &dx);
    }
    Ok(())
}
