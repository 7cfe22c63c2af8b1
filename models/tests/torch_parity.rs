//! PyTorch parity of whole backbones: forward and backward, in training and evaluation mode.
//!
//! `tools/torch_reference/models_ref.py make_fixtures` builds tiny versions of each backbone
//! in torch (the reference layouts at a small width, checked name for name against
//! torchvision / insightface / pytorch-center-loss by its `layouts` command), with seeded f32
//! weights, random BN statistics and PReLU slopes, and computes in float64:
//! 1. a training-mode forward and the backward of L = Σ output ⊙ cotangent (output, ∂L/∂input,
//!    ∂L/∂every parameter) and the running statistics after that step;
//! 2. an evaluation-mode forward and backward from those statistics.
//!
//! Here the same configs load the weights by their PyTorch names and repeat both steps in
//! f32 (tolerance 1e-4) and in f64 (tolerance 1e-6, set by the fixture's f32 storage of the
//! expected values). The error of a tensor is max|ours − torch| / max|torch|; a gradient that
//! is zero by symmetry (a BN bias whose shift a later training-mode BN removes: torch's own
//! value is ~1e-14) is measured against the largest gradient of the model instead. The
//! fixture's metadata records torch's own f32 error on each case, 1.3e-6 … 2.8e-5.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use anglegrad_engine::{DType, Grads, Rng, Tape, Tensor};
use anglegrad_models::{
    BlockKind, IResNet, IResNetConfig, LeNetPlusPlus, LeNetPlusPlusConfig, MobileFaceNet,
    MobileFaceNetConfig, Mode, Module, ResNet, ResNetConfig, Stem,
};
use anglegrad_ops::{self as ops, TensorOps};
use common::{read_safetensors, rel_err};

/// A case's network: LeNet++ has a second output (the logits).
enum Net {
    Plain(Box<dyn Module>),
    LeNet(Box<LeNetPlusPlus>),
}

impl Net {
    fn module(&mut self) -> &mut dyn Module {
        match self {
            Net::Plain(m) => m.as_mut(),
            Net::LeNet(m) => m.as_mut(),
        }
    }

    fn outputs(&mut self, x: &Tensor, tape: Option<&Tape>) -> Vec<Tensor> {
        match self {
            Net::Plain(m) => vec![m.forward(x, tape).unwrap()],
            Net::LeNet(m) => {
                let (features, logits) = m.forward_with_logits(x, tape).unwrap();
                vec![features, logits]
            }
        }
    }
}

fn resnet(block: BlockKind, layers: [usize; 4], stem: Stem, outputs: usize) -> ResNetConfig {
    ResNetConfig {
        block,
        layers,
        in_channels: 3,
        width: 2,
        stem,
        num_outputs: Some(outputs),
        zero_init_residual: false,
    }
}

/// The configs of the fixture cases (models_ref.py's CASES).
fn build(case: &str, dtype: DType) -> Net {
    let rng = &mut Rng::new(0);
    let plain = |m: Box<dyn Module>| Net::Plain(m);
    match case {
        "resnet18_w2" => plain(Box::new(
            ResNet::new(
                resnet(BlockKind::Basic, [2; 4], Stem::ImageNet, 10),
                dtype,
                rng,
            )
            .unwrap(),
        )),
        "resnet50_b1_w2" => plain(Box::new(
            ResNet::new(
                resnet(BlockKind::Bottleneck, [1; 4], Stem::ImageNet, 6),
                dtype,
                rng,
            )
            .unwrap(),
        )),
        "cifar_resnet_b1_w2" => plain(Box::new(
            ResNet::new(
                resnet(BlockKind::Basic, [1; 4], Stem::Cifar, 10),
                dtype,
                rng,
            )
            .unwrap(),
        )),
        "iresnet18_w2" => {
            let config = IResNetConfig {
                stem_width: 2,
                widths: [2, 4, 8, 16],
                input_size: (32, 32),
                num_features: 8,
                ..IResNetConfig::iresnet18()
            };
            plain(Box::new(IResNet::new(config, dtype, rng).unwrap()))
        }
        "mobilefacenet_d16" => {
            let config = MobileFaceNetConfig {
                blocks: [1, 2, 2, 1],
                num_features: 16,
                input_size: (32, 32),
                width_divisor: 16,
                ..MobileFaceNetConfig::mbf()
            };
            plain(Box::new(MobileFaceNet::new(config, dtype, rng).unwrap()))
        }
        "lenetpp_w2" => {
            let config = LeNetPlusPlusConfig {
                widths: [2, 4, 8],
                ..LeNetPlusPlusConfig::mnist()
            };
            Net::LeNet(Box::new(LeNetPlusPlus::new(config, dtype, rng).unwrap()))
        }
        other => panic!("unknown case {other}"),
    }
}

const CASES: [&str; 6] = [
    "resnet18_w2",
    "resnet50_b1_w2",
    "cifar_resnet_b1_w2",
    "iresnet18_w2",
    "mobilefacenet_d16",
    "lenetpp_w2",
];

/// The worst error of a case and where it was.
#[derive(Default)]
struct Worst {
    err: f64,
    name: String,
    compared: usize,
}

impl Worst {
    fn note(&mut self, name: &str, err: f64) {
        self.compared += 1;
        if err > self.err || err.is_nan() {
            self.err = err;
            self.name = name.to_string();
        }
    }
}

