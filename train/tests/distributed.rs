//! The distributed math without MPI: R threads of this process play R ranks (the loopback
//! group), and every check of `distributed_common` must hold — the sharded margin head with
//! gradient averaging gives the single-process loss and gradients, to 1e-12 in f64 and 1e-6 in
//! f32 (relative to each tensor's largest value). `distributed_mpi.rs` runs the same checks
//! with real processes under `mpirun`.

mod distributed_common;

use std::sync::Arc;

use anglegrad_engine::{DType, Rng, Tape, Tensor};
use anglegrad_losses::arcface::arcface_default;
use anglegrad_train::distributed::{Collective, Loopback, ShardedMarginHead, SingleProcess};
use distributed_common::{cases, run_case, tolerance, Errors};

fn run_all(world: usize) -> Vec<Errors> {
    let cases = cases();
    let per_rank = Loopback::run(world, |comm| {
        let comm: Arc<dyn Collective> = Arc::new(comm);
        cases.iter().map(|c| run_case(&comm, c)).collect::<Vec<_>>()
    });
    per_rank.into_iter().flatten().collect()
}

fn check(world: usize) {
    let cases = cases();
    let errors = run_all(world);
    let mut worst = [0.0f64; 2];
    for e in &errors {
        let case = cases.iter().find(|c| c.name == e.case).unwrap();
        let slot = usize::from(case.dtype == DType::F32);
        worst[slot] = worst[slot].max(e.worst());
        assert!(
            e.worst() <= tolerance(case.dtype),
            "R={world} rank {}: {} off by {e:?} (tolerance {})",
            e.rank,
            e.case,
            tolerance(case.dtype)
        );
    }
    println!(
        "R={world}: {} cases x {world} ranks; worst relative error f64 {:.2e} (budget 1e-12), f32 {:.2e} (budget 1e-6)",
        cases.len(),
        worst[0],
        worst[1]
    );
}

#[test]
fn sharded_head_matches_single_process_on_two_ranks() {
    check(2);
}

#[test]
fn sharded_head_matches_single_process_on_three_ranks() {
    check(3);
}

#[test]
fn one_rank_is_the_single_process_head() {
    check(1);
}

#[test]
fn the_single_process_group_runs_the_same_code() {
    let comm: Arc<dyn Collective> = Arc::new(SingleProcess);
    for case in cases() {
        let e = run_case(&comm, &case);
        assert!(e.worst() <= tolerance(case.dtype), "{e:?}");
    }
}

#[test]
fn mismatched_ranks_and_bad_inputs_are_errors_not_hangs() {
    let out = Loopback::run(2, |comm| {
        let comm: Arc<dyn Collective> = Arc::new(comm);
        let head = ShardedMarginHead::new(&arcface_default(), 10, comm.clone()).unwrap();
        let mut rng = Rng::new(0);
        let w = Tensor::zeros([head.shard.len(), 4], DType::F64).unwrap();
        // Rank 1 brings 3 samples, rank 0 two: both ranks get an error.
        let b = 2 + comm.rank();
        let x = Tensor::ones([b, 4], DType::F64).unwrap();
        let uneven = head.rows(&x, &w, &vec![0; b], &mut rng).is_err();
        // A label past C, and a class block of the wrong size, fail before any exchange.
        let x = Tensor::ones([2, 4], DType::F64).unwrap();
        let bad_label = head.rows(&x, &w, &[0, 10], &mut rng).is_err();
        let wrong_block = Tensor::zeros([3, 4], DType::F64).unwrap();
        let bad_block = head.rows(&x, &wrong_block, &[0, 1], &mut rng).is_err();
        let rate = head.clone().with_sample_rate(0.0).is_err();
        uneven && bad_label && bad_block && rate
    });
    assert_eq!(out, vec![true, true]);
}

#[test]
fn too_few_classes_for_the_ranks_is_an_error() {
    let out = Loopback::run(3, |comm| {
        ShardedMarginHead::new(&arcface_default(), 2, Arc::new(comm)).is_err()
    });
    assert!(out.into_iter().all(|e| e));
}

#[test]
fn the_sharded_head_records_one_op_and_frees_it() {
    let out = Loopback::run(2, |comm| {
        let head = ShardedMarginHead::new(&arcface_default().fused(3), 8, Arc::new(comm)).unwrap();
        let mut rng = Rng::new(1);
        let tape = Tape::new();
        let x = tape.watch(&Tensor::randn([2, 4], 0.0, 1.0, DType::F32, &mut rng).unwrap());
        let w = tape.watch(&Tensor::randn([4, 4], 0.0, 1.0, DType::F32, &mut rng).unwrap());
        let loss = head.loss(&x, &w, &[0, 7], &mut rng).unwrap();
        let names = tape.op_names();
        let grads = tape.backward(&loss).unwrap();
        (names, grads.wrt(&x).unwrap().dims().to_vec())
    });
    for (names, dx) in out {
        assert_eq!(names[0], "sharded_margin_softmax");
        assert_eq!(dx, vec![2, 4]);
    }
}

/// With every label on rank 0's classes, rank 1 holds no target: its rows still come out, and
/// the loss still matches (checked by the table) — here just that nothing is NaN.
#[test]
fn ranks_without_targets_contribute_only_to_the_normaliser() {
    let out = Loopback::run(2, |comm| {
        let head = ShardedMarginHead::new(&arcface_default(), 6, Arc::new(comm)).unwrap();
        let mut rng = Rng::new(5);
        let x = Tensor::randn([3, 4], 0.0, 1.0, DType::F64, &mut rng).unwrap();
        let w = Tensor::randn([3, 4], 0.0, 1.0, DType::F64, &mut rng).unwrap();
        head.rows(&x, &w, &[0, 1, 2], &mut rng)
            .unwrap()
            .to_vec_f64()
    });
    for rows in out {
        assert!(rows.iter().all(|v| v.is_finite() && *v > 0.0), "{rows:?}");
    }
}
