//! The training loop, top to bottom in the order of the data flow (DESIGN.md §1):
//! data -> sampler -> batch -> backbone -> loss -> backward -> optimiser step -> state update,
//! with evaluation on held-out identities, metrics, checkpoints and plots along the way.

use std::path::Path;
use std::time::Instant;

use anglegrad_engine::{Tape, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::backbone::{self, BoxedModule};
use super::config::TrainConfig;
use super::dataset::{BatchKey, TrainData};
use super::evaluate::verify;
use super::metrics::MetricsLog;
use super::objective::{low_resolution, Objective};
use crate::checkpoint::Checkpoint;
use crate::distributed::Distributed;
use crate::error::{Error, Result};
use crate::eval::VerificationReport;
use crate::loader::{PkSampler, Prefetcher, ShuffledEpochs};
use crate::optim::{
    select, AdamW, AdamWConfig, Constant, LrSchedule, MultiStepLr, Optimizer, ParamGroup, Sgd,
    SgdConfig, WarmupCosine, WarmupPoly,
};
use crate::plots::{feature_scatter, line_chart, roc_chart, Series};

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub steps: u64,
    pub final_loss: f64,
    pub images_per_s: f64,
    /// The last evaluation (None when the data has no benchmark).
    pub verification: Option<VerificationReport>,
    /// The raw-pixel floor of the same benchmark.
    pub raw_pixels: Option<VerificationReport>,
    pub seconds: f64,
    /// This process's rank (0 in a single-process run; only rank 0 reports).
    pub rank: usize,
}

fn engine(e: anglegrad_engine::Error) -> Error {
    Error::Invalid(e.to_string())
}

/// A batch as the loader thread prepares it.
struct Batch {
    x: Vec<f32>,
    labels: Vec<usize>,
}

fn optimizer(cfg: &TrainConfig) -> Result<Box<dyn Optimizer>> {
    // The margin head's W may get its own lr; biases, BN and PReLU parameters no weight decay.
    let groups = vec![
        ParamGroup::new("head", select::prefix("head.")).lr_mult(cfg.head_lr_mult),
        ParamGroup::no_weight_decay(),
    ];
    Ok(match cfg.optimizer.as_str() {
        "adamw" => Box::new(
            AdamW::new(
                AdamWConfig {
                    weight_decay: cfg.weight_decay,
                    ..AdamWConfig::default()
                },
                groups,
            )
            .map_err(engine)?,
        ),
        _ => Box::new(
            Sgd::new(
                SgdConfig {
                    momentum: cfg.momentum,
                    weight_decay: cfg.weight_decay,
                    ..SgdConfig::default()
                },
                groups,
            )
            .map_err(engine)?,
        ),
    })
}

fn schedule(cfg: &TrainConfig, steps_per_epoch: u64, total: u64) -> Result<Box<dyn LrSchedule>> {
    let warmup = ((cfg.warmup_epochs * steps_per_epoch as f64) as u64).min(total.saturating_sub(1));
    Ok(match cfg.schedule.as_str() {
        "cosine" => Box::new(WarmupCosine::new(cfg.lr, warmup, 0.1, total, 0.0).map_err(engine)?),
        "poly" => Box::new(WarmupPoly::arcface(cfg.lr, warmup, total).map_err(engine)?),
        "step" => Box::new(
            MultiStepLr::new(cfg.lr, vec![total * 6 / 10, total * 85 / 100], 0.1)
                .map_err(engine)?,
        ),
        _ => Box::new(Constant(cfg.lr)),
    })
}

/// Trains as `cfg` says; prints progress and writes `<out>/{config.json, metrics.jsonl,
/// checkpoint.safetensors, *.png}`. With `cfg.distributed` = mpi or nccl, this process is one
/// rank of R (`mpirun -np R`): see `crate::distributed`; rank 0 prints and writes the files.
pub fn run(cfg: &TrainConfig) -> Result<RunSummary> {
    cfg.validate()?;
    run_with(cfg, Distributed::connect(&cfg.distributed)?)
}

/// [`run`] as one rank of the group `dist` (whatever `cfg.distributed` says): the tests run
/// the loop on in-process loopback ranks. An error on one rank ends the group.
pub fn run_with(cfg: &TrainConfig, mut dist: Distributed) -> Result<RunSummary> {
    let result = train(cfg, &mut dist);
    if let Err(e) = &result {
        dist.abort_on_error(e);
    }
    result
}

