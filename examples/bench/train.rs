//! The `train` part of `bench_json`: one full training step, exactly what the peers'
//! `py/bench_train.py` times, so the rows group with PyTorch's.
//!
//! A step is: forward, loss head, `tape.backward`, optimiser step (SGD, lr 0.01, momentum 0.9,
//! weight decay 5e-4 on every parameter, as `torch.optim.SGD(params, ...)` there). Cases:
//!
//! | case | model | head and loss |
//! |---|---|---|
//! | `cifar_resnet18 b64 3x32x32` | CIFAR ResNet-18, fc → 10 | softmax cross-entropy |
//! | `face_resnet18 b32 3x112x112` | torchvision ResNet-18, fc 512→512 + BatchNorm1d(512) | ArcFace (s 64, m 0.5) over 10,000 classes, W [10000, 512] ~ N(0, 0.01²) |
//! | `lenetpp b128 1x28x28` | LeNet++ (features [B, 2], logits [B, 10]) | CE + 0.003 · ½Σ‖f − c_y‖²/B, learnable centres (zeros) |
//!
//! Each case runs in a child process of its own (as the peers do), so `peak_rss_mb` (VmHWM)
//! is that case's peak. FLOP per step follow the peers' convention (torch's FlopCounterMode:
//! convolutions and matrix products only, backward = input grad + weight grad, each as much as
//! the forward; no input grad for the first convolution): counted from the tape's nodes.

use std::time::Instant;

use anglegrad::engine::{DType, Result, Rng, Tape, Tensor};
use anglegrad::losses::arcface::arcface_default;
use anglegrad::losses::center::{center_loss, CenterMode};
use anglegrad::models::{
    BatchNorm1d, LeNetPlusPlus, LeNetPlusPlusConfig, Module, ResNet, ResNetConfig,
};
use anglegrad::ops::{self, MarginHead, TensorOps};
use anglegrad::train::optim::{Joined, NamedTensors, Optimizer, Params, Sgd, SgdConfig};

/// (key, case string as the peers print it, batch, image [C, H, W], timed steps).
pub const CASES: [(&str, &str, usize, [usize; 3], usize); 3] = [
    (
        "face_resnet18",
        "face_resnet18 b32 3x112x112",
        32,
        [3, 112, 112],
        5,
    ),
    ("lenetpp", "lenetpp b128 1x28x28", 128, [1, 28, 28], 10),
    (
        "cifar_resnet18",
        "cifar_resnet18 b64 3x32x32",
        64,
        [3, 32, 32],
        5,
    ),
];

/// Classes of the face case's ArcFace head.
const FACE_CLASSES: usize = 10_000;

/// The backbone of a case.
enum Net {
    ResNet(Box<ResNet>),
    LeNet(Box<LeNetPlusPlus>),
}

impl Net {
    fn params(&mut self) -> &mut dyn Params {
        match self {
            Net::ResNet(m) => m.as_mut(),
            Net::LeNet(m) => m.as_mut(),
        }
    }
}

/// A model, its head and its optimiser: everything one step touches.
struct Trainer {
    key: &'static str,
    model: Net,
    /// The face case's embedding BatchNorm1d (torch's `bn_emb`).
    bn_emb: Option<BatchNorm1d>,
    /// Parameters outside the model: ArcFace's W or the centres.
    head: NamedTensors,
    opt: Sgd,
    x: Tensor,
    labels: Vec<usize>,
}