/// Error of a gradient; zero-by-symmetry tensors against the largest gradient `g_max`.
fn grad_err(ours: &Tensor, expected: &Tensor, g_max: f64) -> f64 {
    let scale = expected
        .to_vec_f64()
        .iter()
        .fold(0f64, |m, v| m.max(v.abs()));
    if scale < 1e-9 * g_max {
        let err = ours
            .to_vec_f64()
            .iter()
            .zip(expected.to_vec_f64())
            .fold(0f64, |m, (a, e)| m.max((a - e).abs()));
        err / g_max
    } else {
        rel_err(ours, expected)
    }
}

/// Compares the output(s) and every gradient of one phase ("train" or "eval").
fn compare_phase(
    fx: &HashMap<String, Tensor>,
    phase: &str,
    outputs: &[Tensor],
    grads: &Grads,
    params: &[(String, Tensor)],
    input: Option<&Tensor>,
    worst: &mut Worst,
) {
    worst.note(
        &format!("{phase}.output"),
        rel_err(&outputs[0], &fx[&format!("{phase}.output")]),
    );
    if outputs.len() > 1 {
        let key = format!("{phase}.logits");
        worst.note(&key, rel_err(&outputs[1], &fx[&key]));
    }
    let prefix = format!("{phase}.grad.");
    let g_max = fx
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .flat_map(|(_, t)| t.to_vec_f64())
        .fold(0f64, |m, v| m.max(v.abs()));
    if let Some(x) = input {
        let key = format!("{prefix}input");
        worst.note(&key, grad_err(grads.wrt(x).unwrap(), &fx[&key], g_max));
    }
    for (name, p) in params {
        let key = format!("{prefix}{name}");
        match (grads.get(p), fx.get(&key)) {
            (Some(ours), Some(expected)) => worst.note(&key, grad_err(ours, expected, g_max)),
            // A frozen parameter (insightface's features.weight): no gradient on either side.
            (None, None) => {}
            (ours, expected) => panic!(
                "{key}: gradient present here {} but in torch {}",
                ours.is_some(),
                expected.is_some()
            ),
        }
    }
}

/// Loads a case, runs both phases, returns the worst error.
fn run_case(case: &str, dtype: DType) -> Worst {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{case}.safetensors"));
    let fx = read_safetensors(&path);
    let mut net = build(case, dtype);

    // The state loads name for name, and the fixture holds nothing the model lacks.
    let state_names: BTreeSet<String> = net
        .module()
        .state_dict()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let fixture_names: BTreeSet<String> = fx
        .keys()
        .filter_map(|k| k.strip_prefix("param.").or(k.strip_prefix("buffer.")))
        .map(str::to_string)
        .collect();
    assert_eq!(
        state_names, fixture_names,
        "{case}: state_dict names differ"
    );
    net.module()
        .load_state(&|name| {
            fx.get(&format!("param.{name}"))
                .or(fx.get(&format!("buffer.{name}")))
                .cloned()
        })
        .unwrap();
    let params = net.module().parameters();
    let x = ops::to_dtype(&fx["input"], dtype).unwrap();
    let cotangents: Vec<Tensor> = ["cotangent", "cotangent_logits"]
        .iter()
        .filter_map(|k| fx.get(*k))
        .map(|c| ops::to_dtype(c, dtype).unwrap())
        .collect();
    let loss_of = |outputs: &[Tensor]| -> Tensor {
        let mut loss: Option<Tensor> = None;
        for (o, c) in outputs.iter().zip(&cotangents) {
            let term = o.mul(c).unwrap().sum_all().unwrap();
            loss = Some(match loss {
                Some(l) => l.add(&term).unwrap(),
                None => term,
            });
        }
        loss.unwrap()
    };
    let mut worst = Worst::default();

    // Training mode: batch statistics, running statistics updated.
    let tape = Tape::new();
    let xw = tape.watch(&x);
    let outputs = net.outputs(&xw, Some(&tape));
    let grads = tape.backward(&loss_of(&outputs)).unwrap();
    compare_phase(
        &fx,
        "train",
        &outputs,
        &grads,
        &params,
        Some(&x),
        &mut worst,
    );
    for (name, buffer) in net.module().buffers() {
        let key = format!("train.buffer.{name}");
        worst.note(&key, rel_err(&buffer, &fx[&key]));
    }

    // Evaluation mode, from the updated running statistics.
    net.module().set_mode(Mode::Eval);
    let tape = Tape::new();
    let outputs = net.outputs(&x, Some(&tape));
    let grads = tape.backward(&loss_of(&outputs)).unwrap();
    compare_phase(&fx, "eval", &outputs, &grads, &params, None, &mut worst);
    worst
}

fn check_all(dtype: DType, tolerance: f64) {
    let mut failures = Vec::new();
    for case in CASES {
        let w = run_case(case, dtype);
        println!(
            "{dtype} {case:20} {:4} tensors compared, worst {:.2e} ({:.1}% of {tolerance:.0e}) at {}",
            w.compared,
            w.err,
            100.0 * w.err / tolerance,
            w.name
        );
        assert!(w.compared > 20, "{case}: too few tensors compared");
        if w.err.is_nan() || w.err > tolerance {
            failures.push(format!("{case}: {} error {:.3e}", w.name, w.err));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn backbones_match_pytorch_in_f32() {
    check_all(DType::F32, 1e-4);
}

#[test]
fn backbones_match_pytorch_in_f64() {
    check_all(DType::F64, 1e-6);
}
