//! Fast convolution paths against the reference loops, on awkward shapes: odd sizes, strides,
//! padding larger than the kernel reach, dilation, groups, depthwise, 1x1, a width over 1000.

use super::*;
use crate::cpu::testutil::{pool, Report, Rng};

fn cases() -> Vec<Conv2dParams> {
    let sq = Conv2dParams::square;
    let mut v = vec![
        sq(2, 3, 7, 4, 3, 1, 1),
        sq(2, 3, 11, 5, 7, 2, 3),
        sq(3, 7, 5, 33, 1, 1, 0),
        sq(2, 6, 9, 4, 1, 2, 0),
        sq(1, 1, 1, 1, 1, 1, 0),
        sq(2, 16, 12, 33, 3, 1, 1),
        sq(1, 4, 6, 3, 3, 1, 2),
        sq(2, 5, 8, 7, 3, 2, 1),
        sq(1, 2, 5, 2, 1, 1, 1),
        // Output planes >= 400 take the stride-1 implicit-im2col path (padded / direct 1x1).
        sq(2, 3, 21, 4, 3, 1, 1),
        sq(2, 5, 20, 7, 1, 1, 0),
        // Stride 2 with output planes >= 512: implicit im2col over phase-split images.
        sq(2, 3, 46, 4, 3, 2, 1),
        sq(1, 3, 50, 4, 7, 2, 3),
        sq(2, 5, 46, 6, 1, 2, 0),
        // A last group of images that is only partly full (plane 100 -> 5 images per GEMM).
        sq(7, 3, 10, 4, 3, 1, 1),
        // Winograd (f32, 3x3 or 5x5, stride 1, >= 16 channels): ragged channel blocks and
        // edge tiles, no padding, padding at the kernel's reach, one tile per image, 5x5
        // kernels, and enough tiles for several blocks (in parallel with two threads).
        sq(3, 17, 9, 20, 3, 1, 1),
        sq(2, 16, 7, 24, 3, 1, 0),
        sq(2, 16, 8, 16, 3, 1, 2),
        sq(5, 32, 4, 40, 3, 1, 1),
        sq(2, 24, 13, 16, 5, 1, 2),
        sq(1, 16, 6, 16, 5, 1, 0),
        sq(4, 64, 30, 48, 3, 1, 1),
    ];
    let mut strided_mixed = sq(1, 2, 50, 3, 3, 1, 1);
    (strided_mixed.h, strided_mixed.stride) = (24, (1, 2));
    v.push(strided_mixed);
    let mut dil_s2 = sq(1, 2, 50, 3, 3, 2, 2);
    dil_s2.dilation = (2, 2);
    v.push(dil_s2);
    let mut dil_big = sq(2, 3, 22, 4, 3, 1, 2);
    dil_big.dilation = (2, 2);
    v.push(dil_big);
    let mut grouped_big = sq(2, 4, 21, 6, 3, 1, 1);
    grouped_big.groups = 2;
    v.push(grouped_big);
    let mut depthwise_big = sq(2, 3, 21, 3, 3, 1, 1);
    depthwise_big.groups = 3;
    v.push(depthwise_big);
    let mut depthwise_s2 = sq(3, 4, 9, 4, 3, 2, 1);
    (depthwise_s2.groups, depthwise_s2.dilation) = (4, (1, 2));
    v.push(depthwise_s2);
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
    dw_strided.groups = 6;
    v.push(dw_strided);
    let mut rect = sq(2, 3, 5, 4, 1, 1, 0);
    (rect.h, rect.w, rect.kh, rect.kw, rect.pad) = (4, 1031, 1, 3, (0, 1));
    v.push(rect);
    let mut mixed = sq(1, 2, 9, 3, 3, 1, 1);
    (mixed.h, mixed.kh, mixed.stride, mixed.dilation, mixed.pad) = (6, 2, (1, 3), (2, 1), (1, 0));
    v.push(mixed);
    v
}