impl Trainer {
    fn new(key: &'static str, batch: usize, image: [usize; 3]) -> Result<Trainer> {
        let mut rng = Rng::new(0);
        let dims = [batch, image[0], image[1], image[2]];
        let x = Tensor::randn(dims, 0.0, 1.0, DType::F32, &mut rng)?;
        let mut head = NamedTensors::new();
        let (model, bn_emb, classes) = match key {
            "cifar_resnet18" => {
                let m = ResNet::new(ResNetConfig::cifar_resnet18(10), DType::F32, &mut rng)?;
                (Net::ResNet(Box::new(m)), None, 10)
            }
            "face_resnet18" => {
                let m = ResNet::new(ResNetConfig::resnet18(512), DType::F32, &mut rng)?;
                let w = Tensor::randn([FACE_CLASSES, 512], 0.0, 0.01, DType::F32, &mut rng)?;
                head.push("head.weight", w);
                let bn = BatchNorm1d::new(512, DType::F32)?;
                (Net::ResNet(Box::new(m)), Some(bn), FACE_CLASSES)
            }
            "lenetpp" => {
                let cfg = LeNetPlusPlusConfig::mnist();
                let m = LeNetPlusPlus::new(cfg, DType::F32, &mut rng)?;
                head.push("centers", Tensor::zeros([10, 2], DType::F32)?);
                (Net::LeNet(Box::new(m)), None, 10)
            }
            other => panic!("unknown train case {other}"),
        };
        let labels = (0..batch).map(|_| rng.below(classes)).collect();
        let opt = Sgd::new(SgdConfig::momentum(0.9, 5e-4), Vec::new())?;
        Ok(Trainer {
            key,
            model,
            bn_emb,
            head,
            opt,
            x,
            labels,
        })
    }

    /// The loss of the current batch, recorded on `tape`.
    fn loss(&mut self, tape: &Tape) -> Result<Tensor> {
        let y = &self.labels;
        match (&mut self.model, self.key) {
            (Net::ResNet(m), "face_resnet18") => {
                let emb = m.forward(&self.x, Some(tape))?;
                let bn = self.bn_emb.as_mut().expect("face case has bn_emb");
                let emb = bn.forward(&emb, Some(tape))?;
                let w = tape.watch(self.head.get("head.weight").expect("head weight"));
                let arcface = arcface_default();
                if std::env::var_os("BENCH_COMPOSITE_HEAD").is_some() {
                    return arcface.loss("arcface", &emb, &w, y);
                }
                let head = MarginHead {
                    eps: arcface.norm_eps,
                    ..MarginHead::new(arcface.s, arcface.margin.as_op())
                };
                ops::fused_margin_softmax_rows(&emb, &w, y, head)?.mean_all()
            }
            (Net::LeNet(m), _) => {
                let (feat, logits) = m.forward_with_logits(&self.x, Some(tape))?;
                let centers = tape.watch(self.head.get("centers").expect("centres"));
                let center = center_loss(&feat, &centers, y, CenterMode::Learnable)?;
                let b = y.len() as f64;
                ops::cross_entropy(&logits, y)?.add(&center.scale(0.003 / b)?)
            }
            (Net::ResNet(m), _) => ops::cross_entropy(&m.forward(&self.x, Some(tape))?, y),
        }
    }

    /// One training step; returns the loss and, when asked, the tape's FLOP count.
    fn step(&mut self, count_flop: bool) -> Result<(f64, f64)> {
        let (t0, c0) = (Instant::now(), cpu_ms());
        let tape = Tape::new();
        let loss = self.loss(&tape)?;
        let (t_fwd, c_fwd) = (t0.elapsed().as_secs_f64(), cpu_ms());
        let flop = if count_flop {
            tape_flop(&tape.dump(), self.x.dims())
        } else {
            0.0
        };
        let grads = tape.backward(&loss)?;
        let (t_bwd, c_bwd) = (t0.elapsed().as_secs_f64(), cpu_ms());
        let mut params = Joined::new().with(self.model.params()).with(&mut self.head);
        if let Some(bn) = self.bn_emb.as_mut() {
            params = params.with(bn);
        }
        self.opt.step(&mut params, &grads, 0.01)?;
        drop(grads);
        if std::env::var_os("BENCH_TRAIN_PHASES").is_some() {
            let ms = |a: f64, b: f64| (b - a) * 1e3;
            let (t_end, c_end) = (t0.elapsed().as_secs_f64(), cpu_ms());
            eprintln!(
                "{}: wall (cpu) ms: forward {:.0} ({:.0}), backward {:.0} ({:.0}), optimiser {:.0} ({:.0})",
                self.key,
                ms(0.0, t_fwd),
                c_fwd - c0,
                ms(t_fwd, t_bwd),
                c_bwd - c_fwd,
                ms(t_bwd, t_end),
                c_end - c_bwd,
            );
        }
        Ok((loss.to_scalar_f64()?, flop))
    }
}

