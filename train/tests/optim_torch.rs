//! Optimisers, schedules and clipping against PyTorch.
//!
//! The fixtures in `fixtures/optim/` were written by `tools/torch_reference/optim_ref.py`
//! (torch.optim.SGD / Adam / AdamW with `foreach=False`, the `lr_scheduler` classes,
//! `clip_grad_norm_`); their format is described at the top of that script. Each case replays
//! the same parameters, gradients and learning rates through our optimiser and compares every
//! step: within 1e-12 in f64 and 1e-6 in f32, relative to max(1, |expected|). The worst error
//! of each case is printed (`cargo test -p anglegrad-train --test optim_torch -- --nocapture`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anglegrad_engine::{DType, Grads, Tensor};
use anglegrad_train::optim::{
    clip_grad_norm, select, AdamW, AdamWConfig, LrSchedule, MultiStepLr, NamedTensors, Optimizer,
    ParamGroup, Sgd, SgdConfig, StepLr, WarmupCosine, WarmupPoly,
};
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

const PARAMS: [&str; 3] = ["w", "b", "head.weight"];
const CASES: [&str; 11] = [
    "sgd_plain",
    "sgd_l2",
    "sgd_momentum",
    "sgd_dampening",
    "sgd_nesterov",
    "sgd_groups",
    "sgdw_decoupled",
    "adamw",
    "adamw_amsgrad",
    "adamw_groups",
    "adam_l2",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/optim")
        .join(name)
}

/// A fixture file's tensors (F32/F64 only) and metadata.
struct Fixture {
    tensors: HashMap<String, Tensor>,
    meta: HashMap<String, String>,
}

impl Fixture {
    fn read(name: &str) -> Fixture {
        let bytes = std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let mut tensors = HashMap::new();
        for (tname, view) in st.tensors() {
            let shape = view.shape().to_vec();
            let t = match view.dtype() {
                Dtype::F64 => Tensor::from_vec(
                    view.data()
                        .chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                        .collect::<Vec<_>>(),
                    shape,
                ),
                Dtype::F32 => Tensor::from_vec(
                    view.data()
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                        .collect::<Vec<_>>(),
                    shape,
                ),
                other => panic!("{name}: {tname} has dtype {other:?}"),
            }
            .unwrap();
            tensors.insert(tname, t);
        }
        let meta = header.metadata().clone().unwrap_or_default();
        Fixture { tensors, meta }
    }

    fn get(&self, name: &str) -> &Tensor {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("fixture has no tensor {name}"))
    }

    fn json(&self, key: &str) -> Value {
        serde_json::from_str(&self.meta[key]).unwrap()
    }
}

/// max |a − e| / max(1, |e|) over the elements.
fn worst_error(actual: &Tensor, expected: &Tensor) -> f64 {
    assert_eq!(actual.dims(), expected.dims());
    assert_eq!(actual.dtype(), expected.dtype());
    actual
        .to_vec_f64()
        .iter()
        .zip(expected.to_vec_f64())
        .map(|(a, e)| (a - e).abs() / e.abs().max(1.0))
        .fold(0.0, f64::max)
}

fn tolerance(dtype: &str) -> f64 {
    if dtype == "f64" {
        1e-12
    } else {
        1e-6
    }
}

fn groups_of(meta: &Value) -> Vec<ParamGroup> {
    meta["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let label = g["label"].as_str().unwrap();
            let sel = g["select"].as_str().unwrap();
            let mut group = if sel == "no_decay" {
                ParamGroup::new(label, select::bias_or_norm)
            } else {
                ParamGroup::new(label, select::prefix(sel.strip_prefix("prefix:").unwrap()))
            };
            group = group.lr_mult(g["lr_mult"].as_f64().unwrap());
            if let Some(wd) = g["weight_decay"].as_f64() {
                group = group.weight_decay(wd);
            }
            group
        })
        .collect()
}

