//! The open-set comparison of the papers' tables: several losses, the same backbone and budget,
//! verification on identities never seen in training (DATASETS.md §3).
//!
//!     cargo run --release --example compare_losses                      # glyph identities
//!     cargo run --release --example compare_losses -- --losses softmax,arcface --epochs 4
//!
//! Data: the glyph identities (each Han character an identity, its fonts its photos; test
//! characters and test fonts unseen in training). Without the CJK fonts it falls back to the
//! synthetic faces and says so. Prints a markdown table: one row per loss, plus the two floors
//! every trained model must beat: raw pixels and the untrained network.

use std::path::PathBuf;
use std::time::Instant;

use anglegrad::train::eval::VerificationReport;
use anglegrad::train::trainer::evaluate::verify;
use anglegrad::train::trainer::{backbone, run, TrainConfig, TrainData};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Compare losses on an open-set verification benchmark")]
struct Args {
    /// Comma-separated losses (names of `loss_eval --list`).
    #[arg(long, default_value = "softmax,cosface,arcface,sphereface")]
    losses: String,
    /// glyphs (default), or any --data of examples/train.rs.
    #[arg(long, default_value = "glyphs")]
    data: String,
    #[arg(long, default_value = "cifar_resnet18")]
    backbone: String,
    #[arg(long, default_value_t = 4)]
    width_divisor: usize,
    #[arg(long, default_value_t = 128)]
    embedding: usize,
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, default_value_t = 128)]
    batch: usize,
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[arg(long, default_value = "runs/compare")]
    out: PathBuf,
}

/// Margin-loss settings for a small benchmark: s = 30 (s = 64 suits 10⁴–10⁵ classes).
fn params(loss: &str) -> Vec<(String, String)> {
    let p = |k: &str, v: &str| (k.to_string(), v.to_string());
    match loss {
        "arcface" => vec![p("s", "30")],
        "cosface" => vec![p("s", "30")],
        "combined" => vec![p("s", "30")],
        "normface" => vec![p("s", "30")],
        _ => vec![],
    }
}

fn row(name: &str, r: &VerificationReport, seconds: Option<f64>) -> String {
    let tar = r
        .tar_at_far
        .iter()
        .find(|(f, _)| *f == 1e-3)
        .map_or("—".to_string(), |(_, t)| t.to_string());
    format!(
        "| {name} | {:.2} ± {:.2} | {:.4} | {:.2} | {tar} | {} |",
        100.0 * r.accuracy.mean,
        100.0 * r.accuracy.std,
        r.auc,
        100.0 * r.eer,
        seconds.map_or("—".into(), |s| format!("{s:.0} s"))
    )
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let data_spec = match TrainData::load(&a.data) {
        Ok(_) => a.data.clone(),
        Err(e) if a.data == "glyphs" => {
            println!("note: glyph identities unavailable ({e}); using synthetic:small instead");
            "synthetic:small".to_string()
        }
        Err(e) => return Err(e.into()),
    };
    let data = TrainData::load(&data_spec)?;
    let eval = data
        .eval
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("{data_spec} has no verification benchmark"))?;
    let mut rows = vec![row("raw pixels (floor)", &eval.raw_pixel_report()?, None)];
    let mut untrained = backbone::build(
        &a.backbone,
        data.input_dims(),
        a.embedding,
        a.width_divisor,
        42,
    )?;
    rows.push(row(
        "untrained network (floor)",
        &verify(&mut untrained, eval, false)?,
        None,
    ));

    for loss in a.losses.split(',').map(str::trim).filter(|l| !l.is_empty()) {
        let cfg = TrainConfig {
            data: data_spec.clone(),
            backbone: a.backbone.clone(),
            width_divisor: a.width_divisor,
            embedding: a.embedding,
            loss: loss.to_string(),
            loss_params: params(loss),
            epochs: a.epochs,
            batch: a.batch,
            lr: a.lr,
            threads: a.threads,
            flip_test: false,
            eval_every: a.epochs,
            out: a.out.join(loss),
            ..TrainConfig::default()
        };
        println!("== {loss}");
        let t = Instant::now();
        let summary = run(&cfg)?;
        let report = summary
            .verification
            .ok_or_else(|| anyhow::anyhow!("no evaluation"))?;
        rows.push(row(loss, &report, Some(t.elapsed().as_secs_f64())));
    }
    println!(
        "\n{} on {data_spec}, {} epochs, batch {}, embedding {}, unseen identities\n",
        a.backbone, a.epochs, a.batch, a.embedding
    );
    println!("| loss | verification acc. % (10-fold) | AUC | EER % | TAR@FAR=1e-3 | train time |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
