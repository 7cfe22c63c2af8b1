//! Resuming from a checkpoint continues a run bit for bit on the CPU.
//!
//! A small MLP (Linear → BatchNorm → ReLU → Dropout → Linear, written here on the `Module`
//! trait) trains on Gaussian blobs with minibatches drawn by a seeded generator, a dropout
//! mask drawn from the model's own generator, gradient clipping and a warm-up + cosine LR.
//! Run A trains N steps without stopping and saves a checkpoint after step K. Run B starts
//! from other weights and other generator seeds, loads that file, restores the model (params
//! and BN running statistics), the optimiser, both generators and the config, and trains steps
//! K..N. The losses of steps K..N and every final tensor must be equal bit for bit.
//!
//! For SGD the resumed run happens in a fresh process: this test binary re-runs itself with
//! `ANGLEGRAD_RESUME_CHILD` set, and hands back its losses and final state in a checkpoint.

use std::path::{Path, PathBuf};
use std::process::Command;

use anglegrad_engine::{DType, Grads, Result, Rng, Tape, Tensor};
use anglegrad_models::{join, use_param, Mode, Module};
use anglegrad_ops::{BatchNormOptions, RunningStats, TensorOps};
use anglegrad_train::checkpoint::{rng_from_state, rng_state, Checkpoint};
use anglegrad_train::optim::{
    clip_grad_norm, AdamW, AdamWConfig, LrSchedule, Optimizer, ParamGroup, Params, Sgd, SgdConfig,
    WarmupCosine,
};
use serde_json::{json, Value};

const DIM: usize = 4;
const HIDDEN: usize = 8;
const CLASSES: usize = 3;
const BATCH: usize = 16;
const TOTAL: u64 = 12;
const RESUME_AT: u64 = 5;

struct Mlp {
    fc1_weight: Tensor,
    fc1_bias: Tensor,
    bn_weight: Tensor,
    bn_bias: Tensor,
    bn_stats: RunningStats,
    fc2_weight: Tensor,
    fc2_bias: Tensor,
    mode: Mode,
    /// Draws one dropout seed per training forward: part of the state a resume must restore.
    dropout_rng: Rng,
}

impl Mlp {
    fn new(seed: u64) -> Mlp {
        let mut rng = Rng::new(seed);
        let mut randn =
            |dims: &[usize], std: f64| Tensor::randn(dims, 0.0, std, DType::F32, &mut rng).unwrap();
        Mlp {
            fc1_weight: randn(&[HIDDEN, DIM], 0.5),
            fc1_bias: randn(&[HIDDEN], 0.1),
            bn_weight: Tensor::ones([HIDDEN], DType::F32).unwrap(),
            bn_bias: Tensor::zeros([HIDDEN], DType::F32).unwrap(),
            bn_stats: RunningStats::new(HIDDEN, DType::F32).unwrap(),
            fc2_weight: randn(&[CLASSES, HIDDEN], 0.35),
            fc2_bias: Tensor::zeros([CLASSES], DType::F32).unwrap(),
            mode: Mode::Train,
            dropout_rng: Rng::new(seed ^ 0xD20),
        }
    }
}

impl Module for Mlp {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let training = self.mode == Mode::Train;
        let h = x
            .matmul_t(&use_param(&self.fc1_weight, tape), false, true)?
            .add(&use_param(&self.fc1_bias, tape))?;
        let options = BatchNormOptions {
            training,
            ..BatchNormOptions::default()
        };
        let (g, b) = (
            use_param(&self.bn_weight, tape),
            use_param(&self.bn_bias, tape),
        );
        let h =
            anglegrad_ops::batch_norm(&h, Some(&g), Some(&b), Some(&mut self.bn_stats), options)?;
        let mut h = h.relu()?;
        if training {
            h = anglegrad_ops::dropout(&h, 0.2, self.dropout_rng.next_u64())?;
        }
        h.matmul_t(&use_param(&self.fc2_weight, tape), false, true)?
            .add(&use_param(&self.fc2_bias, tape))
    }

    fn visit_parameters(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        f(&join(prefix, "fc1.weight"), &mut self.fc1_weight);
        f(&join(prefix, "fc1.bias"), &mut self.fc1_bias);
        f(&join(prefix, "bn.weight"), &mut self.bn_weight);
        f(&join(prefix, "bn.bias"), &mut self.bn_bias);
        f(&join(prefix, "fc2.weight"), &mut self.fc2_weight);
        f(&join(prefix, "fc2.bias"), &mut self.fc2_bias);
    }

    fn visit_buffers(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        f(&join(prefix, "bn.running_mean"), &mut self.bn_stats.mean);
        f(&join(prefix, "bn.running_var"), &mut self.bn_stats.var);
    }

    fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }
}

