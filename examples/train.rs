//! Trains a face-recognition model and reports verification accuracy on held-out identities.
//!
//!     cargo run --release --example train                 # ResNet-18 (half width) + ArcFace
//!     cargo run --release --example train -- --help       # every option
//!     cargo run --release --example train -- --loss cosface --data glyphs --backbone cifar_resnet18
//!
//! With no arguments it trains on the built-in synthetic faces (no download) for a few minutes
//! on 2 cores. Outputs go to `--out` (default runs/train): config.json, metrics.jsonl (one line
//! per step and per evaluation), checkpoint.safetensors (written atomically after every epoch;
//! `--resume` continues from it), loss.png, accuracy.png, roc.png (and features.png for 2-D
//! embeddings).
//!
//! On several processes (MPI; `--batch` is the global batch, split over the ranks):
//!
//!     cargo build --release --features mpi --example train
//!     mpirun -np 2 target/release/examples/train --distributed mpi --threads 1

use std::path::PathBuf;

use anglegrad::train::trainer::{run, TrainConfig};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Train a face-recognition model with any loss of anglegrad and evaluate it")]
struct Args {
    /// Training data: synthetic:<tiny|small|face112>[@size], fashion-mnist, glyphs,
    /// idx:<images>,<labels>, folder:<root>, recordio:<prefix>.
    #[arg(long, default_value_t = TrainConfig::default().data)]
    data: String,
    /// Backbone: resnet18, resnet34, resnet50, cifar_resnet18, iresnet18, iresnet34,
    /// iresnet50, iresnet100, mobilefacenet, lenetpp.
    #[arg(long, default_value_t = TrainConfig::default().backbone)]
    backbone: String,
    /// Divide every channel count of the backbone by this (1 = the reference network).
    #[arg(long, default_value_t = TrainConfig::default().width_divisor)]
    width_divisor: usize,
    /// Embedding dimension (2 for the 2-D feature figure).
    #[arg(long, default_value_t = TrainConfig::default().embedding)]
    embedding: usize,
    /// Loss (see `cargo run --example loss_eval -- --list`): softmax, focal, deepid2,
    /// contrastive, triplet, lsoftmax, sphereface, normface, c_contrastive, c_triplet, cosface,
    /// arcface, combined, center, range, sv_softmax, mv_am, mv_arc, ddl.
    #[arg(long, default_value_t = TrainConfig::default().loss)]
    loss: String,
    /// A loss parameter as key=value (repeatable), e.g. --param s=64 --param m=0.5. Without
    /// any --param the run uses ArcFace with s=30 (the default loss) or the loss's defaults.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    #[arg(long, default_value_t = TrainConfig::default().batch)]
    batch: usize,
    /// Samples per identity in P×K batches (pair, triplet, range, DDL losses).
    #[arg(long, default_value_t = TrainConfig::default().k)]
    k: usize,
    /// sgd (momentum 0.9) or adamw.
    #[arg(long, default_value_t = TrainConfig::default().optimizer)]
    optimizer: String,
    /// Peak learning rate.
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    lr: f64,
    /// Learning-rate multiplier of the classifier head W.
    #[arg(long, default_value_t = TrainConfig::default().head_lr_mult)]
    head_lr_mult: f64,
    #[arg(long, default_value_t = TrainConfig::default().weight_decay)]
    weight_decay: f64,
    /// cosine (with warm-up), poly (insightface), step, constant.
    #[arg(long, default_value_t = TrainConfig::default().schedule)]
    schedule: String,
    #[arg(long, default_value_t = TrainConfig::default().warmup_epochs)]
    warmup_epochs: f64,
    /// Clip the global gradient norm (0 = off).
    #[arg(long, default_value_t = TrainConfig::default().clip_norm)]
    clip_norm: f64,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = TrainConfig::default().threads)]
    threads: usize,
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// Output directory.
    #[arg(long, default_value = "runs/train")]
    out: PathBuf,
    /// Resume from a checkpoint (e.g. runs/train/checkpoint.safetensors).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Evaluate without flip test-time augmentation.
    #[arg(long)]
    no_flip_test: bool,
    /// Stop after this many steps (0 = all epochs).
    #[arg(long, default_value_t = 0)]
    max_steps: usize,
    /// Run as one rank of several processes: mpi or nccl (build with --features mpi / nccl,
    /// start with `mpirun -np R`). --batch stays the global batch, split over the ranks.
    #[arg(long, default_value_t = TrainConfig::default().distributed)]
    distributed: String,
    /// Partial FC: the fraction of each rank's classes a margin head uses per step (insightface
    /// partial_fc_v2; 1 = all).
    #[arg(long, default_value_t = TrainConfig::default().partial_fc)]
    partial_fc: f64,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let defaults = TrainConfig::default();
    let loss_params = if a.params.is_empty() && a.loss != defaults.loss {
        Vec::new()
    } else if a.params.is_empty() {
        defaults.loss_params.clone()
    } else {
        a.params
            .iter()
            .map(|p| {
                p.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .ok_or_else(|| anyhow::anyhow!("--param {p:?}: expected key=value"))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let cfg = TrainConfig {
        data: a.data,
        backbone: a.backbone,
        width_divisor: a.width_divisor,
        embedding: a.embedding,
        loss: a.loss,
        loss_params,
        epochs: a.epochs,
        batch: a.batch,
        k: a.k,
        optimizer: a.optimizer,
        lr: a.lr,
        head_lr_mult: a.head_lr_mult,
        weight_decay: a.weight_decay,
        schedule: a.schedule,
        warmup_epochs: a.warmup_epochs,
        clip_norm: a.clip_norm,
        threads: a.threads,
        seed: a.seed,
        out: a.out,
        resume: a.resume,
        flip_test: !a.no_flip_test,
        max_steps: a.max_steps,
        distributed: a.distributed,
        partial_fc: a.partial_fc,
        ..defaults
    };
    let s = run(&cfg)?;
    if s.rank != 0 {
        return Ok(()); // rank 0 reports for the whole run
    }
    println!(
        "trained {} steps in {:.0} s ({:.1} images/s), final loss {:.4}",
        s.steps, s.seconds, s.images_per_s, s.final_loss
    );
    if let (Some(v), Some(raw)) = (&s.verification, &s.raw_pixels) {
        println!(
            "verification accuracy on unseen identities: {:.2}% ± {:.2} (10-fold; raw pixels {:.2}%, chance 50%)",
            100.0 * v.accuracy.mean,
            100.0 * v.accuracy.std,
            100.0 * raw.accuracy.mean
        );
        println!("  {v}");
    }
    println!("outputs in {}", cfg.out.display());
    Ok(())
}
