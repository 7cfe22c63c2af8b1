//! The distributed checks with real processes: MPI (feature `mpi`), 2 ranks on this machine.
//!
//!     cargo test -p anglegrad-train --features mpi --test distributed_mpi
//!
//! Started by cargo, this binary launches itself under `mpirun -np 2` (OpenMPI: with
//! `--oversubscribe`, and allowed to run as root) and passes on the ranks' exit status. Started
//! by `mpirun` (it sees `OMPI_COMM_WORLD_SIZE` or `PMI_SIZE`), it is a rank: it runs every
//! check, rank 0 prints the worst errors and the closing `N passed, M failed` line, and any
//! failure makes every rank exit non-zero. `ANGLEGRAD_MPI_RANKS` sets another rank count.
//!
//! The checks: the five collectives on known values; every case of `distributed_common` (the
//! sharded margin head in a data-parallel step against the single-process step: 1e-12 in f64,
//! 1e-6 in f32); checkpoint blocks gathered and re-sharded; the training loop over MPI (a few
//! ArcFace steps of a LeNet++, which has no batch norm, on the tiny synthetic set) logging the
//! same losses as the 1-process loop, as `data_parallel.rs` checks on loopback ranks.

mod distributed_common;

use std::process::{Command, ExitCode};
use std::sync::Arc;

use anglegrad_engine::{DType, Tensor};
use anglegrad_train::checkpoint::Checkpoint;
use anglegrad_train::distributed::checkpoint::{gather_sharded, shard_checkpoint};
use anglegrad_train::distributed::{
    ClassShard, Collective, CollectiveExt, Distributed, Mpi, ReduceOp,
};
use anglegrad_train::trainer::{run, run_with, TrainConfig};
use distributed_common::{cases, run_case, tolerance};

fn main() -> ExitCode {
    let under_mpi = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if under_mpi {
        rank_main()
    } else {
        launch()
    }
}

/// Runs this binary under `mpirun -np R` and returns its status.
fn launch() -> ExitCode {
    let ranks = std::env::var("ANGLEGRAD_MPI_RANKS").unwrap_or_else(|_| "2".into());
    let exe = std::env::current_exe().expect("the test binary's path");
    let version = Command::new("mpirun").arg("--version").output();
    let Ok(version) = version else {
        eprintln!("mpirun not found: install OpenMPI (scripts/test_mpi.sh does)");
        return ExitCode::FAILURE;
    };
    let open_mpi = String::from_utf8_lossy(&version.stdout).contains("Open MPI");
    let mut cmd = Command::new("mpirun");
    if open_mpi {
        // More ranks than cores is fine for a test; OpenMPI refuses root unless told.
        cmd.arg("--oversubscribe")
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    }
    cmd.args(["-np", &ranks]).arg(&exe);
    println!(
        "launching: mpirun {}-np {ranks} {}",
        if open_mpi { "--oversubscribe " } else { "" },
        exe.display()
    );
    match cmd.status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("mpirun exited with {s}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cannot run mpirun: {e}");
            ExitCode::FAILURE
        }
    }
}