/// Three Gaussian blobs in 4-D, 20 points each.
fn blobs() -> (Tensor, Vec<usize>) {
    let mut rng = Rng::new(99);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..60 {
        let c = i % CLASSES;
        for d in 0..DIM {
            x.push((if d == c { 2.0 } else { 0.0 } + 0.7 * rng.normal()) as f32);
        }
        y.push(c);
    }
    (Tensor::from_vec(x, [60, DIM]).unwrap(), y)
}

fn config(optimizer: &str) -> Value {
    json!({ "optimizer": optimizer, "lr": 0.2, "warmup": 3, "total_steps": TOTAL, "final_lr": 0.01,
            "momentum": 0.9, "weight_decay": 5e-4, "clip": 1.0 })
}

fn optimizer(config: &Value) -> Box<dyn Optimizer> {
    let wd = config["weight_decay"].as_f64().unwrap();
    let groups = vec![ParamGroup::no_weight_decay()];
    match config["optimizer"].as_str().unwrap() {
        "sgd" => Box::new(
            Sgd::new(
                SgdConfig {
                    nesterov: true,
                    ..SgdConfig::momentum(0.9, wd)
                },
                groups,
            )
            .unwrap(),
        ),
        _ => Box::new(
            AdamW::new(
                AdamWConfig {
                    weight_decay: wd,
                    ..AdamWConfig::default()
                },
                groups,
            )
            .unwrap(),
        ),
    }
}

fn schedule(config: &Value) -> WarmupCosine {
    let f = |k: &str| config[k].as_f64().unwrap();
    let u = |k: &str| config[k].as_u64().unwrap();
    WarmupCosine::new(f("lr"), u("warmup"), 0.1, u("total_steps"), f("final_lr")).unwrap()
}

/// Everything a run carries from step to step.
struct Run {
    model: Mlp,
    opt: Box<dyn Optimizer>,
    data_rng: Rng,
    config: Value,
    losses: Vec<f32>,
}

impl Run {
    fn fresh(optimizer_kind: &str, seed: u64) -> Run {
        let config = config(optimizer_kind);
        Run {
            model: Mlp::new(seed),
            opt: optimizer(&config),
            data_rng: Rng::new(seed ^ 0xDA7A),
            config,
            losses: Vec::new(),
        }
    }

    fn train(&mut self, steps: std::ops::Range<u64>) {
        let (x, y) = blobs();
        let lr = schedule(&self.config);
        let clip = self.config["clip"].as_f64().unwrap();
        for step in steps {
            let idx: Vec<usize> = (0..BATCH).map(|_| self.data_rng.below(y.len())).collect();
            let xb = anglegrad_ops::index_select(&x, 0, &idx).unwrap();
            let yb: Vec<usize> = idx.iter().map(|&i| y[i]).collect();
            let tape = Tape::new();
            let logits = self.model.forward(&xb, Some(&tape)).unwrap();
            let loss = anglegrad_ops::cross_entropy(&logits, &yb).unwrap();
            self.losses.push(loss.to_vec::<f32>().unwrap()[0]);
            let mut grads: Grads = tape.backward(&loss).unwrap();
            clip_grad_norm(&mut grads, &mut self.model, clip).unwrap();
            let updated = self.opt.step(&mut self.model, &grads, lr.lr(step)).unwrap();
            assert_eq!(updated, 6);
        }
    }

    fn checkpoint(&mut self, step: u64) -> Checkpoint {
        let mut ck = Checkpoint::new(step);
        ck.add_params(&mut self.model).unwrap();
        ck.set_optimizer(self.opt.as_ref());
        ck.rng.insert("data".into(), rng_state(&self.data_rng));
        ck.rng
            .insert("dropout".into(), rng_state(&self.model.dropout_rng));
        ck.config = self.config.clone();
        ck
    }

