//! Hand-derived values: the most readable tests. The math is in the comments.

use anglegrad_engine::{DType, Tape, Tensor};
use anglegrad_ops::{self as ops, TensorOps};

fn t(v: &[f64], dims: &[usize]) -> Tensor {
    Tensor::from_f64s(v, dims, DType::F64).unwrap()
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol, "{a:?} vs {b:?}");
    }
}

#[test]
fn bias_gradient_is_summed_over_the_batch() {
    // y = x + b with x [2, 3], b [3]: b is read once per row, so ∂(Σ y)/∂b = (2, 2, 2).
    let tape = Tape::new();
    let b0 = t(&[0.0, 0.0, 0.0], &[3]);
    let b = tape.watch(&b0);
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let loss = x.add(&b).unwrap().sum_all().unwrap();
    let g = tape.backward(&loss).unwrap();
    assert_eq!(g.wrt(&b0).unwrap().to_vec_f64(), vec![2.0, 2.0, 2.0]);
}

#[test]
fn matmul_gradients_by_hand() {
    // L = Σ (A B) with A = [[1, 2]], B = [[3], [4]]: L = 1·3 + 2·4 = 11.
    // ∂L/∂A = 1 · Bᵀ = [[3, 4]];  ∂L/∂B = Aᵀ · 1 = [[1], [2]].
    let (a0, b0) = (t(&[1.0, 2.0], &[1, 2]), t(&[3.0, 4.0], &[2, 1]));
    let tape = Tape::new();
    let (a, b) = (tape.watch(&a0), tape.watch(&b0));
    let loss = a.matmul(&b).unwrap().sum_all().unwrap();
    assert_eq!(loss.to_scalar_f64().unwrap(), 11.0);
    let g = tape.backward(&loss).unwrap();
    assert_eq!(g.wrt(&a0).unwrap().to_vec_f64(), vec![3.0, 4.0]);
    assert_eq!(g.wrt(&b0).unwrap().to_vec_f64(), vec![1.0, 2.0]);
}

#[test]
fn cross_entropy_worked_example() {
    // LOSSES.md §1: z = (2, 1, 0), y = 0: softmax = (0.665241, 0.244728, 0.090031),
    // CE = LSE(z) − z_0 = ln(e² + e + 1) − 2 = 0.407606, ∂CE/∂z = softmax − onehot.
    let tape = Tape::new();
    let z0 = t(&[2.0, 1.0, 0.0], &[1, 3]);
    let z = tape.watch(&z0);
    let loss = ops::cross_entropy(&z, &[0]).unwrap();
    close(&[loss.to_scalar_f64().unwrap()], &[0.407606], 1e-6);
    let g = tape.backward(&loss).unwrap();
    close(
        &g.wrt(&z0).unwrap().to_vec_f64(),
        &[0.665241 - 1.0, 0.244728, 0.090031],
        1e-6,
    );
}

#[test]
fn fused_cross_entropy_matches_its_composite_oracle() {
    // The fused op and log_softmax + gather agree on values and gradients, also with logits
    // large enough that a naive exp would overflow.
    let z0 = t(
        &[
            800.0, 0.0, -3.0, 1.5, 2.5, 700.0, 0.1, 0.2, 0.3, -0.4, 0.5, 0.6,
        ],
        &[3, 4],
    );
    let labels = [0usize, 3, 2];
    let run = |fused: bool| {
        let tape = Tape::new();
        let z = tape.watch(&z0);
        let loss = if fused {
            ops::cross_entropy(&z, &labels).unwrap()
        } else {
            let lp = z.log_softmax(1).unwrap();
            ops::gather(&lp, 1, &labels, &[3, 1])
                .unwrap()
                .mean_all()
                .unwrap()
                .neg()
                .unwrap()
        };
        let value = loss.to_scalar_f64().unwrap();
        let grad = tape.backward(&loss).unwrap().wrt(&z0).unwrap().to_vec_f64();
        (value, grad)
    };
    let (fv, fg) = run(true);
    let (cv, cg) = run(false);
    assert!(fv.is_finite());
    close(&[fv], &[cv], 1e-12);
    close(&fg, &cg, 1e-12);
}

#[test]
fn l2_normalize_of_3_4_is_0_6_0_8() {
    // (3, 4) / 5 = (0.6, 0.8); the Jacobian is (I − u uᵀ)/‖v‖, so the gradient of u_0 is
    // ((1 − 0.36), −0.48)/5 = (0.128, −0.096).
    let tape = Tape::new();
    let v0 = t(&[3.0, 4.0], &[1, 2]);
    let v = tape.watch(&v0);
    let u = v.l2_normalize(1, 0.0).unwrap();
    close(&u.to_vec_f64(), &[0.6, 0.8], 1e-15);
    let g = tape
        .backward(&u.narrow(1, 0, 1).unwrap().sum_all().unwrap())
        .unwrap();
    close(&g.wrt(&v0).unwrap().to_vec_f64(), &[0.128, -0.096], 1e-15);
}

#[test]
fn max_sends_the_gradient_to_the_first_of_tied_elements() {
    let tape = Tape::new();
    let x0 = t(&[1.0, 5.0, 5.0, 2.0], &[1, 4]);
    let x = tape.watch(&x0);
    let m = x.max(1, false).unwrap();
    assert_eq!(m.to_vec_f64(), vec![5.0]);
    let g = tape.backward(&m.sum_all().unwrap()).unwrap();
    assert_eq!(g.wrt(&x0).unwrap().to_vec_f64(), vec![0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn acos_derivative_is_finite_at_the_ends() {
    // d/dx acos x = −1/sqrt(1 − x²): infinite at ±1, guarded to −1/sqrt(ε).
    let tape = Tape::new();
    let x0 = t(&[1.0, -1.0, 0.0], &[3]);
    let x = tape.watch(&x0);
    let y = x.acos().unwrap();
    close(
        &y.to_vec_f64(),
        &[0.0, std::f64::consts::PI, std::f64::consts::FRAC_PI_2],
        1e-15,
    );
    let g = tape
        .backward(&y.sum_all().unwrap())
        .unwrap()
        .wrt(&x0)
        .unwrap()
        .to_vec_f64();
    assert!(g.iter().all(|v| v.is_finite()));
    close(&g[2..], &[-1.0], 1e-15);
}
