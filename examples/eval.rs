//! Evaluates a trained model on a verification benchmark: the 10-fold accuracy, AUC, EER,
//! TAR@FAR and the ROC curve as a PNG.
//!
//!     cargo run --release --example eval -- --checkpoint runs/train/checkpoint.safetensors \
//!         --pairs lfw/pairs.txt --images lfw/                  # LFW layout, JPEG files
//!     cargo run --release --example eval -- --checkpoint … --bin lfw.bin   # insightface .bin
//!     cargo run --release --example eval -- --checkpoint … --data glyphs   # a built-in benchmark
//!
//! The checkpoint's configuration (written by `examples/train.rs`) says which backbone to
//! rebuild and for which input size; images are converted to that size's channels and must
//! have its height and width (or an integer multiple of it, shrunk by area averaging).

use std::path::PathBuf;

use anglegrad::train::checkpoint::Checkpoint;
use anglegrad::train::eval::{cosine_scores, Roc};
use anglegrad::train::plots::roc_chart;
use anglegrad::train::trainer::evaluate::embed;
use anglegrad::train::trainer::{backbone, benchmark, TrainConfig, TrainData};
use anyhow::{bail, Context};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Verification report of a trained anglegrad model on a pairs benchmark")]
struct Args {
    /// A checkpoint written by examples/train.rs.
    #[arg(long)]
    checkpoint: PathBuf,
    /// An LFW-style pairs.txt (with --images).
    #[arg(long)]
    pairs: Option<PathBuf>,
    /// The image root of --pairs: <root>/<name>/<name>_<NNNN>.<ext>.
    #[arg(long)]
    images: Option<PathBuf>,
    /// File extension of the images of --pairs.
    #[arg(long, default_value = "jpg")]
    ext: String,
    /// An insightface verification .bin (lfw.bin, agedb_30.bin, …).
    #[arg(long)]
    bin: Option<PathBuf>,
    /// A built-in benchmark: synthetic:<preset>[@size], fashion-mnist or glyphs.
    #[arg(long)]
    data: Option<String>,
    /// Skip flip test-time augmentation.
    #[arg(long)]
    no_flip_test: bool,
    /// Where to write roc.png.
    #[arg(long, default_value = "runs/eval")]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let ck = Checkpoint::load(&a.checkpoint)?;
    let input: [usize; 3] = serde_json::from_value(ck.config["input"].clone())
        .context("the checkpoint has no input size (was it written by examples/train.rs?)")?;
    let cfg: TrainConfig =
        serde_json::from_value(ck.config.clone()).context("the checkpoint's configuration")?;
    let mut model = backbone::build(
        &cfg.backbone,
        input,
        cfg.embedding,
        cfg.width_divisor,
        cfg.seed,
    )?;
    ck.restore_params(&mut model)?;
    println!(
        "model {} ({} steps of {} on {}), input {:?}",
        cfg.backbone, ck.step, cfg.loss, cfg.data, input
    );

    let (set, name) = if let Some(spec) = &a.data {
        let data = TrainData::load(spec)?;
        (
            data.eval
                .with_context(|| format!("{spec} has no verification benchmark"))?,
            spec.clone(),
        )
    } else if let Some(bin) = &a.bin {
        (benchmark::from_bin(bin, input)?, bin.display().to_string())
    } else if let (Some(pairs), Some(root)) = (&a.pairs, &a.images) {
        (
            benchmark::from_pairs_txt(pairs, root, &a.ext, input)?,
            pairs.display().to_string(),
        )
    } else {
        bail!("give --data, --bin, or --pairs with --images");
    };

    let (emb, dim) = embed(&mut model, &set, !a.no_flip_test)?;
    let report = set.report(&emb, dim)?;
    println!("{name}: {} pairs in {} folds", set.pairs.len(), set.folds);
    println!("{report}");
    let idx: Vec<(usize, usize)> = set.pairs.iter().map(|p| (p.0, p.1)).collect();
    let same: Vec<bool> = set.pairs.iter().map(|p| p.2).collect();
    let roc = Roc::new(&cosine_scores(&emb, dim, &idx)?, &same)?;
    std::fs::create_dir_all(&a.out)?;
    let points: Vec<(f64, f64)> = roc.points.iter().map(|p| (p.far, p.tar)).collect();
    match roc_chart(&a.out.join("roc.png"), &format!("ROC on {name}"), &points) {
        Ok(()) => println!("ROC curve: {}", a.out.join("roc.png").display()),
        Err(e) => println!("note: no ROC figure ({e})"),
    }
    Ok(())
}
