//! The fast GEMM paths against [`gemm_ref`] on awkward shapes.
//!
//! Error measure: |C - C_ref| / (|alpha|·Σ_p |A_ip||B_pj| + |beta||C0_ij|), the quantity the
//! rounding-error bound of a dot product is proportional to, so one tolerance per type fits
//! every k: f32 1e-5 and f64 1e-13 for the main tests (the bound γ_k = k·eps is 1.2e-4 and 2.3e-13 at k = 1031;
//! observed errors are ~sqrt(k)·eps, far inside). The reference runs in f64.

use super::driver::{gemm_packed, Scratch};
use super::microkernel::ScalarKernel;
use super::*;
use crate::cpu::testutil::{pool, Report, Rng};

/// A GEMM implementation under test.
type GemmFn<'a, T> = &'a dyn Fn(&GemmShape, T, &[T], &[T], T, &mut [T]);

/// One case: random operands, C pre-filled (NaN when beta = 0, which must not leak).
#[allow(clippy::too_many_arguments)]
fn check<T: Float>(
    rep: &mut Report,
    rng: &mut Rng,
    (m, n, k): (usize, usize, usize),
    (trans_a, trans_b): (bool, bool),
    pad: usize,
    alpha: f64,
    beta: f64,
    run: GemmFn<'_, T>,
) {
    let mut s = GemmShape::dense(m, n, k, trans_a, trans_b);
    s.lda += pad;
    s.ldb += 2 * pad;
    s.ldc += 3 * pad;
    let (la, lb, lc) = s.required_lens();
    let a: Vec<T> = rng.vec(la);
    let b: Vec<T> = rng.vec(lb);
    let c0: Vec<T> = if beta == 0.0 {
        vec![T::from_f64(f64::NAN); lc]
    } else {
        rng.vec(lc)
    };
    let mut got = c0.clone();
    run(&s, T::from_f64(alpha), &a, &b, T::from_f64(beta), &mut got);

    let wide = |v: &[T]| v.iter().map(|x| x.to_f64()).collect::<Vec<f64>>();
    let (a64, b64, c64) = (wide(&a), wide(&b), wide(&c0));
    let mut want = c64.clone();
    gemm_ref(&s, alpha, &a64, &b64, beta, &mut want);
    let abs = |v: &[f64]| v.iter().map(|x| x.abs()).collect::<Vec<f64>>();
    let mut scale = abs(&c64);
    gemm_ref(
        &s,
        alpha.abs(),
        &abs(&a64),
        &abs(&b64),
        beta.abs(),
        &mut scale,
    );

    let case = format!("m{m} n{n} k{k} ta{trans_a} tb{trans_b} pad{pad} a{alpha} b{beta}");
    for i in 0..m {
        for j in 0..n {
            let at = i * s.ldc + j;
            let (g, w) = (got[at].to_f64(), want[at]);
            let err = if g == w {
                0.0
            } else {
                (g - w).abs() / scale[at].max(1e-300)
            };
            rep.note(&case, at, if err.is_nan() { f64::INFINITY } else { err });
        }
        // Padding between rows of C is not ours: it must be untouched.
        for j in n..s.ldc.min(lc.saturating_sub(i * s.ldc)) {
            let at = i * s.ldc + j;
            let same = got[at].to_f64().to_bits() == c0[at].to_f64().to_bits();
            rep.note(
                &format!("{case} (C padding)"),
                at,
                if same { 0.0 } else { f64::INFINITY },
            );
        }
    }
}

/// The awkward shapes: 1, 7, 33, an odd size over 1000, non-square, crossing every cache
/// block (k > KC = 256, m > MC = 144, n > NC = 4080), plus GEMV-like and tiny ones.
const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (7, 7, 7),
    (33, 33, 33),
    (1, 33, 7),
    (33, 1, 7),
    (6, 16, 5),
    (12, 32, 64),
    (13, 17, 300),
    (150, 37, 20),
    (40, 70, 1031),
    (1003, 19, 9),
    (5, 4100, 3),
];