/// FLOP of one step from the tape's listing (`Tape::dump`), in the peers' convention:
/// conv2d 2·|y|·Cin/G·KH·KW forward, the same again for dW and for dX (except where the input
/// is the image itself); matmul 2·m·n·k forward, 2x that backward; the fused margin head
/// [B, D]·[C, D]ᵀ likewise.
fn tape_flop(dump: &str, image: &[usize]) -> f64 {
    let mut total = 0.0;
    for line in dump.lines() {
        let mut words = line.split_whitespace();
        let (Some(_index), Some(op)) = (words.next(), words.next()) else {
            continue;
        };
        let shapes: Vec<Vec<usize>> = line
            .split('[')
            .skip(1)
            .filter_map(|s| s.split(']').next())
            .map(|s| s.split(", ").filter_map(|d| d.parse().ok()).collect())
            .collect();
        let numel = |s: &Vec<usize>| s.iter().product::<usize>() as f64;
        match (op, shapes.as_slice()) {
            ("conv2d", [x, w, .., y]) => {
                let fwd = 2.0 * numel(y) * (w[1] * w[2] * w[3]) as f64;
                total += fwd * if x.as_slice() == image { 2.0 } else { 3.0 };
            }
            ("matmul", [a, b, c]) if a.len() == 2 && b.len() == 2 => {
                let k = (numel(a) * numel(b) / numel(c)).sqrt();
                total += 3.0 * 2.0 * numel(c) * k;
            }
            ("fused_margin_softmax", [x, w, ..]) if x.len() == 2 && w.len() == 2 => {
                total += 3.0 * 2.0 * (x[0] * x[1] * w[0]) as f64;
            }
            _ => {}
        }
    }
    total
}

/// CPU time (user + system, all threads) this process has used so far, in ms (10 ms ticks):
/// on a machine shared with other work it moves far less than the wall clock.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces, so split after its ')'):
    // state is field 3, utime 14 and stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    if f.len() < 13 {
        return 0.0;
    }
    (f[11] + f[12]) * 10.0
}

/// This process's peak resident memory (VmHWM) in MiB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Runs one case in this process and prints its record (called in the child process).
pub fn run_case(key: &str, threads: usize) -> Result<()> {
    let &(key, case, batch, image, reps) = CASES
        .iter()
        .find(|c| c.0 == key)
        .unwrap_or_else(|| panic!("unknown train case {key}"));
    let reps = std::env::var("BENCH_TRAIN_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(reps);
    let mut trainer = Trainer::new(key, batch, image)?;
    // As the peers: one (FLOP-counted) step, one warm-up step, then the timed steps.
    let (loss0, flop) = trainer.step(true)?;
    assert!(loss0.is_finite(), "{case}: loss {loss0}");
    trainer.step(false)?;
    let (mut ms, mut cpu) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
    for _ in 0..reps {
        let (t, c) = (Instant::now(), cpu_ms());
        trainer.step(false)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        cpu.push(cpu_ms() - c);
    }
    cpu.sort_by(f64::total_cmp);
    let mut sorted = ms.clone();
    sorted.sort_by(f64::total_cmp);
    let images_per_s = batch as f64 / (sorted[sorted.len() / 2] / 1e3);
    let extra = format!(
        ", \"images_per_s\": {images_per_s:.2}, \"peak_rss_mb\": {:.1}, \"cpu_ms_median\": {:.0}, \"loss0\": {loss0:.4}",
        peak_rss_mb(),
        cpu[cpu.len() / 2]
    );
    super::emit("train", case, threads, &ms, flop, &extra);
    Ok(())
}

/// Runs the wanted cases, each in a child process (`--train-case KEY`) so that its peak RSS is
/// its own; falls back to this process when the child cannot be started.
pub fn train_cases(threads: usize, want: &dyn Fn(&str, &str) -> bool) {
    for (key, case, ..) in CASES {
        if !want("train", case) {
            continue;
        }
        let child = std::env::current_exe().and_then(|exe| {
            std::process::Command::new(exe)
                .args(["--threads", &threads.to_string(), "--train-case", key])
                .stderr(std::process::Stdio::inherit())
                .output()
        });
        match child {
            Ok(out) if out.status.success() => {
                print!("{}", String::from_utf8_lossy(&out.stdout));
            }
            Ok(out) => eprintln!("train case {case}: child failed ({})", out.status),
            Err(_) => {
                if let Err(e) = run_case(key, threads) {
                    eprintln!("train case {case}: {e}");
                }
            }
        }
    }
}
