//! The tape semantics that the gradient-check table cannot show by finite differences:
//! stop-gradient, unreached inputs, independent tapes, a finished tape, and `Tape::dump`.

use anglegrad_engine::{DType, Error, Tape, Tensor};
use anglegrad_ops::{self as ops, TensorOps};

fn t(v: &[f64], dims: &[usize]) -> Tensor {
    Tensor::from_f64s(v, dims, DType::F64).unwrap()
}

#[test]
fn detach_is_a_stop_gradient() {
    // L = Σ x · sg(x): the detached factor is a constant, so ∂L/∂x = sg(x) = x, not 2x.
    let x0 = t(&[1.0, -2.0, 3.0], &[3]);
    let tape = Tape::new();
    let x = tape.watch(&x0);
    let loss = x.mul(&x.detach()).unwrap().sum_all().unwrap();
    let grads = tape.backward(&loss).unwrap();
    assert_eq!(grads.wrt(&x0).unwrap().to_vec_f64(), vec![1.0, -2.0, 3.0]);
}

#[test]
fn a_watched_tensor_that_does_not_reach_the_loss_gets_zeros() {
    let tape = Tape::new();
    let used = tape.watch(&t(&[1.0, 2.0], &[2]));
    let unused = tape.watch(&t(&[5.0, 6.0, 7.0], &[3]));
    let loss = used.square().unwrap().sum_all().unwrap();
    let grads = tape.backward(&loss).unwrap();
    assert_eq!(grads.wrt(&used).unwrap().to_vec_f64(), vec![2.0, 4.0]);
    let g = grads.wrt(&unused).unwrap();
    assert_eq!(g.dims(), &[3]);
    assert_eq!(g.to_vec_f64(), vec![0.0; 3]);
    // A tensor that was never watched has no entry at all, and `wrt` says so.
    let other = t(&[1.0], &[1]);
    assert!(grads.get(&other).is_none());
    assert!(matches!(grads.wrt(&other), Err(Error::Tape(_))));
}

#[test]
fn two_tapes_do_not_see_each_other() {
    let a0 = t(&[2.0], &[1]);
    let b0 = t(&[3.0], &[1]);
    let (ta, tb) = (Tape::new(), Tape::new());
    let a = ta.watch(&a0);
    let b = tb.watch(&b0);
    let la = a.square().unwrap().sum_all().unwrap(); // 2a = 4
    let lb = b.powf(3.0).unwrap().sum_all().unwrap(); // 3b² = 27
    assert_eq!(ta.len(), 2);
    assert_eq!(tb.len(), 2);
    let gb = tb.backward(&lb).unwrap();
    let ga = ta.backward(&la).unwrap();
    assert_eq!(ga.wrt(&a0).unwrap().to_vec_f64(), vec![4.0]);
    assert_eq!(gb.wrt(&b0).unwrap().to_vec_f64(), vec![27.0]);
    assert!(ga.get(&b0).is_none() && gb.get(&a0).is_none());
}

#[test]
fn mixing_two_live_tapes_in_one_op_is_an_error() {
    let (ta, tb) = (Tape::new(), Tape::new());
    let a = ta.watch(&t(&[1.0], &[1]));
    let b = tb.watch(&t(&[1.0], &[1]));
    let err = a.add(&b).unwrap_err();
    assert!(err.to_string().contains("two different tapes"), "{err}");
}

#[test]
fn a_loss_from_another_tape_or_a_finished_tape_is_an_error() {
    let tape = Tape::new();
    let x = tape.watch(&t(&[1.0], &[1]));
    let loss = x.exp().unwrap().sum_all().unwrap();
    let untracked = t(&[1.0], &[]);
    assert!(Tape::new().backward(&loss).is_err());
    assert!(tape.clone().backward(&untracked).is_err());
    tape.clone().backward(&loss).unwrap();
    // The tape is finished: running it again fails, and new ops on its tensors record nothing.
    assert!(tape.is_finished());
    assert!(tape.clone().backward(&loss).is_err());
    let after = x.exp().unwrap();
    assert!(!after.is_tracked());
}

#[test]
fn work_without_a_tape_records_nothing() {
    let x = t(&[1.0, 2.0], &[2]);
    let y = x.exp().unwrap().sum_all().unwrap();
    assert!(!y.is_tracked());
}

#[test]
fn a_non_scalar_output_needs_a_seed() {
    let tape = Tape::new();
    let x0 = t(&[1.0, 2.0], &[2]);
    let x = tape.watch(&x0);
    let y = x.square().unwrap();
    assert!(tape.clone().backward(&y).is_err());
    let seed = t(&[1.0, 10.0], &[2]);
    let grads = tape.backward_with_seed(&y, &seed).unwrap();
    assert_eq!(grads.wrt(&x0).unwrap().to_vec_f64(), vec![2.0, 40.0]);
}

#[test]
fn dump_lists_ops_shapes_and_saved_bytes() {
    let tape = Tape::new();
    let x = tape.watch(&Tensor::zeros([4, 3], DType::F32).unwrap());
    let w = tape.watch(&Tensor::zeros([3, 2], DType::F32).unwrap());
    let _loss = x.matmul(&w).unwrap().relu().unwrap().sum_all().unwrap();
    let dump = tape.dump();
    assert!(dump.contains("3 ops, 2 watched"), "{dump}");
    assert!(
        dump.contains("matmul") && dump.contains("[4, 3], [3, 2] -> [4, 2]"),
        "{dump}"
    );
    // matmul saves x (48 B) and w (24 B); relu saves its input and output (32 B each).
    assert!(
        dump.contains("saved 72 B") && dump.contains("saved 64 B"),
        "{dump}"
    );
    assert!(dump.contains("total saved: 136 B"), "{dump}");
}

#[test]
fn the_gradient_checker_catches_a_wrong_rule() {
    // f(x) = x · sg(x) hides a stop-gradient: its true derivative is 2x but the tape says x.
    // The checker must notice (a check that cannot fail proves nothing).
    let x = t(&[0.5, -1.5], &[2]);
    let wrong = ops::gradcheck::check_gradients(
        |xs| xs[0].mul(&xs[0].detach()),
        &[x],
        &ops::gradcheck::GradCheck::default(),
    );
    assert!(wrong.is_err(), "a wrong gradient passed the check");
}