fn all_cases<T: Float>(name: &str, tol: f64, run: GemmFn<'_, T>) {
    let mut rep = Report::new(name, tol);
    let mut rng = Rng(42);
    for &shape in SHAPES {
        for trans in [(false, false), (true, false), (false, true), (true, true)] {
            check(&mut rep, &mut rng, shape, trans, 0, 1.0, 0.0, run);
        }
        check(&mut rep, &mut rng, shape, (false, true), 3, 0.5, -2.0, run);
        check(&mut rep, &mut rng, shape, (true, false), 1, -1.5, 1.0, run);
    }
    rep.finish();
}

#[test]
fn gemm_f32_matches_reference() {
    all_cases::<f32>("gemm f32", 1e-5, &|s, al, a, b, be, c| {
        gemm(s, al, a, b, be, c)
    });
}

#[test]
fn gemm_f64_matches_reference() {
    all_cases::<f64>("gemm f64", 1e-13, &|s, al, a, b, be, c| {
        gemm(s, al, a, b, be, c)
    });
}

#[test]
fn gemm_threaded_matches_reference() {
    let p = pool(3);
    p.install(|| {
        all_cases::<f32>("gemm f32, 3 threads", 1e-4, &|s, al, a, b, be, c| {
            gemm(s, al, a, b, be, c)
        });
        all_cases::<f64>("gemm f64, 3 threads", 1e-12, &|s, al, a, b, be, c| {
            gemm(s, al, a, b, be, c)
        });
    });
    // Big enough to be threaded, with every flag combination, on 2 threads.
    pool(2).install(|| {
        let mut rep = Report::new("gemm f32 2 threads (97x131x71, 301x263x129)", 1e-4);
        let mut rng = Rng(7);
        for trans in [(false, false), (true, false), (false, true), (true, true)] {
            check::<f32>(
                &mut rep,
                &mut rng,
                (97, 131, 71),
                trans,
                1,
                1.0,
                0.5,
                &|s, al, a, b, be, c| gemm(s, al, a, b, be, c),
            );
        }
        // Large enough for two tasks per thread (see `task_grid`).
        check::<f32>(
            &mut rep,
            &mut rng,
            (301, 263, 129),
            (false, true),
            0,
            1.0,
            0.0,
            &|s, al, a, b, be, c| gemm(s, al, a, b, be, c),
        );
        rep.finish();
    });
}

#[test]
fn portable_kernel_matches_reference() {
    // The path a CPU without AVX2 takes, exercised on this one too.
    all_cases::<f32>("gemm f32 portable kernel", 1e-4, &|s, al, a, b, be, c| {
        portable(s, al, a, b, be, c)
    });
    all_cases::<f64>("gemm f64 portable kernel", 1e-12, &|s, al, a, b, be, c| {
        portable(s, al, a, b, be, c)
    });
}

/// The packed path with the portable kernel, whatever this CPU has.
fn portable<T: Scratch>(s: &GemmShape, alpha: T, a: &[T], b: &[T], beta: T, c: &mut [T]) {
    let a = ASource::Matrix(Operand::dense(a, s.lda, s.trans_a));
    let b = BSource::Matrix(Operand::dense(b, s.ldb, s.trans_b));
    let dims = (s.m, s.n, s.k);
    gemm_packed(
        ScalarKernel,
        dims,
        alpha,
        a,
        b,
        beta,
        c,
        s.ldc,
        Threads::One,
    );
}

