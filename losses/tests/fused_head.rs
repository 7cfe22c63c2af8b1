//! The fused, class-chunked margin head against its oracle, the composite head: same loss and
//! gradients for every margin, every chunk size (1, uneven, C, larger than C).

use anglegrad_engine::{DType, Rng, Tape, Tensor};
use anglegrad_losses::{arcface, cosface, normface, MarginSoftmax};
use anglegrad_ops::{Fallback, GradientMode};

fn run(head: &MarginSoftmax, x0: &Tensor, w0: &Tensor, labels: &[usize]) -> Vec<f64> {
    let tape = Tape::new();
    let (x, w) = (tape.watch(x0), tape.watch(w0));
    let loss = head.loss("test", &x, &w, labels).unwrap();
    // The fused head is one op on the tape; the composite is many (so the comparison below
    // really compares two implementations).
    let fused_ops = tape
        .op_names()
        .iter()
        .filter(|n| **n == "fused_margin_softmax")
        .count();
    assert_eq!(
        fused_ops,
        usize::from(head.fused_chunk.is_some()),
        "{:?}",
        tape.op_names()
    );
    let mut out = vec![loss.to_scalar_f64().unwrap()];
    let g = tape.backward(&loss).unwrap();
    out.extend(g.wrt(x0).unwrap().to_vec_f64());
    out.extend(g.wrt(w0).unwrap().to_vec_f64());
    out
}

#[test]
fn fused_head_equals_the_composite_head() {
    let mut rng = Rng::new(11);
    let x = Tensor::randn([7, 5], 0.0, 1.0, DType::F64, &mut rng).unwrap();
    let w = Tensor::randn([11, 5], 0.0, 1.0, DType::F64, &mut rng).unwrap();
    let labels = [3, 0, 10, 3, 7, 1, 10];
    let heads = [
        normface::normface(16.0),
        cosface::cosface(64.0, 0.35),
        arcface::arcface(64.0, 0.5, GradientMode::Exact, Fallback::Threshold),
        arcface::arcface(64.0, 0.5, GradientMode::Exact, Fallback::EasyMargin),
        arcface::arcface(32.0, 0.5, GradientMode::Detached, Fallback::None),
        arcface::combined(64.0, 1.0, 0.3, 0.2),
    ];
    for head in heads {
        let oracle = run(&head, &x, &w, &labels);
        for chunk in [1, 4, 11, 64] {
            let fused = run(&head.fused(chunk), &x, &w, &labels);
            let scale = oracle.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = fused
                .iter()
                .zip(&oracle)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                err <= 1e-12 * scale,
                "{:?} chunk {chunk}: error {err:e}",
                head.margin
            );
        }
    }
}

#[test]
fn fused_head_in_f32_is_close_to_f64() {
    let mut rng = Rng::new(12);
    let x = Tensor::randn([16, 32], 0.0, 1.0, DType::F64, &mut rng).unwrap();
    let w = Tensor::randn([300, 32], 0.0, 1.0, DType::F64, &mut rng).unwrap();
    let labels: Vec<usize> = (0..16).map(|i| i * 17 % 300).collect();
    let head = arcface::arcface_default().fused(64);
    let exact = run(&head, &x, &w, &labels);
    let x32 = anglegrad_ops::to_dtype(&x, DType::F32).unwrap();
    let w32 = anglegrad_ops::to_dtype(&w, DType::F32).unwrap();
    let single = run(&head, &x32, &w32, &labels);
    let scale = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let err = single
        .iter()
        .zip(&exact)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(err <= 1e-4 * scale, "f32 vs f64: {err:e} of {scale:e}");
}

#[test]
fn fused_head_reports_bad_labels() {
    let x = Tensor::zeros([2, 3], DType::F32).unwrap();
    let w = Tensor::ones([4, 3], DType::F32).unwrap();
    let err = arcface::arcface_default()
        .fused(2)
        .loss("arcface", &x, &w, &[0, 4])
        .unwrap_err();
    assert!(err.to_string().contains("label 4 of row 1"), "{err}");
}
