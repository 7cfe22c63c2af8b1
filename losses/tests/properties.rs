//! Properties that tie the losses together (issue: CosFace/ArcFace with m = 0 equal NormFace;
//! SV-X with t = 1 equals its base; range loss does not depend on batch order; the centre
//! loss gradient is x − c_y), and the exact/detached relation of LOSSES.md §14.

use anglegrad_engine::{DType, Rng, Tape, Tensor};
use anglegrad_losses::center::{center_loss, CenterMode};
use anglegrad_losses::range::Range;
use anglegrad_losses::sv_softmax::{sv_softmax, SvBase};
use anglegrad_losses::{arcface, cosface, normface, MarginSoftmax};
use anglegrad_ops::{Fallback, GradientMode};

const LABELS: [usize; 6] = [0, 2, 1, 2, 0, 3];

fn data(seed: u64) -> (Tensor, Tensor) {
    let mut rng = Rng::new(seed);
    (
        Tensor::randn([6, 4], 0.0, 1.0, DType::F64, &mut rng).unwrap(),
        Tensor::randn([5, 4], 0.0, 1.0, DType::F64, &mut rng).unwrap(),
    )
}

/// Loss value and gradients of x and W for a cosine head.
fn run(head: &MarginSoftmax, x0: &Tensor, w0: &Tensor) -> (f64, Vec<f64>, Vec<f64>) {
    let tape = Tape::new();
    let (x, w) = (tape.watch(x0), tape.watch(w0));
    let loss = head.loss("test", &x, &w, &LABELS).unwrap();
    let v = loss.to_scalar_f64().unwrap();
    let g = tape.backward(&loss).unwrap();
    (
        v,
        g.wrt(x0).unwrap().to_vec_f64(),
        g.wrt(w0).unwrap().to_vec_f64(),
    )
}

fn assert_close(a: &(f64, Vec<f64>, Vec<f64>), b: &(f64, Vec<f64>, Vec<f64>), tol: f64) {
    assert!(
        (a.0 - b.0).abs() <= tol * b.0.abs().max(1.0),
        "{} vs {}",
        a.0,
        b.0
    );
    for (p, q) in a.1.iter().chain(&a.2).zip(b.1.iter().chain(&b.2)) {
        assert!((p - q).abs() <= tol * q.abs().max(1.0), "{p} vs {q}");
    }
}

#[test]
fn cosface_and_arcface_with_zero_margin_are_normface() {
    let (x, w) = data(1);
    let reference = run(&normface::normface(30.0), &x, &w);
    assert_close(
        &run(&cosface::cosface(30.0, 0.0), &x, &w),
        &reference,
        1e-12,
    );
    for fallback in [Fallback::Threshold, Fallback::EasyMargin, Fallback::None] {
        let arc = arcface::arcface(30.0, 0.0, GradientMode::Exact, fallback);
        assert_close(&run(&arc, &x, &w), &reference, 1e-9);
    }
}

#[test]
fn sv_x_with_t_equal_one_is_its_base_loss() {
    let (x, w) = data(2);
    let pairs = [
        (SvBase::Plain, normface::normface(32.0)),
        (SvBase::Additive { m: 0.35 }, cosface::cosface(32.0, 0.35)),
        (
            SvBase::Angular { m: 0.35 },
            arcface::arcface(32.0, 0.35, GradientMode::Exact, Fallback::None),
        ),
    ];
    for (base, plain) in pairs {
        for adaptive in [true, false] {
            assert_close(
                &run(&sv_softmax(32.0, base, 1.0, adaptive), &x, &w),
                &run(&plain, &x, &w),
                1e-12,
            );
        }
    }
}

#[test]
fn exact_and_detached_arcface_share_the_forward_and_differ_in_backward() {
    let (x, w) = data(3);
    let exact = run(
        &arcface::arcface(64.0, 0.5, GradientMode::Exact, Fallback::Threshold),
        &x,
        &w,
    );
    let detached = run(
        &arcface::arcface(64.0, 0.5, GradientMode::Detached, Fallback::Threshold),
        &x,
        &w,
    );
    assert_eq!(
        exact.0.to_bits(),
        detached.0.to_bits(),
        "bit-identical forward values"
    );
    assert_ne!(exact.1, detached.1);
}

#[test]
fn range_loss_does_not_depend_on_batch_order() {
    let mut rng = Rng::new(4);
    let x = Tensor::randn([7, 3], 0.0, 2.0, DType::F64, &mut rng).unwrap();
    let labels = [0, 1, 0, 2, 1, 0, 2];
    let range = Range {
        m: 50.0,
        alpha: 1.0,
        beta: 1.0,
        ..Range::default()
    };
    let original = range.loss(&x, &labels).unwrap().to_scalar_f64().unwrap();
    let order = [3, 6, 0, 5, 1, 4, 2];
    let shuffled = anglegrad_ops::index_select(&x, 0, &order).unwrap();
    let shuffled_labels: Vec<usize> = order.iter().map(|&i| labels[i]).collect();
    let again = range
        .loss(&shuffled, &shuffled_labels)
        .unwrap()
        .to_scalar_f64()
        .unwrap();
    assert!(
        (original - again).abs() <= 1e-12 * original.abs(),
        "{original} vs {again}"
    );
}

#[test]
fn center_loss_gradient_is_lambda_times_x_minus_own_centre() {
    let (x0, c0) = data(5);
    let lambda = 0.003;
    let tape = Tape::new();
    let x = tape.watch(&x0);
    let loss = anglegrad_ops::scale(
        &center_loss(&x, &c0, &LABELS, CenterMode::Paper).unwrap(),
        lambda,
    )
    .unwrap();
    let g = tape.backward(&loss).unwrap().wrt(&x0).unwrap().to_vec_f64();
    let (xv, cv) = (x0.to_vec_f64(), c0.to_vec_f64());
    for i in 0..6 {
        for k in 0..4 {
            let want = lambda * (xv[i * 4 + k] - cv[LABELS[i] * 4 + k]);
            assert!((g[i * 4 + k] - want).abs() < 1e-15);
        }
    }
}