fn train(cfg: &TrainConfig, dist: &mut Distributed) -> Result<RunSummary> {
    cfg.validate()?;
    let cfg = &dist.rank_config(cfg);
    let root = dist.is_root();
    let started = Instant::now();
    if cfg.threads > 0 {
        // Ignored if the global pool already exists (a second run in one process).
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(cfg.threads)
            .build_global();
    }
    std::fs::create_dir_all(&cfg.out).map_err(|e| Error::io(&cfg.out, e))?;
    let config_path = cfg.out.join("config.json");
    let config_json =
        serde_json::to_string_pretty(cfg).map_err(|e| Error::Invalid(e.to_string()))?;
    std::fs::write(&config_path, config_json).map_err(|e| Error::io(&config_path, e))?;

    // ----- data -----
    let data = TrainData::load(&cfg.data)?;
    let [c, h, w] = data.input_dims();
    if root {
        println!(
            "data {}: {} images of {} identities, {c}x{h}x{w}{}",
            data.name,
            data.len(),
            data.classes,
            data.eval.as_ref().map_or(String::new(), |e| format!(
                "; evaluation: {} pairs in {} folds",
                e.pairs.len(),
                e.folds
            ))
        );
    }
    let raw_pixels = match (&data.eval, root) {
        (Some(e), true) => Some(e.raw_pixel_report()?),
        _ => None,
    };
    if let Some(r) = &raw_pixels {
        println!("raw-pixel floor: {r}");
    }

    // ----- model, loss, optimiser -----
    let mut model = backbone::build(
        &cfg.backbone,
        [c, h, w],
        cfg.embedding,
        cfg.width_divisor,
        cfg.seed,
    )?;
    let mut objective = Objective::new(cfg, data.classes, cfg.embedding).map_err(engine)?;
    let mut opt = optimizer(cfg)?;
    dist.prepare(cfg, &mut model, &mut objective)?;
    if root {
        println!(
            "model {} (width ÷{}): {:.2}M parameters, embedding {}; loss {}",
            cfg.backbone,
            cfg.width_divisor,
            model.parameter_count() as f64 / 1e6,
            cfg.embedding,
            super::objective::describe(&objective)
        );
    }
    if dist.world_size() > 1 || cfg.partial_fc < 1.0 {
        println!("{}", dist.describe());
    }

    // ----- batches -----
    let (pk, shuffled) = if objective.needs_pk() {
        let p = (cfg.batch / cfg.k).max(2);
        (
            Some(PkSampler::new(&data.labels, p, cfg.k, cfg.seed)?),
            None,
        )
    } else {
        (
            None,
            Some(ShuffledEpochs::new(data.len(), cfg.batch, cfg.seed)?),
        )
    };
    let steps_per_epoch = pk.as_ref().map_or_else(
        || shuffled.as_ref().map_or(0, |s| s.batches_per_epoch()),
        |s| s.batches_per_epoch(),
    ) as u64;
    let mut total = steps_per_epoch * cfg.epochs as u64;
    if cfg.max_steps > 0 {
        total = total.min(cfg.max_steps as u64);
    }
    let lr_schedule = schedule(cfg, steps_per_epoch, total.max(2))?;

    // ----- resume -----
    let ckpt_path = cfg.out.join("checkpoint.safetensors");
    let mut step = 0u64;
    if let Some(path) = &cfg.resume {
        let mut ck = Checkpoint::load(path).map_err(|e| Error::Invalid(e.to_string()))?;
        dist.shard_checkpoint(&mut ck)?;
        ck.restore_params(&mut model)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        ck.restore_params(&mut objective.head)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        if !objective.state.is_empty() {
            ck.restore_params(&mut objective.state)
                .map_err(|e| Error::Invalid(e.to_string()))?;
        }
        ck.restore_optimizer(opt.as_mut())
            .map_err(|e| Error::Invalid(e.to_string()))?;
        if let Ok(iter) = ck.rng("lambda_iter") {
            objective.set_lambda_iter(iter);
        }
        step = ck.step;
        if root {
            println!("resumed from {} at step {step}", path.display());
        }
    }

    let mut metrics = MetricsLog::open(&cfg.out.join("metrics.jsonl"))?;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:28}] {pos}/{len} {msg} (ETA {eta})")
            .map_err(|e| Error::Invalid(e.to_string()))?
            .progress_chars("=> "),
    );
    if !root {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_position(step);
    let mut losses: Vec<(f64, f64)> = Vec::new();
    let mut accuracy_curve: Vec<(f64, f64)> = Vec::new();
    let mut last_report = None;
    let (mut trained_images, train_clock) = (0usize, Instant::now());
    let mut last_loss = f64::NAN;
    let make = std::sync::Arc::new(data.keyed_batch_maker());
    let dims = |b: usize| [b, c, h, w];

    let first_epoch = (step / steps_per_epoch.max(1)) as usize;
    for epoch in first_epoch..cfg.epochs {
        if step >= total {
            break;
        }
        bar.set_prefix(format!("epoch {}/{}", epoch + 1, cfg.epochs));
        let batches = dist.batches(match (&pk, &shuffled) {
            (Some(s), _) => s.epoch(epoch),
            (_, Some(s)) => s.epoch(epoch),
            _ => unreachable!("one sampler is set"),
        });
        let skip = (step - epoch as u64 * steps_per_epoch) as usize;
        let remaining: Vec<Vec<usize>> = batches
            .into_iter()
            .skip(skip)
            .take((total - step) as usize)
            .collect();
        let (labels_all, maker, seed) = (data.labels.clone(), make.clone(), cfg.seed);
        let first = dist.block_offset(remaining.first().map_or(0, Vec::len));
        let loader = Prefetcher::new(remaining.len(), 2, move |i| {
            let idx = &remaining[i];
            let (epoch, step) = (epoch as u64, (skip + i) as u64);
            let key = BatchKey {
                seed,
                epoch,
                step,
                first,
            };
            Batch {
                x: maker(idx, key),
                labels: idx.iter().map(|&j| labels_all[j]).collect(),
            }
        });
        for batch in loader {
            let t0 = Instant::now();
            let b = batch.labels.len();
            let tape = Tape::new();
            let x = Tensor::from_vec(batch.x.clone(), dims(b)).map_err(engine)?;
            let emb = model.forward(&x, Some(&tape)).map_err(engine)?;
            let student = if objective.needs_student_view() {
                let low =
                    Tensor::from_vec(low_resolution(&batch.x, dims(b)), dims(b)).map_err(engine)?;
                Some(model.forward(&low, Some(&tape)).map_err(engine)?)
            } else {
                None
            };
            let loss = dist.loss(
                &mut objective,
                &emb,
                &batch.labels,
                &tape,
                student.as_ref(),
                step,
            )?;
            let value = dist.average_loss(loss.to_scalar_f64().map_err(engine)?)?;
            if !value.is_finite() {
                bar.abandon();
                return Err(Error::Invalid(format!(
                    "the loss became {value} at step {step} (epoch {}): lower --lr, or check the data",
                    epoch + 1
                )));
            }
            let mut grads = tape.backward(&loss).map_err(engine)?;
            dist.reduce_gradients(&mut grads, &mut model, &mut objective)?;
            let grad_norm = if cfg.clip_norm > 0.0 {
                dist.clip_grad_norm(&mut grads, &mut model, &mut objective, cfg.clip_norm)?
            } else {
                f64::NAN
            };
            let lr = lr_schedule.lr(step);
            opt.step(&mut model, &grads, lr).map_err(engine)?;
            opt.step(&mut objective.head, &grads, lr).map_err(engine)?;
            objective.after_step(&emb, &batch.labels).map_err(engine)?;

            step += 1;
            let b = b * dist.world_size(); // the global batch
            trained_images += b;
            last_loss = value;
            let ips = b as f64 / t0.elapsed().as_secs_f64();
            losses.push((step as f64, value));
            metrics.write(&json!({"kind": "step", "epoch": epoch + 1, "step": step, "loss": value, "lr": lr, "grad_norm": grad_norm, "images_per_s": ips}))?;
            bar.set_message(format!("loss {value:.4} lr {lr:.4} {ips:.1} img/s"));
            bar.inc(1);
        }
        // ----- end of epoch: evaluate, checkpoint -----
        let last_epoch = epoch + 1 == cfg.epochs || step >= total;
        if let (Some(eval), true) = (&data.eval, root) {
            if (epoch + 1) % cfg.eval_every == 0 || last_epoch {
                let report = verify(model.as_mut(), eval, cfg.flip_test)?;
                bar.suspend(|| {
                    println!(
                        "epoch {}: loss {last_loss:.4}  verification {report}",
                        epoch + 1
                    )
                });
                accuracy_curve.push(((epoch + 1) as f64, 100.0 * report.accuracy.mean));
                metrics.write(&json!({
                    "kind": "eval", "epoch": epoch + 1, "step": step,
                    "accuracy": report.accuracy.mean, "accuracy_std": report.accuracy.std,
                    "auc": report.auc, "eer": report.eer,
                }))?;
                last_report = Some(report);
            }
        } else if root {
            bar.suspend(|| println!("epoch {}: loss {last_loss:.4}", epoch + 1));
        }
        save_checkpoint(
            dist,
            &ckpt_path,
            step,
            cfg,
            &mut model,
            &mut objective,
            opt.as_ref(),
            [c, h, w],
        )?;
    }
    bar.finish_and_clear();
    let images_per_s = trained_images as f64 / train_clock.elapsed().as_secs_f64().max(1e-9);

    // ----- figures -----
    if root {
        if let Err(e) = figures(cfg, &losses, &accuracy_curve, &data, &mut model) {
            println!("note: figures not written ({e})");
        }
    }
    Ok(RunSummary {
        steps: step,
        final_loss: last_loss,
        images_per_s,
        verification: last_report,
        raw_pixels,
        seconds: started.elapsed().as_secs_f64(),
        rank: dist.rank(),
    })
}

