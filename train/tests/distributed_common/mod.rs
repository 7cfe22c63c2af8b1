//! The checks shared by `distributed.rs` (R threads of one process, the loopback group: runs
//! under plain `cargo test`) and `distributed_mpi.rs` (R processes under `mpirun`, feature
//! `mpi`): a data-parallel step through the sharded margin head, compared with the
//! single-process step on the whole batch.
//!
//! The model of each case: x = X_in · A + b (a linear "backbone" with replicated parameters A
//! [5, D] and b [D]), then the margin head over C classes. The single-process step:
//! L = mean over the N samples of the head's loss (the `MarginSoftmax` of the losses crate —
//! `arcface_default()` and friends; see [`oracle_head`] — and, per row, the fused
//! single-process op). The
//! distributed step on rank r: its block of B = N/R samples, its block of the classes
//! (`ClassShard`), L_r = mean of its rows, backward, then `average_gradients` (A, b replicated;
//! the class block sharded). Every rank must end with ∂L/∂A, ∂L/∂b, its block of ∂L/∂W, its
//! rows ℓ_i and mean_r L_r = L.

#![allow(dead_code)]

use std::sync::Arc;

use anglegrad_engine::{DType, Rng, Tape, Tensor};
use anglegrad_losses::arcface::{arcface, arcface_default, combined};
use anglegrad_losses::cosface::cosface;
use anglegrad_losses::normface::normface;
use anglegrad_losses::MarginSoftmax;
use anglegrad_ops::{self as ops, Fallback, GradientMode, MarginHead, TensorOps};
use anglegrad_train::distributed::{
    average_gradients, sample_classes, ClassShard, Collective, CollectiveExt, ReduceOp,
    ShardedMarginHead,
};
use anglegrad_train::optim::NamedTensors;

/// One comparison.
#[derive(Clone)]
pub struct Case {
    pub name: String,
    pub head: MarginSoftmax,
    pub dtype: DType,
    pub classes: usize,
    /// Samples per rank B.
    pub per_rank: usize,
    pub dim: usize,
    /// Partial FC sample rate (1 = every class).
    pub rate: f64,
}

/// The worst errors of one rank in one case: |a − b| / max|b| over each tensor (the loss:
/// |a − b| / max(1, |b|)).
#[derive(Clone, Debug)]
pub struct Errors {
    pub case: String,
    pub rank: usize,
    pub loss: f64,
    pub rows: f64,
    pub d_a: f64,
    pub d_b: f64,
    pub d_w: f64,
}

impl Errors {
    pub fn worst(&self) -> f64 {
        [self.loss, self.rows, self.d_a, self.d_b, self.d_w]
            .into_iter()
            .fold(0.0, f64::max)
    }
}

/// The tolerance of the brief: 1e-12 in f64, 1e-6 in f32.
pub fn tolerance(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-12,
        _ => 1e-6,
    }
}

/// The heads and shapes checked, in f64 and f32: C not a multiple of R, chunks smaller than a
/// rank's block (several chunks per rank), partial FC at 0.5 and 0.1.
pub fn cases() -> Vec<Case> {
    let heads: Vec<(&str, MarginSoftmax)> = vec![
        ("arcface_default", arcface_default()),
        (
            "arcface detached, no fallback",
            arcface(64.0, 0.5, GradientMode::Detached, Fallback::None),
        ),
        ("cosface", cosface(64.0, 0.35)),
        ("normface", normface(10.0)),
        ("combined", combined(64.0, 1.0, 0.3, 0.2)),
    ];
    let mut out = Vec::new();
    for dtype in [DType::F64, DType::F32] {
        for (name, head) in &heads {
            out.push(Case {
                name: format!("{name} {dtype} C=23 chunk=4"),
                head: head.fused(4),
                dtype,
                classes: 23,
                per_rank: 4,
                dim: 8,
                rate: 1.0,
            });
        }
        for rate in [0.5, 0.1] {
            out.push(Case {
                name: format!("arcface_default {dtype} partial FC {rate} C=101 chunk=5"),
                head: arcface_default().fused(5),
                dtype,
                classes: 101,
                per_rank: 3,
                dim: 6,
                rate,
            });
        }
    }
    out
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths");
    let scale = max_abs(want).max(1e-300);
    got.iter()
        .zip(want)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()))
        / scale
}

/// The key of rank r's partial-FC generator at `step` (the test's; the trainer uses its own).
fn sample_rng(rank: usize, step: u64) -> Rng {
    Rng::keyed(2024, 0x5046_4331, step, rank as u64)
}

struct Data {
    x_in: Tensor,
    a: Tensor,
    b: Tensor,
    w: Tensor,
    labels: Vec<usize>,
}

fn data(case: &Case, world: usize) -> Data {
    let n = case.per_rank * world;
    let mut rng = Rng::new(17 + case.classes as u64);
    let x_in = Tensor::randn([n, 5], 0.0, 1.0, case.dtype, &mut rng).unwrap();
    let a = Tensor::randn([5, case.dim], 0.0, 1.0, case.dtype, &mut rng).unwrap();
    let b = Tensor::randn([case.dim], 0.0, 0.5, case.dtype, &mut rng).unwrap();
    let w = Tensor::randn([case.classes, case.dim], 0.0, 1.0, case.dtype, &mut rng).unwrap();
    // Repeated labels (two samples of one class, on different ranks) and the last class.
    let mut labels: Vec<usize> = (0..n).map(|_| rng.below(case.classes)).collect();
    labels[n - 1] = labels[0];
    labels[1] = case.classes - 1;
    Data {
        x_in,
        a,
        b,
        w,
        labels,
    }
}

