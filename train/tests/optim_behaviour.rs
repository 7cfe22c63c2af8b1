//! How the optimisers behave around the update rule itself: state keyed by name across
//! replaced parameters, skipped parameters, all-or-nothing steps, groups, several parameter
//! sets, object safety, rejected state.

use anglegrad_engine::{DType, Error, Grads, Result, Tape, Tensor};
use anglegrad_models::{join, use_param, Mode, Module};
use anglegrad_ops::TensorOps;
use anglegrad_train::optim::{
    clip_grad_norm, grad_norm, select, AdamW, AdamWConfig, Joined, NamedTensors, OptimState,
    Optimizer, ParamGroup, ParamState, Params, Sgd, SgdConfig,
};

/// y = x·Wᵀ + b, a `Module` with two parameters.
struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Module for Linear {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        x.matmul_t(&use_param(&self.weight, tape), false, true)?
            .add(&use_param(&self.bias, tape))
    }
    fn visit_parameters(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        f(&join(prefix, "weight"), &mut self.weight);
        f(&join(prefix, "bias"), &mut self.bias);
    }
    fn set_mode(&mut self, _mode: Mode) {}
}

fn linear() -> Linear {
    Linear {
        weight: Tensor::from_vec(vec![0.5f64, -1.0, 2.0, 0.25], [2, 2]).unwrap(),
        bias: Tensor::from_vec(vec![0.1f64, -0.1], [2]).unwrap(),
    }
}

/// Gradients of sum((x·Wᵀ + b)²) for a fixed x.
fn grads_of(model: &mut Linear) -> Grads {
    let tape = Tape::new();
    let x = Tensor::from_vec(vec![1.0f64, 2.0, -1.0, 0.5], [2, 2]).unwrap();
    let y = model.forward(&x, Some(&tape)).unwrap();
    let loss = anglegrad_ops::sum_all(&y.mul(&y).unwrap()).unwrap();
    tape.backward(&loss).unwrap()
}

#[test]
fn state_follows_names_across_replaced_parameters() {
    let mut model = linear();
    let mut opt = Sgd::new(SgdConfig::momentum(0.9, 0.0), vec![]).unwrap();
    let id_before = model.weight.id();
    for _ in 0..3 {
        let grads = grads_of(&mut model);
        assert_eq!(opt.step(&mut model, &grads, 0.01).unwrap(), 2);
    }
    assert_ne!(
        model.weight.id(),
        id_before,
        "parameters are replaced, not mutated"
    );
    let names: Vec<_> = opt.state().params.keys().cloned().collect();
    assert_eq!(names, ["bias", "weight"]);
    assert_eq!(opt.state().get("weight").unwrap().step, 3);
}

#[test]
fn parameters_without_gradients_are_skipped() {
    let mut model = linear();
    let tape = Tape::new();
    // Only the bias is watched: the weight has no gradient and keeps its value and state.
    let b = tape.watch(&model.bias);
    let loss = anglegrad_ops::sum_all(&b).unwrap();
    let grads = tape.backward(&loss).unwrap();
    let weight = model.weight.to_vec::<f64>().unwrap();
    let mut opt = AdamW::new(AdamWConfig::default(), vec![]).unwrap();
    assert_eq!(opt.step(&mut model, &grads, 0.1).unwrap(), 1);
    assert_eq!(model.weight.to_vec::<f64>().unwrap(), weight);
    assert!(opt.state().get("weight").is_none());
    assert_eq!(opt.state().get("bias").unwrap().step, 1);
}

