//! Parity cases: the tiled GEMM and the implicit-GEMM convolutions, against the CPU's
//! reference loops evaluated in f64.

use anglegrad_kernels::cpu::conv::{self as cpu_conv, Conv2dParams};
use anglegrad_kernels::cpu::gemm::{gemm_ref, GemmShape};
use anglegrad_kernels::cuda::launch::{conv as gpu_conv, gemm as gpu};

use super::support::*;

/// One GEMM on the device against gemm_ref in f64. `pad` widens every leading dimension
/// (rows that are not contiguous; also switches the 16-byte loads off when it is odd).
fn one_gemm<T: CudaFloat>(
    dev: &CudaDevice,
    rng: &mut Rng,
    check: &mut Check,
    (m, n, k): (usize, usize, usize),
    (ta, tb): (bool, bool),
    (alpha, beta): (f64, f64),
    pad: usize,
) -> Result<()> {
    let dense = GemmShape::dense(m, n, k, ta, tb);
    let s = GemmShape {
        lda: dense.lda + pad,
        ldb: dense.ldb + pad,
        ldc: dense.ldc + pad,
        ..dense
    };
    let (la, lb, lc) = s.required_lens();
    let a: Vec<T> = rng.vec(la, 1.0);
    let b: Vec<T> = rng.vec(lb, 1.0);
    // beta = 0 must overwrite C without reading it: start from NaN there.
    let c0: Vec<T> = if beta == 0.0 {
        nans(lc)
    } else {
        rng.vec(lc, 1.0)
    };
    let mut want = to_f64(&c0);
    gemm_ref(&s, alpha, &to_f64(&a), &to_f64(&b), beta, &mut want);
    let mut c_d = dev.htod(&c0)?;
    gpu::gemm(
        dev,
        &s,
        T::from_f64(alpha),
        &dev.htod(&a)?,
        &dev.htod(&b)?,
        T::from_f64(beta),
        &mut c_d,
    )?;
    let got = dev.dtoh(&c_d)?;
    // Only the m x n block is C; the padding between rows must stay untouched.
    let tag = format!("{m}x{n}x{k} t({ta},{tb}) a={alpha} b={beta} pad={pad}");
    check.compare(&format!("gemm {tag}"), &got, &from_f64::<T>(&want));
    Ok(())
}

pub fn gemm<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    let shapes = [
        (1, 1, 1),
        (7, 33, 1031),
        (33, 7, 33),
        (1031, 33, 7),
        (65, 130, 17),
        (64, 64, 64),
        (128, 96, 256),
    ];
    for mnk in shapes {
        for trans in [(false, false), (false, true), (true, false), (true, true)] {
            for ab in [(1.0, 0.0), (0.5, 2.0)] {
                for pad in [0, 3, 4] {
                    one_gemm::<T>(dev, rng, check, mnk, trans, ab, pad)?;
                }
            }
        }
    }
    // alpha = 0 reads neither A nor B: NaN there does not reach C.
    let s = GemmShape::dense(7, 33, 5, false, false);
    let (la, lb, lc) = s.required_lens();
    let c0: Vec<T> = rng.vec(lc, 1.0);
    let mut c_d = dev.htod(&c0)?;
    let (a_d, b_d) = (dev.htod(&nans::<T>(la))?, dev.htod(&nans::<T>(lb))?);
    gpu::gemm(dev, &s, T::ZERO, &a_d, &b_d, T::from_f64(2.0), &mut c_d)?;
    let want: Vec<T> = c0.iter().map(|&v| v * T::from_f64(2.0)).collect();
    check.compare("gemm alpha = 0 with NaN operands", &dev.dtoh(&c_d)?, &want);
    // Batched: 3 matrices, contiguous and with gaps between them (odd strides switch the
    // vector loads off for the whole batch).
    for gap in [0, 5] {
        let s = GemmShape::dense(33, 7, 1031, false, true);
        let (la, lb, lc) = s.required_lens();
        let (sa, sb, sc) = (la + gap, lb + gap, lc + gap);
        let a: Vec<T> = rng.vec(2 * sa + la, 1.0);
        let b: Vec<T> = rng.vec(2 * sb + lb, 1.0);
        let c0: Vec<T> = rng.vec(2 * sc + lc, 1.0);
        let mut want = to_f64(&c0);
        let (a64, b64) = (to_f64(&a), to_f64(&b));
        for t in 0..3 {
            gemm_ref(
                &s,
                1.0,
                &a64[t * sa..],
                &b64[t * sb..],
                0.5,
                &mut want[t * sc..t * sc + lc],
            );
        }
        let mut c_d = dev.htod(&c0)?;
        let (a_d, b_d) = (dev.htod(&a)?, dev.htod(&b)?);
        let half = T::from_f64(0.5);
        gpu::gemm_batched(dev, &s, 3, T::ONE, &a_d, sa, &b_d, sb, half, &mut c_d, sc)?;
        check.compare(
            &format!("gemm batched gap={gap}"),
            &dev.dtoh(&c_d)?,
            &from_f64::<T>(&want),
        );
    }
    Ok(())
}