fn optimizer_of(meta: &Value) -> Box<dyn Optimizer> {
    let f = |key: &str, default: f64| meta.get(key).and_then(Value::as_f64).unwrap_or(default);
    let b = |key: &str, default: bool| meta.get(key).and_then(Value::as_bool).unwrap_or(default);
    let groups = groups_of(meta);
    match meta["optimizer"].as_str().unwrap() {
        "sgd" => Box::new(
            Sgd::new(
                SgdConfig {
                    momentum: f("momentum", 0.0),
                    dampening: f("dampening", 0.0),
                    nesterov: b("nesterov", false),
                    weight_decay: f("weight_decay", 0.0),
                    decoupled_weight_decay: b("decoupled_weight_decay", false),
                },
                groups,
            )
            .unwrap(),
        ),
        "adamw" => Box::new(
            AdamW::new(
                AdamWConfig {
                    beta1: f("beta1", 0.9),
                    beta2: f("beta2", 0.999),
                    eps: f("eps", 1e-8),
                    weight_decay: f("weight_decay", 1e-2),
                    amsgrad: b("amsgrad", false),
                    decoupled_weight_decay: b("decoupled_weight_decay", true),
                },
                groups,
            )
            .unwrap(),
        ),
        other => panic!("unknown optimizer {other}"),
    }
}

/// Replays one fixture; returns the worst error over every step and the final state.
fn replay(case: &str, dtype: &str) -> f64 {
    let fx = Fixture::read(&format!("{case}.{dtype}.safetensors"));
    let meta = fx.json("case");
    let mut opt = optimizer_of(&meta);
    let mut params: NamedTensors = PARAMS
        .iter()
        .map(|&n| (n, fx.get(&format!("init.{n}")).clone()))
        .collect();
    let lrs = fx.get("lr").to_vec::<f64>().unwrap();
    let mut worst = 0.0f64;
    for (k, &lr) in lrs.iter().enumerate() {
        let mut grads = Grads::default();
        for n in PARAMS {
            grads.insert(
                params.get(n).unwrap().id(),
                fx.get(&format!("grad.{k}.{n}")).clone(),
            );
        }
        assert_eq!(opt.step(&mut params, &grads, lr).unwrap(), PARAMS.len());
        for n in PARAMS {
            let err = worst_error(params.get(n).unwrap(), fx.get(&format!("after.{k}.{n}")));
            assert!(
                err <= tolerance(dtype),
                "{case}.{dtype}: step {k}, {n}: error {err:e}"
            );
            worst = worst.max(err);
        }
    }
    // The final state, slot by slot, under PyTorch's names.
    let mut slots = 0;
    for (tname, expected) in &fx.tensors {
        let Some(rest) = tname.strip_prefix("state.") else {
            continue;
        };
        let (param, slot) = rest.rsplit_once('.').unwrap();
        let st = opt.state().get(param).unwrap();
        if slot == "step" {
            assert_eq!(st.step as f64, expected.to_scalar_f64().unwrap(), "{tname}");
        } else {
            let err = worst_error(st.buffer(slot).unwrap(), expected);
            assert!(err <= tolerance(dtype), "{case}.{dtype}: {tname}: {err:e}");
            worst = worst.max(err);
        }
        slots += 1;
    }
    let stateful = meta["optimizer"] == "adamw" || meta["momentum"].as_f64() != Some(0.0);
    assert_eq!(slots > 0, stateful, "{case}: state slots in the fixture");
    // Our state has exactly the buffers torch has (step aside, which torch keeps for Adam only).
    for n in PARAMS {
        for slot in opt.state().get(n).unwrap().buffers.keys() {
            assert!(
                fx.tensors.contains_key(&format!("state.{n}.{slot}")),
                "{case}: extra {slot}"
            );
        }
    }
    worst
}

#[test]
fn optimizers_match_torch_f64() {
    for case in CASES {
        let worst = replay(case, "f64");
        println!("{case:16} f64 worst error {worst:.2e} (budget 1e-12)");
    }
}

#[test]
fn optimizers_match_torch_f32() {
    for case in CASES {
        let worst = replay(case, "f32");
        println!("{case:16} f32 worst error {worst:.2e} (budget 1e-6)");
    }
}