    /// A run rebuilt from a file: other initial weights and seeds, then everything restored.
    fn resume(path: &Path) -> (Run, u64) {
        let ck = Checkpoint::load(path).unwrap();
        let kind = ck.config["optimizer"].as_str().unwrap().to_string();
        let mut run = Run::fresh(&kind, 12345);
        assert_eq!(ck.restore_params(&mut run.model).unwrap(), 8);
        ck.restore_optimizer(run.opt.as_mut()).unwrap();
        run.data_rng = rng_from_state(ck.rng("data").unwrap());
        run.model.dropout_rng = rng_from_state(ck.rng("dropout").unwrap());
        run.config = ck.config.clone();
        (run, ck.step)
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anglegrad-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run A: N steps, saving after K. Returns its losses and its final checkpoint.
fn uninterrupted(kind: &str, save_to: &Path) -> (Vec<f32>, Checkpoint) {
    let mut run = Run::fresh(kind, 7);
    run.train(0..RESUME_AT);
    run.checkpoint(RESUME_AT).save(save_to).unwrap();
    run.train(RESUME_AT..TOTAL);
    let end = run.checkpoint(TOTAL);
    (run.losses, end)
}

fn assert_same_bits(a: &Checkpoint, b: &Checkpoint) {
    let bits = |t: &Tensor| {
        t.to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        a.tensors.keys().collect::<Vec<_>>(),
        b.tensors.keys().collect::<Vec<_>>()
    );
    for (name, t) in &a.tensors {
        assert_eq!(bits(t), bits(&b.tensors[name]), "{name}");
    }
    let (sa, sb) = (
        &a.optimizer.as_ref().unwrap().1,
        &b.optimizer.as_ref().unwrap().1,
    );
    for (name, st) in &sa.params {
        assert_eq!(st.step, sb.params[name].step);
        for (slot, buf) in &st.buffers {
            assert_eq!(
                bits(buf),
                bits(&sb.params[name].buffers[slot]),
                "{name}.{slot}"
            );
        }
    }
    assert_eq!(a.rng, b.rng);
}

fn assert_losses_bitwise(full: &[f32], resumed: &[f32]) {
    let tail = &full[RESUME_AT as usize..];
    assert_eq!(resumed.len(), tail.len());
    for (i, (a, b)) in tail.iter().zip(resumed).enumerate() {
        assert_eq!(
            a.to_bits(),
            b.to_bits(),
            "step {}: {a} vs {b}",
            RESUME_AT as usize + i
        );
    }
    // The run learns (so the comparison is not between constants).
    assert!(full[full.len() - 1] < full[0], "losses {full:?}");
}

#[test]
fn resume_adamw_in_process_is_bit_exact() {
    let dir = scratch("adamw");
    let path = dir.join("step5.safetensors");
    let (full, end_a) = uninterrupted("adamw", &path);
    let (mut run, step) = Run::resume(&path);
    assert_eq!(step, RESUME_AT);
    run.train(step..TOTAL);
    assert_losses_bitwise(&full, &run.losses);
    assert_same_bits(&end_a, &run.checkpoint(TOTAL));
    std::fs::remove_dir_all(dir).unwrap();
}

const CHILD_ENV: &str = "ANGLEGRAD_RESUME_CHILD";

#[test]
fn resume_sgd_in_a_fresh_process_is_bit_exact() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        // The child: a new process that knows only the file.
        let dir = PathBuf::from(dir);
        let (mut run, step) = Run::resume(&dir.join("step5.safetensors"));
        run.train(step..TOTAL);
        let mut end = run.checkpoint(TOTAL);
        end.config["resumed_losses_bits"] =
            json!(run.losses.iter().map(|l| l.to_bits()).collect::<Vec<_>>());
        end.save(&dir.join("child_end.safetensors")).unwrap();
        return;
    }
    let dir = scratch("sgd");
    let (full, end_a) = uninterrupted("sgd", &dir.join("step5.safetensors"));
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "resume_sgd_in_a_fresh_process_is_bit_exact",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir)
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "the resumed process failed: {}\n{}{}",
        child.status,
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    let end_b = Checkpoint::load(&dir.join("child_end.safetensors")).unwrap();
    let resumed: Vec<f32> = end_b.config["resumed_losses_bits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| f32::from_bits(b.as_u64().unwrap() as u32))
        .collect();
    assert_losses_bitwise(&full, &resumed);
    assert_same_bits(&end_a, &end_b);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_wrong_resume_is_detected() {
    // Control: restoring everything but the data generator changes the losses, so the
    // bitwise comparisons above do test the restored state.
    let dir = scratch("control");
    let path = dir.join("step5.safetensors");
    let (full, _) = uninterrupted("sgd", &path);
    let (mut run, step) = Run::resume(&path);
    run.data_rng = Rng::new(1);
    run.train(step..TOTAL);
    assert_ne!(full[RESUME_AT as usize], run.losses[0]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn all_parameters_are_restored_and_buffers_too() {
    let mut a = Mlp::new(1);
    let mut b = Mlp::new(2);
    let mut ck = Checkpoint::new(0);
    ck.add_params(&mut a).unwrap();
    assert_eq!(ck.restore_params(&mut b).unwrap(), 8);
    let (pa, pb) = (a.named_params(), b.named_params());
    for ((na, ta), (nb, tb)) in pa.iter().zip(&pb) {
        assert_eq!(na, nb);
        assert_eq!(ta.to_vec::<f32>().unwrap(), tb.to_vec::<f32>().unwrap());
    }
}