#[test]
fn a_failing_step_changes_nothing() {
    let mut params: NamedTensors = [
        ("a", Tensor::ones([3], DType::F64).unwrap()),
        ("b", Tensor::ones([2], DType::F64).unwrap()),
    ]
    .into_iter()
    .collect();
    let mut grads = Grads::default();
    grads.insert(
        params.get("a").unwrap().id(),
        Tensor::ones([3], DType::F64).unwrap(),
    );
    grads.insert(
        params.get("b").unwrap().id(),
        Tensor::ones([5], DType::F64).unwrap(),
    ); // wrong
    let mut opt = Sgd::new(SgdConfig::momentum(0.9, 0.0), vec![]).unwrap();
    let e = opt.step(&mut params, &grads, 0.1).unwrap_err();
    assert!(
        e.to_string().contains("parameter b") && e.to_string().contains("[5]"),
        "{e}"
    );
    assert_eq!(
        params.get("a").unwrap().to_vec::<f64>().unwrap(),
        [1.0; 3],
        "a was updated"
    );
    assert!(opt.state().is_empty());

    // A gradient of another dtype, and a bad learning rate.
    grads.insert(
        params.get("b").unwrap().id(),
        Tensor::ones([2], DType::F32).unwrap(),
    );
    assert!(opt.step(&mut params, &grads, 0.1).is_err());
    grads.insert(
        params.get("b").unwrap().id(),
        Tensor::ones([2], DType::F64).unwrap(),
    );
    assert!(matches!(
        opt.step(&mut params, &grads, f64::NAN),
        Err(Error::Invalid { .. })
    ));
    assert!(opt.step(&mut params, &grads, -1.0).is_err());
    assert_eq!(opt.step(&mut params, &grads, 0.1).unwrap(), 2);
}

#[test]
fn duplicate_names_are_an_error() {
    let mut a: NamedTensors = [("w", Tensor::ones([1], DType::F64).unwrap())]
        .into_iter()
        .collect();
    let mut b: NamedTensors = [("w", Tensor::ones([1], DType::F64).unwrap())]
        .into_iter()
        .collect();
    let mut grads = Grads::default();
    grads.insert(
        a.get("w").unwrap().id(),
        Tensor::ones([1], DType::F64).unwrap(),
    );
    let mut opt = Sgd::new(SgdConfig::default(), vec![]).unwrap();
    let mut both = Joined::new().with(&mut a).with(&mut b);
    let e = opt.step(&mut both, &grads, 0.1).unwrap_err();
    assert!(e.to_string().contains("\"w\""), "{e}");
}

#[test]
fn a_model_and_a_head_step_together_or_apart_alike() {
    // One step over Joined(model, head) equals two steps, one per set.
    let head = || -> NamedTensors {
        [(
            "head.weight",
            Tensor::from_vec(vec![1.0f64, -2.0], [2]).unwrap(),
        )]
        .into_iter()
        .collect()
    };
    let run = |joined: bool| {
        let (mut model, mut head) = (linear(), head());
        let mut grads = grads_of(&mut model);
        grads.insert(
            head.get("head.weight").unwrap().id(),
            Tensor::from_vec(vec![0.5f64, 0.25], [2]).unwrap(),
        );
        let groups = vec![ParamGroup::new("head", select::prefix("head.")).lr_mult(10.0)];
        let mut opt = Sgd::new(SgdConfig::momentum(0.9, 1e-2), groups).unwrap();
        if joined {
            let mut both = Joined::new().with(&mut model).with(&mut head);
            assert_eq!(opt.step(&mut both, &grads, 0.1).unwrap(), 3);
        } else {
            opt.step(&mut model, &grads, 0.1).unwrap();
            opt.step(&mut head, &grads, 0.1).unwrap();
        }
        let mut all = model.named_params();
        all.extend(head.named_params());
        all.into_iter()
            .map(|(n, t)| (n, t.to_vec::<f64>().unwrap()))
            .collect::<Vec<_>>()
    };
    let (together, apart) = (run(true), run(false));
    assert_eq!(together, apart);
    // The head's lr is 10×: 1 − 1.0·(0.5 + 0.01·1) = 0.49.
    assert!((together[2].1[0] - 0.49).abs() < 1e-15, "{together:?}");
}

#[test]
fn no_decay_group_leaves_biases_alone() {
    let (weight, bias) = (
        linear().weight.to_vec::<f64>().unwrap(),
        linear().bias.to_vec::<f64>().unwrap(),
    );
    for decoupled in [false, true] {
        let cfg = SgdConfig {
            weight_decay: 0.1,
            decoupled_weight_decay: decoupled,
            ..SgdConfig::default()
        };
        let mut opt = Sgd::new(cfg, vec![ParamGroup::no_weight_decay()]).unwrap();
        // Zero gradients: only weight decay moves a parameter.
        let mut m = linear();
        let mut grads = Grads::default();
        grads.insert(m.weight.id(), m.weight.zeros_like());
        grads.insert(m.bias.id(), m.bias.zeros_like());
        opt.step(&mut m, &grads, 0.5).unwrap();
        assert_eq!(m.bias.to_vec::<f64>().unwrap(), bias);
        // Both forms give p·(1 − lr·wd) = 0.95·p here.
        for (a, b) in m.weight.to_vec::<f64>().unwrap().iter().zip(&weight) {
            assert!((a - 0.95 * b).abs() < 1e-15, "{a} vs 0.95·{b}");
        }
    }
}