/// Convolutions: odd sizes, strides, padding wider than the kernel's reach, dilation, groups,
/// depthwise, 1x1, a row wider than 1000, and one large enough for full tiles and split-K.
fn conv_cases() -> Vec<Conv2dParams> {
    let sq = Conv2dParams::square;
    let mut v = vec![
        sq(1, 1, 1, 1, 1, 1, 0),
        sq(2, 3, 7, 4, 3, 1, 1),
        sq(2, 3, 11, 5, 7, 2, 3),
        sq(3, 7, 5, 33, 1, 1, 0),
        sq(2, 16, 12, 33, 3, 1, 1),
        sq(1, 4, 6, 3, 3, 1, 2),
        sq(2, 5, 8, 7, 3, 2, 1),
        sq(4, 64, 14, 128, 3, 1, 1),
        sq(2, 3, 33, 8, 7, 2, 3),
    ];
    let mut dil = sq(2, 3, 9, 4, 3, 1, 2);
    dil.dilation = (2, 2);
    v.push(dil);
    let mut grouped = sq(2, 4, 6, 6, 3, 1, 1);
    grouped.groups = 2;
    v.push(grouped);
    let mut depthwise = sq(2, 5, 7, 5, 3, 1, 1);
    depthwise.groups = 5;
    v.push(depthwise);
    let mut dw_strided = sq(2, 6, 9, 12, 3, 2, 1);
    (dw_strided.groups, dw_strided.dilation) = (6, (1, 2));
    v.push(dw_strided);
    let mut rect = sq(2, 3, 5, 4, 1, 1, 0);
    (rect.h, rect.w, rect.kh, rect.kw, rect.pad, rect.stride) = (4, 1031, 1, 3, (0, 1), (1, 2));
    v.push(rect);
    v
}

pub fn conv<T: CudaFloat>(dev: &CudaDevice, rng: &mut Rng, check: &mut Check) -> Result<()> {
    for p in conv_cases() {
        let x: Vec<T> = rng.vec(p.x_len(), 1.0);
        let w: Vec<T> = rng.vec(p.w_len(), 1.0);
        let b: Vec<T> = rng.vec(p.c_out, 1.0);
        let dy: Vec<T> = rng.vec(p.y_len(), 1.0);
        let (x64, w64, b64, dy64) = (to_f64(&x), to_f64(&w), to_f64(&b), to_f64(&dy));
        let mut y = vec![0.0; p.y_len()];
        cpu_conv::conv2d_forward_ref(&p, &x64, &w64, Some(&b64), &mut y);
        let mut dx = vec![0.0; p.x_len()];
        cpu_conv::conv2d_backward_data_ref(&p, &dy64, &w64, &mut dx);
        let mut dw = vec![0.0; p.w_len()];
        cpu_conv::conv2d_backward_weight_ref(&p, &x64, &dy64, &mut dw);
        let mut db = vec![0.0; p.c_out];
        cpu_conv::conv2d_backward_bias(&p, &dy64, &mut db);

        let (x_d, w_d, b_d, dy_d) = (dev.htod(&x)?, dev.htod(&w)?, dev.htod(&b)?, dev.htod(&dy)?);
        let mut y_d = nan_buffer(dev, p.y_len())?;
        gpu_conv::conv2d_forward(dev, &p, &x_d, &w_d, Some(&b_d), &mut y_d)?;
        let mut dx_d = nan_buffer(dev, p.x_len())?;
        gpu_conv::conv2d_backward_data(dev, &p, &dy_d, &w_d, &mut dx_d)?;
        let mut dw_d = nan_buffer(dev, p.w_len())?;
        gpu_conv::conv2d_backward_weight(dev, &p, &x_d, &dy_d, &mut dw_d)?;
        let mut db_d = nan_buffer(dev, p.c_out)?;
        gpu_conv::conv2d_backward_bias(dev, &p, &dy_d, &mut db_d)?;
        let tag = format!("{p:?}");
        check.compare(
            &format!("conv fwd {tag}"),
            &dev.dtoh(&y_d)?,
            &from_f64::<T>(&y),
        );
        check.compare(
            &format!("conv bwd data {tag}"),
            &dev.dtoh(&dx_d)?,
            &from_f64::<T>(&dx),
        );
        check.compare(
            &format!("conv bwd weight {tag}"),
            &dev.dtoh(&dw_d)?,
            &from_f64::<T>(&dw),
        );
        check.compare(
            &format!("conv bwd bias {tag}"),
            &dev.dtoh(&db_d)?,
            &from_f64::<T>(&db),
        );
        // Without a bias the forward adds nothing.
        let mut y0 = vec![0.0; p.y_len()];
        cpu_conv::conv2d_forward_ref(&p, &x64, &w64, None, &mut y0);
        gpu_conv::conv2d_forward(dev, &p, &x_d, &w_d, None, &mut y_d)?;
        check.compare(
            &format!("conv fwd no bias {tag}"),
            &dev.dtoh(&y_d)?,
            &from_f64::<T>(&y0),
        );
    }
    Ok(())
}