#[allow(clippy::too_many_arguments)]
fn save_checkpoint(
    dist: &Distributed,
    path: &Path,
    step: u64,
    cfg: &TrainConfig,
    model: &mut BoxedModule,
    objective: &mut Objective,
    opt: &dyn Optimizer,
    input: [usize; 3],
) -> Result<()> {
    let wrap = |e: crate::checkpoint::CheckpointError| Error::Invalid(e.to_string());
    let mut ck = Checkpoint::new(step);
    ck.add_params(model).map_err(wrap)?;
    ck.add_params(&mut objective.head).map_err(wrap)?;
    if !objective.state.is_empty() {
        ck.add_params(&mut objective.state).map_err(wrap)?;
    }
    ck.set_optimizer(opt);
    if let Some(iter) = objective.lambda_iter() {
        ck.rng.insert("lambda_iter".into(), iter);
    }
    ck.rng.insert("seed".into(), cfg.seed);
    ck.config = serde_json::to_value(cfg).map_err(|e| Error::Invalid(e.to_string()))?;
    // The input size the backbone was built for, so `examples/eval.rs` can rebuild it.
    ck.config["input"] = serde_json::json!(input);
    // A sharded head is gathered whole (every rank takes part); rank 0 writes the file.
    dist.gather_checkpoint(&mut ck)?;
    if dist.is_root() {
        ck.save(path).map_err(wrap)?;
    }
    Ok(())
}

