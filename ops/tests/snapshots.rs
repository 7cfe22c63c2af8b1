//! Snapshots of a few composite graphs: values and gradients on fixed inputs, so any change in
//! the math shows up as a reviewed diff (`cargo insta review`).

use std::fmt::Write;

use anglegrad_engine::{DType, Rng, Tape, Tensor};
use anglegrad_ops::{self as ops, TensorOps};

fn fixed(dims: &[usize], seed: u64) -> Tensor {
    Tensor::randn(dims, 0.0, 1.0, DType::F64, &mut Rng::new(seed)).unwrap()
}

/// Formats numbers to 10 significant digits: stable across platforms, precise enough to see a
/// change in the math.
fn fmt(label: &str, t: &Tensor, out: &mut String) {
    let vals: Vec<String> = t.to_vec_f64().iter().map(|v| format!("{v:.10e}")).collect();
    writeln!(out, "{label} {}: [{}]", t.shape(), vals.join(", ")).unwrap();
}

#[test]
fn snapshot_mlp_cross_entropy() {
    let (x, w1, b1, w2) = (
        fixed(&[4, 3], 1),
        fixed(&[3, 5], 2),
        fixed(&[5], 3),
        fixed(&[5, 2], 4),
    );
    let tape = Tape::new();
    let (w1t, b1t, w2t) = (tape.watch(&w1), tape.watch(&b1), tape.watch(&w2));
    let h = x.matmul(&w1t).unwrap().add(&b1t).unwrap().relu().unwrap();
    let loss = ops::cross_entropy(&h.matmul(&w2t).unwrap(), &[0, 1, 1, 0]).unwrap();
    let mut out = String::new();
    fmt("loss", &loss, &mut out);
    let g = tape.backward(&loss).unwrap();
    fmt("grad w1", g.wrt(&w1).unwrap(), &mut out);
    fmt("grad b1", g.wrt(&b1).unwrap(), &mut out);
    fmt("grad w2", g.wrt(&w2).unwrap(), &mut out);
    insta::assert_snapshot!(out);
}

#[test]
fn snapshot_scaled_cosine_softmax() {
    // The NormFace head: logits = s · cos(x_i, w_j), mean cross-entropy.
    let (x, w) = (fixed(&[3, 4], 5), fixed(&[6, 4], 6));
    let tape = Tape::new();
    let (xt, wt) = (tape.watch(&x), tape.watch(&w));
    let logits = ops::cosine_similarity(&xt, &wt, 1e-12)
        .unwrap()
        .scale(10.0)
        .unwrap();
    let loss = ops::cross_entropy(&logits, &[5, 0, 2]).unwrap();
    let mut out = String::new();
    fmt("logits", &logits, &mut out);
    fmt("loss", &loss, &mut out);
    let g = tape.backward(&loss).unwrap();
    fmt("grad x", g.wrt(&x).unwrap(), &mut out);
    fmt("grad w", g.wrt(&w).unwrap(), &mut out);
    insta::assert_snapshot!(out);
}

#[test]
fn snapshot_softmax_attention_like() {
    // softmax(q kᵀ / 2) v over a batch of 2: batched matmuls, transpose flags, softmax.
    let (q, k, v) = (
        fixed(&[2, 3, 4], 7),
        fixed(&[2, 5, 4], 8),
        fixed(&[2, 5, 2], 9),
    );
    let tape = Tape::new();
    let (qt, kt, vt) = (tape.watch(&q), tape.watch(&k), tape.watch(&v));
    let att = qt
        .matmul_t(&kt, false, true)
        .unwrap()
        .scale(0.5)
        .unwrap()
        .softmax(2)
        .unwrap();
    let y = att.matmul(&vt).unwrap();
    let loss = y.square().unwrap().mean_all().unwrap();
    let mut out = String::new();
    fmt("loss", &loss, &mut out);
    let g = tape.backward(&loss).unwrap();
    fmt("grad q", g.wrt(&q).unwrap(), &mut out);
    fmt("grad k", g.wrt(&k).unwrap(), &mut out);
    fmt("grad v", g.wrt(&v).unwrap(), &mut out);
    insta::assert_snapshot!(out);
}