/// The single-process step: loss, rows, ∂A, ∂b, ∂W (whole).
struct Oracle {
    loss: f64,
    rows: Vec<f64>,
    d_a: Vec<f64>,
    d_b: Vec<f64>,
    d_w: Vec<f64>,
}

/// The single-process head that the distributed one must match: in f64 the composite head of
/// the losses crate (ops on the [N, C] logits); in f32 the fused single-process op, because f32
/// rounding alone separates the composite and fused single-process heads by ~2e-6 (relative)
/// — more than the 1e-6 budget — so in f32 only the same arithmetic is a fair reference.
fn oracle_head(case: &Case) -> MarginSoftmax {
    match case.dtype {
        DType::F64 => MarginSoftmax {
            fused_chunk: None,
            ..case.head
        },
        _ => case.head.fused(7),
    }
}

fn oracle(case: &Case, d: &Data, world: usize) -> Oracle {
    // The classes of the step: all, or the union of every rank's partial-FC sample.
    let mut used: Vec<usize> = Vec::new();
    for r in 0..world {
        let shard = ClassShard::new(case.classes, r, world).unwrap();
        let positives: Vec<usize> = d
            .labels
            .iter()
            .filter(|&&y| shard.holds(y))
            .map(|&y| y - shard.start)
            .collect();
        let s = sample_classes(shard.len(), &positives, case.rate, &mut sample_rng(r, 0)).unwrap();
        used.extend(s.index.iter().map(|&c| c + shard.start));
    }
    let labels: Vec<usize> = d
        .labels
        .iter()
        .map(|y| used.binary_search(y).expect("positives are sampled"))
        .collect();
    let tape = Tape::new();
    let (a, b, w) = (tape.watch(&d.a), tape.watch(&d.b), tape.watch(&d.w));
    let x = d.x_in.matmul(&a).unwrap().add(&b).unwrap();
    let w_used = w.index_select(0, &used).unwrap();
    let loss = oracle_head(case)
        .loss("oracle", &x, &w_used, &labels)
        .unwrap();
    // The per-sample rows: the fused single-process op.
    let head = MarginHead {
        chunk: 7,
        eps: case.head.norm_eps,
        ..MarginHead::new(case.head.s, case.head.margin.as_op())
    };
    let rows = ops::fused_margin_softmax_rows(&x.detach(), &w_used.detach(), &labels, head)
        .unwrap()
        .to_vec_f64();
    let value = loss.to_scalar_f64().unwrap();
    let grads = tape.backward(&loss).unwrap();
    Oracle {
        loss: value,
        rows,
        d_a: grads.wrt(&a).unwrap().to_vec_f64(),
        d_b: grads.wrt(&b).unwrap().to_vec_f64(),
        d_w: grads.wrt(&w).unwrap().to_vec_f64(),
    }
}

/// Runs `case` on this rank of `comm` and returns its worst errors against the single-process
/// step (which every rank computes for itself, from the same seeded data).
pub fn run_case(comm: &Arc<dyn Collective>, case: &Case) -> Errors {
    let (rank, world) = (comm.rank(), comm.world_size());
    let d = data(case, world);
    let want = oracle(case, &d, world);

    let head = ShardedMarginHead::new(&case.head, case.classes, comm.clone())
        .unwrap()
        .with_sample_rate(case.rate)
        .unwrap();
    let shard = head.shard;
    let mut replicated: NamedTensors = [("a", d.a.clone()), ("b", d.b.clone())]
        .into_iter()
        .collect();
    let mut sharded: NamedTensors = [("w", shard.slice_rows(&d.w).unwrap())]
        .into_iter()
        .collect();
    let tape = Tape::new();
    let a = tape.watch(replicated.get("a").unwrap());
    let b = tape.watch(replicated.get("b").unwrap());
    let w = tape.watch(sharded.get("w").unwrap());
    let (first, bl) = (rank * case.per_rank, case.per_rank);
    let x = d
        .x_in
        .narrow(0, first, bl)
        .unwrap()
        .matmul(&a)
        .unwrap()
        .add(&b)
        .unwrap();
    let rows = head
        .rows(
            &x,
            &w,
            &d.labels[first..first + bl],
            &mut sample_rng(rank, 0),
        )
        .unwrap();
    let loss = rows.mean_all().unwrap();
    let mut mean_loss = [loss.to_scalar_f64().unwrap() / world as f64];
    comm.all_reduce_slice(&mut mean_loss, ReduceOp::Sum)
        .unwrap();
    let row_values = rows.to_vec_f64();
    let mut grads = tape.backward(&loss).unwrap();
    // Tiny buckets: A and b travel in separate all-reduces.
    let calls =
        average_gradients(&mut grads, &mut replicated, &mut sharded, comm.as_ref(), 64).unwrap();
    if world > 1 {
        assert_eq!(calls, 2, "one bucket per replicated tensor");
    }
    let dim = case.dim;
    Errors {
        case: case.name.clone(),
        rank,
        loss: (mean_loss[0] - want.loss).abs() / want.loss.abs().max(1.0),
        rows: rel_err(&row_values, &want.rows[first..first + bl]),
        d_a: rel_err(&grads.wrt(&a).unwrap().to_vec_f64(), &want.d_a),
        d_b: rel_err(&grads.wrt(&b).unwrap().to_vec_f64(), &want.d_b),
        d_w: rel_err(
            &grads.wrt(&w).unwrap().to_vec_f64(),
            &want.d_w[shard.start * dim..shard.end * dim],
        ),
    }
}