fn figures(
    cfg: &TrainConfig,
    losses: &[(f64, f64)],
    accuracy: &[(f64, f64)],
    data: &TrainData,
    model: &mut BoxedModule,
) -> Result<()> {
    if !losses.is_empty() {
        // A running mean over 20 steps makes the trend readable.
        let smooth: Vec<(f64, f64)> = losses
            .iter()
            .enumerate()
            .map(|(i, &(s, _))| {
                let lo = i.saturating_sub(19);
                (
                    s,
                    losses[lo..=i].iter().map(|p| p.1).sum::<f64>() / (i - lo + 1) as f64,
                )
            })
            .collect();
        line_chart(
            &cfg.out.join("loss.png"),
            &format!("{} loss", cfg.loss),
            "step",
            "loss",
            &[Series {
                name: "loss (mean of 20 steps)",
                points: smooth,
            }],
        )?;
    }
    if !accuracy.is_empty() {
        line_chart(
            &cfg.out.join("accuracy.png"),
            "verification accuracy (10-fold)",
            "epoch",
            "accuracy %",
            &[Series {
                name: "held-out identities",
                points: accuracy.to_vec(),
            }],
        )?;
    }
    if let Some(eval) = &data.eval {
        let (emb, dim) = super::evaluate::embed(model.as_mut(), eval, cfg.flip_test)?;
        let idx: Vec<(usize, usize)> = eval.pairs.iter().map(|p| (p.0, p.1)).collect();
        let same: Vec<bool> = eval.pairs.iter().map(|p| p.2).collect();
        let roc = crate::eval::Roc::new(&crate::eval::cosine_scores(&emb, dim, &idx)?, &same)?;
        let points: Vec<(f64, f64)> = roc.points.iter().map(|p| (p.far, p.tar)).collect();
        roc_chart(
            &cfg.out.join("roc.png"),
            &format!("ROC, {} on {}", cfg.loss, data.name),
            &points,
        )?;
        if dim == 2 {
            let pts: Vec<(f32, f32)> = emb.chunks_exact(2).map(|p| (p[0], p[1])).collect();
            let identity = eval
                .identity
                .clone()
                .unwrap_or_else(|| vec![0; eval.images.n]);
            feature_scatter(
                &cfg.out.join("features.png"),
                &format!("2-D features, {}", cfg.loss),
                &pts,
                &identity,
            )?;
        }
    }
    Ok(())
}