#[test]
fn clip_grad_norm_matches_torch() {
    for dtype in ["f64", "f32"] {
        let fx = Fixture::read(&format!("clip.{dtype}.safetensors"));
        let max_norms = fx.json("max_norm");
        let names = ["conv.weight", "conv.bias", "fc.weight"];
        for (case, max_norm) in max_norms.as_object().unwrap() {
            let mut params: NamedTensors = names
                .iter()
                .map(|&n| (n, fx.get(&format!("grad.{n}")).zeros_like()))
                .collect();
            let mut grads = Grads::default();
            for n in names {
                grads.insert(
                    params.get(n).unwrap().id(),
                    fx.get(&format!("grad.{n}")).clone(),
                );
            }
            let norm = clip_grad_norm(&mut grads, &mut params, max_norm.as_f64().unwrap()).unwrap();
            let expected = fx.get(&format!("norm.{case}")).to_scalar_f64().unwrap();
            let norm_err = (norm - expected).abs() / expected;
            assert!(
                norm_err <= tolerance(dtype),
                "{dtype} {case}: norm {norm} vs {expected}"
            );
            let mut worst = norm_err;
            for n in names {
                let got = grads.get(params.get(n).unwrap()).unwrap();
                let err = worst_error(got, fx.get(&format!("clipped.{case}.{n}")));
                assert!(err <= tolerance(dtype), "{dtype} {case} {n}: {err:e}");
                worst = worst.max(err);
            }
            println!("clip {case:8} {dtype} norm {norm:.6} worst error {worst:.2e}");
        }
    }
}

fn schedule_of(p: &Value) -> Box<dyn LrSchedule> {
    let f = |k: &str| p[k].as_f64().unwrap();
    let u = |k: &str| p[k].as_u64().unwrap();
    match p["kind"].as_str().unwrap() {
        "step" => Box::new(StepLr::new(f("base_lr"), u("step_size"), f("gamma")).unwrap()),
        "multistep" => {
            let milestones: Vec<u64> = p["milestones"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_u64().unwrap())
                .collect();
            Box::new(MultiStepLr::new(f("base_lr"), milestones, f("gamma")).unwrap())
        }
        "cosine" => Box::new(
            WarmupCosine::new(
                f("base_lr"),
                u("warmup_steps"),
                f("warmup_start_factor"),
                u("total_steps"),
                f("final_lr"),
            )
            .unwrap(),
        ),
        "poly" => Box::new(
            WarmupPoly::new(
                f("base_lr"),
                u("warmup_steps"),
                u("total_steps"),
                f("power"),
            )
            .unwrap(),
        ),
        other => panic!("unknown schedule {other}"),
    }
}

#[test]
fn schedules_match_torch() {
    let fx = Fixture::read("schedules.safetensors");
    let all = fx.json("schedules");
    assert_eq!(all.as_object().unwrap().len(), 6);
    for (name, params) in all.as_object().unwrap() {
        let schedule = schedule_of(params);
        let base = params["base_lr"].as_f64().unwrap();
        let expected = fx.get(&format!("lr.{name}")).to_vec::<f64>().unwrap();
        let mut worst = 0.0f64;
        for (t, &e) in expected.iter().enumerate() {
            let got = schedule.lr(t as u64);
            // Relative to the base LR: torch's recursive products differ from closed forms by
            // rounding only, and near-zero LRs (poly's end) have no meaningful relative error.
            let err = (got - e).abs() / base;
            assert!(err <= 1e-12, "{name}: step {t}: {got} vs torch {e}");
            worst = worst.max(err);
        }
        println!(
            "schedule {name:14} {} steps, worst error {worst:.2e} of base lr",
            expected.len()
        );
    }
}

#[test]
fn f32_and_f64_state_keep_the_parameter_dtype() {
    let fx = Fixture::read("adamw.f32.safetensors");
    let mut opt = optimizer_of(&fx.json("case"));
    let mut params: NamedTensors = [("w", fx.get("init.w").clone())].into_iter().collect();
    let mut grads = Grads::default();
    grads.insert(params.get("w").unwrap().id(), fx.get("grad.0.w").clone());
    opt.step(&mut params, &grads, 1e-3).unwrap();
    let st = opt.state().get("w").unwrap();
    assert!(st.buffers.values().all(|b| b.dtype() == DType::F32));
    assert_eq!(params.get("w").unwrap().dtype(), DType::F32);
}