fn check_all<T: Float>(tol: f64, threads: usize) {
    let name = format!("conv2d {} {threads} thread(s)", std::any::type_name::<T>());
    let mut fwd = Report::new(&format!("{name} forward"), tol);
    let mut bwd_x = Report::new(&format!("{name} backward data"), tol);
    // Weight and bias gradients sum over N·Ho·Wo terms (8248 in the widest case), so their
    // rounding error is allowed to be ten times larger.
    let mut bwd_w = Report::new(&format!("{name} backward weight"), 10.0 * tol);
    let mut bias = Report::new(&format!("{name} backward bias"), 10.0 * tol);
    // The Winograd path (f32 only) rounds more: its transforms scale values by up to 8 and
    // 25 before the products are summed, so a few more bits are lost (a relative error of a
    // few 1e-5, the same as cuDNN's and oneDNN's F(4x4, 3x3)).
    let wino_tol = 2e-4;
    let mut w_fwd = Report::new(&format!("{name} winograd forward"), wino_tol);
    let mut w_bwd_x = Report::new(&format!("{name} winograd backward data"), wino_tol);
    let mut w_bwd_w = Report::new(&format!("{name} winograd backward weight"), 10.0 * wino_tol);
    let mut rng = Rng(11);
    for p in cases() {
        let case = format!("{p:?}");
        let x: Vec<T> = rng.vec(p.x_len());
        let w: Vec<T> = rng.vec(p.w_len());
        let b: Vec<T> = rng.vec(p.c_out);
        let dy: Vec<T> = rng.vec(p.y_len());
        // The reference runs in f64 on the same numbers, so it is the exact answer to within
        // f64 rounding and the reports show the fast kernel's own error.
        let wide = |v: &[T]| v.iter().map(|a| a.to_f64()).collect::<Vec<f64>>();
        let (x64, w64, b64, dy64) = (wide(&x), wide(&w), wide(&b), wide(&dy));
        let wino = T::slice_f32(&x).is_some() && winograd::supports(&p);
        let (fwd, bwd_x, bwd_w) = if wino {
            (&mut w_fwd, &mut w_bwd_x, &mut w_bwd_w)
        } else {
            (&mut fwd, &mut bwd_x, &mut bwd_w)
        };
        pool(threads).install(|| {
            let (mut y, mut y_ref) = (vec![T::from_f64(f64::NAN); p.y_len()], vec![0.0; p.y_len()]);
            conv2d_forward(&p, &x, &w, Some(&b), &mut y);
            conv2d_forward_ref(&p, &x64, &w64, Some(&b64), &mut y_ref);
            fwd.compare(&case, &wide(&y), &y_ref);

            let (mut dx, mut dx_ref) =
                (vec![T::from_f64(f64::NAN); p.x_len()], vec![0.0; p.x_len()]);
            conv2d_backward_data(&p, &dy, &w, &mut dx);
            conv2d_backward_data_ref(&p, &dy64, &w64, &mut dx_ref);
            bwd_x.compare(&case, &wide(&dx), &dx_ref);

            let (mut dw, mut dw_ref) =
                (vec![T::from_f64(f64::NAN); p.w_len()], vec![0.0; p.w_len()]);
            conv2d_backward_weight(&p, &x, &dy, &mut dw);
            conv2d_backward_weight_ref(&p, &x64, &dy64, &mut dw_ref);
            bwd_w.compare(&case, &wide(&dw), &dw_ref);

            let mut db = vec![T::ZERO; p.c_out];
            conv2d_backward_bias(&p, &dy, &mut db);
            let plane = p.out_h() * p.out_w();
            let db_ref: Vec<T> = (0..p.c_out)
                .map(|co| {
                    let mut s = T::ZERO;
                    for n in 0..p.n {
                        for v in &dy[(n * p.c_out + co) * plane..][..plane] {
                            s += *v;
                        }
                    }
                    s
                })
                .collect();
            bias.compare(&case, &db, &db_ref);
        });
    }
    for r in [fwd, bwd_x, bwd_w, bias] {
        r.finish();
    }
    if T::slice_f32(&[T::ZERO]).is_some() {
        for r in [w_fwd, w_bwd_x, w_bwd_w] {
            r.finish();
        }
    }
}

#[test]
fn conv2d_f32_matches_reference() {
    check_all::<f32>(1e-5, 1);
}

#[test]
fn conv2d_f32_threaded_matches_reference() {
    check_all::<f32>(1e-5, 2);
}

#[test]
fn conv2d_f64_matches_reference() {
    check_all::<f64>(1e-13, 2);
}

#[test]
fn im2col_then_col2im_is_the_adjoint() {
    // <im2col(x), c> = <x, col2im(c)> for any x and c: the two are transposes of each other.
    let mut p = Conv2dParams::square(1, 3, 7, 2, 3, 2, 2);
    p.dilation = (2, 1);
    let mut rng = Rng(5);
    let x: Vec<f64> = rng.vec(p.c_in * p.h * p.w);
    let c: Vec<f64> = rng.vec(p.k_len() * p.out_h() * p.out_w());
    let mut col = vec![0.0; c.len()];
    im2col(&p, &x, 0, &mut col);
    let mut back = vec![0.0; x.len()];
    col2im(&p, &c, 0, &mut back);
    let lhs: f64 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
    let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
    assert!(
        (lhs - rhs).abs() < 1e-12 * (1.0 + lhs.abs()),
        "{lhs} vs {rhs}"
    );
}

#[test]
fn output_size_formula() {
    // PyTorch: floor((H + 2p - d(k-1) - 1)/s) + 1. ResNet stem: 112 -> 56.
    let p = Conv2dParams::square(1, 3, 112, 64, 7, 2, 3);
    assert_eq!((p.out_h(), p.out_w()), (56, 56));
    let mut d = Conv2dParams::square(1, 1, 10, 1, 3, 1, 0);
    d.dilation = (3, 3);
    assert_eq!(d.out_h(), 4);
}