fn rank_main() -> ExitCode {
    let mpi = Mpi::init().expect("MPI initialises");
    let comm: Arc<dyn Collective> = Arc::new(mpi);
    let (rank, world) = (comm.rank(), comm.world_size());
    let (mut passed, mut failed) = (0u64, 0u64);
    let mut record = |name: &str, ok: bool, detail: String| {
        if ok {
            passed += 1;
        } else {
            failed += 1;
            eprintln!("rank {rank}: FAILED {name}: {detail}");
        }
    };

    let (ok, detail) = collectives(comm.as_ref());
    record("collectives", ok, detail);

    let mut worst = [0.0f64; 2];
    for case in cases() {
        let e = run_case(&comm, &case);
        let slot = usize::from(case.dtype == DType::F32);
        worst[slot] = worst[slot].max(e.worst());
        record(
            &case.name,
            e.worst() <= tolerance(case.dtype),
            format!("{e:?} (tolerance {})", tolerance(case.dtype)),
        );
    }

    let (ok, detail) = checkpoint_round_trip(comm.as_ref());
    record("checkpoint gather and re-shard", ok, detail);

    let (ok, detail) = training_loop(&comm);
    record("training loop", ok, detail);

    // Every rank's counts and worst errors, combined.
    let mut counts = [passed, failed];
    comm.all_reduce_slice(&mut counts, ReduceOp::Sum).unwrap();
    comm.all_reduce_slice(&mut worst, ReduceOp::Max).unwrap();
    if rank == 0 {
        println!(
            "MPI, {world} ranks: sharded margin head vs single process, worst relative error \
             f64 {:.2e} (budget 1e-12), f32 {:.2e} (budget 1e-6)",
            worst[0], worst[1]
        );
        println!(
            "distributed_mpi: {} passed, {} failed",
            counts[0], counts[1]
        );
    }
    if counts[1] == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The five operations on values each rank can predict.
fn collectives(comm: &dyn Collective) -> (bool, String) {
    let (r, world) = (comm.rank() as f64, comm.world_size());
    let w = world as f64;
    let mut sum = vec![r, 1.0];
    comm.all_reduce_slice(&mut sum, ReduceOp::Sum).unwrap();
    let mut max = vec![r as f32, -(r as f32)];
    comm.all_reduce_slice(&mut max, ReduceOp::Max).unwrap();
    let gathered = comm.all_gather_vec(&[comm.rank() as u64 * 10]).unwrap();
    let mut b = vec![r; 3];
    comm.broadcast_slice(&mut b, world - 1).unwrap();
    let scattered = comm
        .reduce_scatter_vec(&vec![r; 2 * world], ReduceOp::Sum)
        .unwrap();
    comm.barrier().unwrap();
    let triangle = w * (w - 1.0) / 2.0;
    let ok = sum == vec![triangle, w]
        && max == vec![(w - 1.0) as f32, 0.0]
        && gathered == (0..world as u64).map(|i| 10 * i).collect::<Vec<_>>()
        && b == vec![w - 1.0; 3]
        && scattered == vec![triangle; 2];
    (
        ok,
        format!("sum {sum:?} max {max:?} gather {gathered:?} bcast {b:?} scatter {scattered:?}"),
    )
}

/// Blocks cut from a whole head, gathered back on every rank; then re-sharded for one rank.
fn checkpoint_round_trip(comm: &dyn Collective) -> (bool, String) {
    let whole = Tensor::from_vec((0..13 * 2).map(|v| v as f32).collect(), [13, 2]).unwrap();
    let mut ck = Checkpoint::new(1);
    ck.tensors.insert("head.weight".into(), whole.clone());
    let shard = ClassShard::of(13, comm).unwrap();
    shard_checkpoint(&mut ck, &["head.weight"], &shard).unwrap();
    let block_rows = ck.tensors["head.weight"].dims()[0];
    gather_sharded(&mut ck, &["head.weight"], &shard, comm).unwrap();
    let back = ck.tensors["head.weight"].to_vec_f64() == whole.to_vec_f64();
    let mut single = ck.clone();
    shard_checkpoint(
        &mut single,
        &["head.weight"],
        &ClassShard::new(13, 0, 1).unwrap(),
    )
    .unwrap();
    let resharded = single.tensors["head.weight"].dims() == [13, 2];
    (
        back && resharded && block_rows == shard.len(),
        format!("gathered back: {back}, one-rank re-shard: {resharded}, block rows {block_rows}"),
    )
}

/// The losses of `<out>/metrics.jsonl`, one per step.
fn step_losses(out: &std::path::Path) -> Vec<f64> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "step")
        .filter_map(|v| v["loss"].as_f64())
        .collect()
}

/// Every rank trains the tiny run alone, then all ranks train it together over MPI; the
/// losses logged by rank 0 must be the 1-process losses (to f32 summation order).
fn training_loop(comm: &Arc<dyn Collective>) -> (bool, String) {
    // One directory for the group (rank 0's process id), one per rank for the lone runs.
    let mut id = [std::process::id() as u64];
    comm.broadcast_slice(&mut id, 0).unwrap();
    let base = std::env::temp_dir().join(format!("anglegrad-mpi-train-{}", id[0]));
    let (alone, together) = (
        base.join(format!("alone{}", comm.rank())),
        base.join("group"),
    );
    let cfg = |out: &std::path::Path| TrainConfig {
        data: "synthetic:tiny".into(),
        backbone: "lenetpp".into(),
        width_divisor: 4,
        embedding: 8,
        loss: "arcface".into(),
        loss_params: vec![],
        epochs: 1,
        batch: 8,
        lr: 0.05,
        threads: 1,
        out: out.to_path_buf(),
        ..TrainConfig::default()
    };
    let single = run(&cfg(&alone));
    let dist = Distributed::with(comm.clone()).unwrap();
    let group = run_with(&cfg(&together), dist);
    let (want, got) = (step_losses(&alone), step_losses(&together));
    let diff = want
        .iter()
        .zip(&got)
        .map(|(a, b)| (a - b).abs() / a.abs().max(1.0))
        .fold(0.0f64, f64::max);
    let ok = single.is_ok()
        && group.is_ok()
        && (comm.rank() != 0 || (!want.is_empty() && want.len() == got.len() && diff < 1e-5));
    comm.barrier().unwrap();
    if comm.rank() == 0 {
        std::fs::remove_dir_all(&base).ok();
    }
    let detail = format!(
        "1 process: {:?}; {} ranks: {:?}; losses {want:?} vs {got:?}, worst {diff:.1e}",
        single.map(|s| s.steps),
        comm.world_size(),
        group.map(|s| s.steps)
    );
    if comm.rank() == 0 {
        println!(
            "training loop over MPI vs 1 process: {} steps, worst relative loss difference {diff:.1e}",
            got.len()
        );
    }
    (ok, detail)
}
