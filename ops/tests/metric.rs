//! Known values and edge cases of the metric ops (LOSSES.md §0, §8).

use anglegrad_engine::{DType, Tape, Tensor};
use anglegrad_ops::{self as ops, Fallback, GradientMode, MarginFn, TensorOps};

fn t(v: &[f64], dims: &[usize]) -> Tensor {
    Tensor::from_f64s(v, dims, DType::F64).unwrap()
}

#[test]
fn distance_between_identical_points_is_exactly_zero_with_zero_gradient() {
    let x0 = t(&[0.3, -1.2, 2.5, 0.3, -1.2, 2.5, 1.0, 0.0, 0.0], &[3, 3]);
    let tape = Tape::new();
    let x = tape.watch(&x0);
    let d = ops::pairwise_dist(&x, &x).unwrap();
    let v = d.to_vec_f64();
    assert_eq!(v[1], 0.0); // D[0, 1]: rows 0 and 1 are identical
    assert_eq!(v[0], 0.0);
    let g = tape.backward(&d.sum_all().unwrap()).unwrap();
    assert!(g
        .wrt(&x0)
        .unwrap()
        .to_vec_f64()
        .iter()
        .all(|v| v.is_finite()));
    // The expanded form is not exact there (that is why it is not the default).
    let e = ops::pairwise_sq_dist_expanded(&x0, &x0)
        .unwrap()
        .to_vec_f64();
    assert!(e[1] >= 0.0);
}

#[test]
fn detached_margin_has_the_same_forward_and_a_pass_through_gradient() {
    let c0 = t(&[0.8, 0.3, -0.95, 0.999], &[4]);
    let margin = MarginFn::Angular {
        m: 0.5,
        fallback: Fallback::Threshold,
    };
    let run = |mode| {
        let tape = Tape::new();
        let c = tape.watch(&c0);
        let phi = ops::target_margin(&c, margin, mode).unwrap();
        let g = tape.backward(&phi.sum_all().unwrap()).unwrap();
        (phi.to_vec_f64(), g.wrt(&c0).unwrap().to_vec_f64())
    };
    let (fe, ge) = run(GradientMode::Exact);
    let (fd, gd) = run(GradientMode::Detached);
    assert_eq!(fe, fd, "bit-identical forward values");
    assert_eq!(gd, vec![1.0; 4]);
    // Exact: dφ/dc = sin(θ + m) / sin θ at c = 0.8 (θ = 0.6435): sin(1.1435)/0.6 = 1.5172;
    // in the threshold fallback (c = −0.95 < cos(π − 0.5) = −0.8776) it is 1.
    assert!((ge[0] - (0.6435011087932844f64 + 0.5).sin() / 0.6).abs() < 1e-12);
    assert_eq!(ge[2], 1.0);
}

#[test]
fn arcface_margin_worked_example() {
    // LOSSES.md §8: cosines (0.8, 0.3, −0.2), y = 0, s = 64, m = 0.5 -> target 0.414411,
    // logits (26.522, 19.2, −12.8), loss 6.6043e-4.
    let c = t(&[0.8], &[1]);
    let phi = ops::target_margin(
        &c,
        MarginFn::Angular {
            m: 0.5,
            fallback: Fallback::Threshold,
        },
        GradientMode::Exact,
    )
    .unwrap();
    let logits = t(&[64.0 * phi.to_vec_f64()[0], 19.2, -12.8], &[1, 3]);
    let loss = ops::cross_entropy(&logits, &[0])
        .unwrap()
        .to_scalar_f64()
        .unwrap();
    assert!((loss - 6.6043e-4).abs() < 1e-7, "{loss}");
}

#[test]
fn topk_ties_go_to_the_lower_index() {
    let x = t(&[1.0, 3.0, 3.0, 2.0, 3.0], &[1, 5]);
    let (v, i) = ops::topk(&x, 3, 1, true).unwrap();
    assert_eq!(v.to_vec_f64(), vec![3.0, 3.0, 3.0]);
    assert_eq!(i, vec![1, 2, 4]);
    let (_, i) = ops::topk(&x, 2, 1, false).unwrap();
    assert_eq!(i, vec![0, 3]);
    assert!(ops::topk(&x, 6, 1, true).is_err());
}

#[test]
fn masked_selections_and_segment_means() {
    let x = t(&[5.0, 1.0, 5.0, 0.0, 2.0, 9.0], &[2, 3]);
    let mask = [true, false, true, false, true, false];
    assert_eq!(
        ops::masked_argmax(&x, &mask).unwrap(),
        vec![Some(0), Some(1)]
    );
    assert_eq!(
        ops::masked_argmin(&x, &[false; 6]).unwrap(),
        vec![None, None]
    );
    let rows = t(&[1.0, 2.0, 3.0, 4.0, 10.0, 20.0], &[3, 2]);
    let m = ops::segment_mean(&rows, &[0, 0, 2], 3).unwrap();
    assert_eq!(m.to_vec_f64(), vec![2.0, 3.0, 0.0, 0.0, 10.0, 20.0]);
    assert!(ops::segment_mean(&rows, &[0, 0, 3], 3).is_err());
}

#[test]
fn soft_histogram_of_one_value_peaks_at_its_bin() {
    let centres: Vec<f64> = (0..1000).map(|r| r as f64 / 1000.0).collect();
    let p = ops::soft_histogram_normalized(&t(&[0.6], &[1]), &centres, 0.1)
        .unwrap()
        .to_vec_f64();
    let peak = p
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.partial_cmp(b.1).unwrap())
        .unwrap()
        .0;
    assert_eq!(peak, 600);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(ops::soft_histogram(&t(&[0.5], &[1]), &centres, 0.0).is_err());
}

#[test]
fn fused_head_recompute_and_cache_give_the_same_gradients() {
    use anglegrad_engine::Rng;
    use anglegrad_ops::MarginHead;
    let mut rng = Rng::new(3);
    let x0 = Tensor::randn([6, 5], 0.0, 1.0, DType::F64, &mut rng).unwrap();
    let w0 = Tensor::randn([13, 5], 0.0, 1.0, DType::F64, &mut rng).unwrap();
    let labels = [12, 0, 5, 5, 7, 1];
    let margin = Some((MarginFn::Additive { m: 0.35 }, GradientMode::Exact));
    let run = |cache_bytes| {
        let head = MarginHead {
            chunk: 4,
            cache_bytes,
            ..MarginHead::new(30.0, margin)
        };
        let tape = Tape::new();
        let (x, w) = (tape.watch(&x0), tape.watch(&w0));
        let loss = ops::fused_margin_softmax_rows(&x, &w, &labels, head)
            .unwrap()
            .sum_all()
            .unwrap();
        let g = tape.backward(&loss).unwrap();
        [
            g.wrt(&x0).unwrap().to_vec_f64(),
            g.wrt(&w0).unwrap().to_vec_f64(),
        ]
        .concat()
    };
    let (cached, recomputed) = (run(usize::MAX), run(0));
    for (a, b) in cached.iter().zip(&recomputed) {
        assert!((a - b).abs() <= 1e-13 * a.abs().max(1.0), "{a} vs {b}");
    }
}
