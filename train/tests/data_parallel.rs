//! The data-parallel training loop end to end, on R threads of this process playing R ranks
//! (the loopback group; `scripts/test_mpi.sh` runs real processes).
//!
//! The central check: with a backbone without batch norm (LeNet++) the ranks' shards of every
//! batch together are the 1-process batch, each sample is augmented the same way whichever rank
//! makes it, and the gradients are averaged exactly — so 2 ranks must train *the same network*
//! as 1 process, step for step, up to float summation order. Checked for a sharded margin head
//! (ArcFace: classes split over the ranks, gradient clipping by the global norm) and for a
//! replicated head (softmax with bias), on every logged loss and every tensor of the final
//! checkpoint (the sharded head gathered whole).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anglegrad_train::checkpoint::Checkpoint;
use anglegrad_train::distributed::{Distributed, Loopback};
use anglegrad_train::trainer::{run, run_with, RunSummary, TrainConfig};

fn tiny(loss: &str, out: &Path) -> TrainConfig {
    TrainConfig {
        data: "synthetic:tiny".into(),
        backbone: "lenetpp".into(),
        width_divisor: 4,
        embedding: 8,
        loss: loss.into(),
        loss_params: vec![],
        epochs: 2,
        batch: 8,
        k: 2,
        lr: 0.05,
        threads: 1,
        out: out.to_path_buf(),
        ..TrainConfig::default()
    }
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "anglegrad-data-parallel-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `cfg` on `world` loopback ranks; every rank's summary, in rank order.
fn on_ranks(world: usize, cfg: &TrainConfig) -> Vec<anglegrad_train::Result<RunSummary>> {
    Loopback::run(world, |comm| {
        run_with(cfg, Distributed::with(Arc::new(comm)).unwrap())
    })
}

/// The losses of metrics.jsonl, one per step.
fn step_losses(out: &Path) -> Vec<f64> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "step")
        .map(|v| v["loss"].as_f64().unwrap())
        .collect()
}

/// max |a − b| / max |b| over a tensor.
fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1e-30f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

fn two_ranks_train_like_one_process(loss: &str) {
    let (one, two) = (temp(&format!("{loss}-1")), temp(&format!("{loss}-2")));
    let single = run(&tiny(loss, &one)).unwrap();
    let ranks = on_ranks(2, &tiny(loss, &two));
    let ranks: Vec<RunSummary> = ranks.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(ranks[0].rank, 0);
    assert_eq!(ranks[1].rank, 1);
    assert_eq!(ranks[0].steps, single.steps);
    assert!(ranks[0].verification.is_some(), "rank 0 evaluates");
    assert!(ranks[1].verification.is_none(), "rank 1 does not");
    // Rank 1 writes only its logs, under rank1/.
    assert!(two.join("rank1/metrics.jsonl").is_file());
    assert!(!two.join("rank1/checkpoint.safetensors").exists());

    let (want, got) = (step_losses(&one), step_losses(&two));
    assert_eq!(want.len(), got.len());
    let loss_diff = rel_diff(&got, &want);
    assert!(
        loss_diff < 1e-5,
        "{loss}: step losses differ by {loss_diff:.2e}: {got:?} vs {want:?}"
    );

    let a = Checkpoint::load(&one.join("checkpoint.safetensors")).unwrap();
    let b = Checkpoint::load(&two.join("checkpoint.safetensors")).unwrap();
    assert_eq!(
        a.tensors.keys().collect::<Vec<_>>(),
        b.tensors.keys().collect::<Vec<_>>()
    );
    let mut worst = 0.0f64;
    for (name, t) in &a.tensors {
        assert_eq!(
            t.dims(),
            b.tensors[name].dims(),
            "{name}: the head is gathered whole"
        );
        let d = rel_diff(&b.tensors[name].to_vec_f64(), &t.to_vec_f64());
        assert!(d < 1e-4, "{loss}: {name} differs by {d:.2e}");
        worst = worst.max(d);
    }
    // Training really moved (the comparison is not of two initialisations).
    assert!(
        a.step > 0 && (want[0] - want[want.len() - 1]).abs() > 1e-3,
        "{want:?}"
    );
    println!(
        "{loss}: 2 ranks vs 1 process over {} steps: losses {loss_diff:.1e}, parameters {worst:.1e} (relative)",
        single.steps
    );
    std::fs::remove_dir_all(&one).ok();
    std::fs::remove_dir_all(&two).ok();
}

#[test]
fn two_ranks_with_the_sharded_margin_head_train_like_one_process() {
    two_ranks_train_like_one_process("arcface");
}

#[test]
fn two_ranks_with_a_replicated_head_train_like_one_process() {
    two_ranks_train_like_one_process("softmax");
}

#[test]
fn a_checkpoint_of_two_ranks_with_partial_fc_resumes_on_one() {
    let out = temp("partial-fc");
    let cfg = TrainConfig {
        epochs: 1,
        partial_fc: 0.5,
        ..tiny("cosface", &out)
    };
    for r in on_ranks(2, &cfg) {
        assert!(r.unwrap().final_loss.is_finite());
    }
    let saved = Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    // 16 identities, all of them in the file (not rank 0's 8).
    assert_eq!(saved.tensors["head.weight"].dims(), &[16, 8]);
    let resumed = TrainConfig {
        epochs: 2,
        resume: Some(out.join("checkpoint.safetensors")),
        ..cfg
    };
    let s = run(&resumed).unwrap();
    assert_eq!(
        s.steps,
        2 * saved.step,
        "continued from the 2-rank run's step"
    );
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn what_cannot_be_split_is_an_error_on_every_rank() {
    let out = temp("errors");
    // The centre update is not an average of per-rank updates.
    for r in on_ranks(2, &tiny("center", &out)) {
        let e = r.unwrap_err().to_string();
        assert!(e.contains("centre loss"), "{e}");
    }
    // A global batch of 9 does not split over 2 ranks.
    let odd = TrainConfig {
        batch: 9,
        ..tiny("arcface", &out)
    };
    for r in on_ranks(2, &odd) {
        assert!(r.unwrap_err().to_string().contains("does not split"));
    }
    // Partial FC needs a margin head.
    let pfc = TrainConfig {
        partial_fc: 0.5,
        ..tiny("softmax", &out)
    };
    assert!(run(&pfc).unwrap_err().to_string().contains("margin-head"));
    std::fs::remove_dir_all(&out).ok();
}