#[test]
fn optimizers_are_object_safe_and_state_can_be_moved() {
    let mut model = linear();
    let mut opts: Vec<Box<dyn Optimizer>> = vec![
        Box::new(Sgd::new(SgdConfig::momentum(0.9, 0.0), vec![]).unwrap()),
        Box::new(AdamW::new(AdamWConfig::default(), vec![]).unwrap()),
    ];
    for opt in &mut opts {
        let grads = grads_of(&mut model);
        opt.step(&mut model, &grads, 1e-3).unwrap();
    }
    assert_eq!(opts[0].kind(), "sgd");
    assert_eq!(opts[1].kind(), "adamw");
    // A state moved into a fresh optimiser of the same kind is accepted...
    let mut fresh = AdamW::new(AdamWConfig::default(), vec![]).unwrap();
    fresh.set_state(opts[1].state().clone()).unwrap();
    // ...but not one missing a buffer after steps, nor one with an unknown buffer.
    let mut st = opts[1].state().clone();
    st.params
        .get_mut("weight")
        .unwrap()
        .buffers
        .remove("exp_avg_sq");
    let e = fresh.set_state(st).unwrap_err();
    assert!(e.to_string().contains("exp_avg_sq"), "{e}");
    let mut st = OptimState::default();
    let mut ps = ParamState::default();
    ps.buffers.insert(
        "momentum_buffer".into(),
        Tensor::ones([2], DType::F64).unwrap(),
    );
    st.params.insert("bias".into(), ps);
    assert!(fresh.set_state(st).is_err());
    // An amsgrad AdamW needs the max buffer.
    let mut ams = AdamW::new(
        AdamWConfig {
            amsgrad: true,
            ..AdamWConfig::default()
        },
        vec![],
    )
    .unwrap();
    assert!(ams.set_state(opts[1].state().clone()).is_err());
}

#[test]
fn restored_state_of_the_wrong_shape_fails_at_the_step_naming_it() {
    let mut model = linear();
    let mut st = OptimState::default();
    let mut ps = ParamState {
        step: 1,
        ..ParamState::default()
    };
    ps.buffers.insert(
        "momentum_buffer".into(),
        Tensor::ones([3], DType::F64).unwrap(),
    );
    st.params.insert("bias".into(), ps);
    let mut opt = Sgd::new(SgdConfig::momentum(0.9, 0.0), vec![]).unwrap();
    opt.set_state(st).unwrap();
    let grads = grads_of(&mut model);
    let e = opt.step(&mut model, &grads, 0.1).unwrap_err();
    assert!(
        e.to_string().contains("parameter bias: momentum_buffer"),
        "{e}"
    );
}

#[test]
fn clipping_covers_exactly_the_given_parameters() {
    let mut model = linear();
    let mut head: NamedTensors = [("head.w", Tensor::ones([2], DType::F64).unwrap())]
        .into_iter()
        .collect();
    let mut grads = grads_of(&mut model);
    grads.insert(
        head.get("head.w").unwrap().id(),
        Tensor::from_vec(vec![30.0f64, 40.0], [2]).unwrap(),
    );
    let model_norm = grad_norm(&grads, &mut model).unwrap();
    let both = grad_norm(&grads, &mut Joined::new().with(&mut model).with(&mut head)).unwrap();
    assert!((both * both - model_norm * model_norm - 2500.0).abs() < 1e-9);
    // Clipping the model only leaves the head's gradient as it was.
    let pre = clip_grad_norm(&mut grads, &mut model, 1.0).unwrap();
    assert_eq!(pre, model_norm);
    assert!((grad_norm(&grads, &mut model).unwrap() - 1.0).abs() < 1e-6);
    assert_eq!(
        grads
            .get(head.get("head.w").unwrap())
            .unwrap()
            .to_vec::<f64>()
            .unwrap(),
        [30.0, 40.0]
    );
    assert!(clip_grad_norm(&mut grads, &mut model, -1.0).is_err());
}