#[test]
fn prepacked_b_matches_reference() {
    // B packed once, element by element through `PackedB::index` (as the Winograd convolution
    // fills its transformed kernels), on sizes with ragged slivers and more than one k-slice.
    let mut rng = Rng(23);
    let mut rep = Report::new("gemm f32 with pre-packed B", 1e-5);
    for (m, n, k) in [
        (13, 33, 300),
        (1, 16, 5),
        (40, 7, 257),
        (6, 48, 64),
        (100, 130, 70),
    ] {
        let a: Vec<f32> = rng.vec(m * k);
        let b: Vec<f32> = rng.vec(k * n);
        let mut packed = PackedB::for_writing(k, n, Vec::new());
        for p in 0..k {
            for j in 0..n {
                let at = packed.index(p, j);
                packed.data_mut()[at] = b[p * n + j];
            }
        }
        let s = GemmShape::dense(m, n, k, false, false);
        let (mut c, mut c_ref) = (vec![0.5f32; m * n], vec![0.5f32; m * n]);
        for threads in [Threads::One, Threads::Pool] {
            pool(2).install(|| {
                gemm_fast(
                    (m, n, k),
                    1.5,
                    ASource::Matrix(Operand::dense(&a, k, false)),
                    BSource::Packed(&packed),
                    0.25,
                    &mut c,
                    n,
                    threads,
                )
            });
            gemm_ref(&s, 1.5, &a, &b, 0.25, &mut c_ref);
            rep.compare(&format!("{m}x{n}x{k} {threads:?}"), &c, &c_ref);
            c.copy_from_slice(&c_ref);
        }
    }
    rep.finish();
}

#[test]
fn alpha_zero_does_not_read_operands() {
    let s = GemmShape::dense(7, 9, 5, false, false);
    let a = vec![f32::NAN; 35];
    let b = vec![f32::INFINITY; 45];
    let mut c = vec![2.0f32; 63];
    gemm(&s, 0.0, &a, &b, 0.5, &mut c);
    assert!(c.iter().all(|&v| v == 1.0));
}

#[test]
fn two_by_two_known_value() {
    // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]; with A stored transposed the same product.
    let b = [5.0f64, 6.0, 7.0, 8.0];
    let mut c = [f64::NAN; 4];
    gemm(
        &GemmShape::dense(2, 2, 2, false, false),
        1.0,
        &[1.0, 2.0, 3.0, 4.0],
        &b,
        0.0,
        &mut c,
    );
    assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
    let mut c2 = [0.0; 4];
    gemm(
        &GemmShape::dense(2, 2, 2, true, false),
        1.0,
        &[1.0, 3.0, 2.0, 4.0],
        &b,
        0.0,
        &mut c2,
    );
    assert_eq!(c2, c);
}

#[test]
fn batched_matches_reference() {
    let mut rep = Report::new("gemm_batched f32", 1e-5);
    let mut rng = Rng(3);
    for (trans, batch, shared_b) in [
        ((false, false), 5, false),
        ((true, true), 3, true),
        ((false, true), 1, false),
    ] {
        for threads in [1, 2] {
            let s = GemmShape::dense(33, 7, 19, trans.0, trans.1);
            let (la, lb, lc) = s.required_lens();
            let (sa, sb, sc) = (la + 2, if shared_b { 0 } else { lb + 1 }, lc + 5);
            let a: Vec<f32> = rng.vec(sa * batch);
            let b: Vec<f32> = rng.vec(sb * (batch - 1) + lb);
            let c0: Vec<f32> = rng.vec(sc * batch);
            let mut got = c0.clone();
            pool(threads)
                .install(|| gemm_batched(&s, batch, 1.5, &a, sa, &b, sb, 0.5, &mut got, sc));
            let mut want = c0.clone();
            for t in 0..batch {
                gemm_ref(
                    &s,
                    1.5,
                    &a[t * sa..],
                    &b[t * sb..],
                    0.5,
                    &mut want[t * sc..],
                );
            }
            rep.compare(
                &format!("batch {batch} {trans:?} shared_b {shared_b} thr {threads}"),
                &got,
                &want,
            );
        }
    }
    // stride_c = 0, beta = 1: every product accumulates into the same C.
    let s = GemmShape::dense(5, 6, 7, false, false);
    let a: Vec<f32> = rng.vec(3 * 35);
    let b: Vec<f32> = rng.vec(42);
    let mut got = vec![1.0f32; 30];
    pool(2).install(|| gemm_batched(&s, 3, 1.0, &a, 35, &b, 0, 1.0, &mut got, 0));
    let mut want = vec![1.0f32; 30];
    for t in 0..3 {
        gemm_ref(&s, 1.0, &a[t * 35..], &b, 1.0, &mut want);
    }
    rep.compare("stride_c 0 accumulates", &got, &want);
    rep.finish();
}
