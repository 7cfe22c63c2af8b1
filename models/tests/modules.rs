//! Behaviour of the `Module` API: names, state loading, modes, batch-norm statistics,
//! dropout masks, shape errors, backbone shapes and taps, deep supervision.

mod common;

use anglegrad_engine::{DType, Rng, Tape, Tensor};
use anglegrad_models::{
    Backbone, BatchNorm1d, BatchNorm2d, Conv2d, DeeplySupervised, Dropout, IResNet, IResNetConfig,
    LeNetPlusPlus, LeNetPlusPlusConfig, Linear, Mode, Module, PReLU, ResNet, ResNetConfig,
};
use anglegrad_ops::{Conv2dOptions, TensorOps};
use common::randn;

const F32: DType = DType::F32;
const F64: DType = DType::F64;

/// A ResNet-18 layout at width 2 for 32×32 inputs (quick to run).
fn tiny_resnet(dtype: DType) -> ResNet {
    let config = ResNetConfig {
        width: 2,
        ..ResNetConfig::cifar_resnet18(5)
    };
    ResNet::new(config, dtype, &mut Rng::new(3)).unwrap()
}

#[test]
fn resnet18_names_are_torchvisions() {
    let mut net = ResNet::new(ResNetConfig::resnet18(1000), F32, &mut Rng::new(0)).unwrap();
    let names: Vec<String> = net.state_dict().into_iter().map(|(n, _)| n).collect();
    // torchvision resnet18().state_dict() has 122 entries (62 parameters, 60 buffers).
    assert_eq!(names.len(), 122);
    assert_eq!(net.parameters().len(), 62);
    for expected in [
        "conv1.weight",
        "bn1.running_var",
        "layer1.0.conv1.weight",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.num_batches_tracked",
        "layer4.1.bn2.bias",
        "fc.weight",
        "fc.bias",
    ] {
        assert!(names.iter().any(|n| n == expected), "missing {expected}");
    }
    let params = net.parameters();
    let fc = params.iter().find(|(n, _)| n == "fc.weight").unwrap();
    assert_eq!(fc.1.dims(), [1000, 512]); // [out, in] as PyTorch
}

#[test]
fn iresnet50_names_are_insightfaces() {
    let mut net = IResNet::new(IResNetConfig::iresnet50(), F32, &mut Rng::new(0)).unwrap();
    // insightface iresnet50().state_dict() has 475 entries.
    assert_eq!(net.state_dict().len(), 475);
    let params = net.parameters();
    let find = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
            .dims()
            .to_vec()
    };
    assert_eq!(find("layer3.13.prelu.weight"), [256]);
    assert_eq!(find("fc.weight"), [512, 512 * 7 * 7]);
    assert_eq!(find("features.weight"), [512]);
}

#[test]
fn load_state_reports_missing_and_misshapen_entries() {
    let mut layer = Linear::new(3, 2, true, F32, &mut Rng::new(0)).unwrap();
    let wrong = Tensor::zeros([3, 2], F32).unwrap();
    let err = layer
        .load_state(&|name| (name == "weight").then(|| wrong.clone()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("weight: the module has shape [2, 3], the state has [3, 2]"),
        "{err}"
    );
    assert!(err.contains("missing bias [2]"), "{err}");
}

#[test]
fn load_state_converts_dtype_and_gives_fresh_tensors() {
    let mut layer = Linear::new(2, 2, false, F64, &mut Rng::new(0)).unwrap();
    let w = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]).unwrap();
    layer.load_state(&|_| Some(w.clone())).unwrap();
    assert_eq!(layer.weight.dtype(), F64);
    assert_eq!(layer.weight.to_vec_f64(), [1.0, 2.0, 3.0, 4.0]);
    assert_ne!(layer.weight.id(), w.id());
}

#[test]
fn gradients_are_found_by_the_parameters() {
    let mut net = tiny_resnet(F32);
    let tape = Tape::new();
    let y = net
        .forward(&randn(&[2, 3, 32, 32], F32, 1), Some(&tape))
        .unwrap();
    let grads = tape
        .backward(&y.square().unwrap().sum_all().unwrap())
        .unwrap();
    let params = net.parameters();
    assert_eq!(grads.len(), params.len(), "one gradient per parameter");
    for (name, p) in &params {
        let g = grads.wrt(p).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(g.dims(), p.dims(), "{name}");
    }
}

#[test]
fn no_tape_records_nothing() {
    let mut net = tiny_resnet(F32);
    let y = net.forward(&randn(&[2, 3, 32, 32], F32, 2), None).unwrap();
    assert!(!y.is_tracked());
}

#[test]
fn batchnorm_updates_running_statistics_only_in_training() {
    let mut bn = BatchNorm1d::new(2, F64).unwrap();
    // Channel 0 sees 1, 3 (mean 2, unbiased var 2); channel 1 sees 0, 4 (mean 2, var 8).
    let x = Tensor::from_vec(vec![1.0, 0.0, 3.0, 4.0], [2, 2]).unwrap();
    let y = bn.forward(&x, None).unwrap();
    // Normalised with the biased variance: (1 − 2)/√(1 + 1e-5) ≈ −1.
    assert!((y.to_vec_f64()[0] + 1.0 / (1.0f64 + 1e-5).sqrt()).abs() < 1e-12);
    // running = 0.9·initial + 0.1·batch
    assert_eq!(bn.running.mean.to_vec_f64(), [0.2, 0.2]);
    let var = bn.running.var.to_vec_f64();
    assert!((var[0] - 1.1).abs() < 1e-12 && (var[1] - 1.7).abs() < 1e-12);
    assert_eq!(bn.num_batches_tracked.to_scalar_f64().unwrap(), 1.0);

    bn.set_mode(Mode::Eval);
    let y = bn.forward(&x, None).unwrap();
    let expected = (1.0 - 0.2) / (1.1f64 + 1e-5).sqrt();
    assert!((y.to_vec_f64()[0] - expected).abs() < 1e-12);
    assert_eq!(bn.num_batches_tracked.to_scalar_f64().unwrap(), 1.0);
    assert_eq!(bn.running.mean.to_vec_f64(), [0.2, 0.2]);
}

#[test]
fn batchnorm_without_momentum_keeps_a_cumulative_average() {
    let mut bn = BatchNorm1d::new(1, F64).unwrap();
    bn.momentum = None;
    for batch in [[1.0, 3.0], [5.0, 7.0]] {
        bn.forward(&Tensor::from_vec(batch.to_vec(), [2, 1]).unwrap(), None)
            .unwrap();
    }
    // The average of the batch means 2 and 6.
    assert!((bn.running.mean.to_vec_f64()[0] - 4.0).abs() < 1e-12);
}

#[test]
fn eval_mode_is_deterministic_and_leaves_buffers_alone() {
    let mut net = tiny_resnet(F32);
    let x = randn(&[2, 3, 32, 32], F32, 3);
    net.forward(&x, None).unwrap(); // one training step moves the statistics
    net.set_mode(Mode::Eval);
    let before: Vec<Vec<f64>> = net.buffers().iter().map(|(_, t)| t.to_vec_f64()).collect();
    let a = net.forward(&x, None).unwrap().to_vec_f64();
    let b = net
        .forward(&x.narrow(0, 0, 1).unwrap(), None)
        .unwrap()
        .to_vec_f64();
    let after: Vec<Vec<f64>> = net.buffers().iter().map(|(_, t)| t.to_vec_f64()).collect();
    assert_eq!(before, after);
    // Each sample's output is independent of the batch in evaluation.
    for (u, v) in a[..5].iter().zip(&b) {
        assert!((u - v).abs() < 1e-5, "{u} vs {v}");
    }
}

#[test]
fn dropout_draws_a_new_reproducible_mask_each_training_step() {
    let x = Tensor::ones([1, 1000], F32).unwrap();
    let mut d = Dropout::new(0.5, 42).unwrap();
    let first = d.forward(&x, None).unwrap().to_vec_f64();
    let second = d.forward(&x, None).unwrap().to_vec_f64();
    assert_ne!(first, second);
    assert_eq!(d.step(), 2);
    let kept = first.iter().filter(|&&v| v != 0.0).count();
    assert!((400..600).contains(&kept), "kept {kept} of 1000");
    assert!(first.iter().all(|&v| v == 0.0 || v == 2.0)); // survivors scaled by 1/(1 − p)
                                                          // Same seed, same sequence; set_step resumes it.
    let mut again = Dropout::new(0.5, 42).unwrap();
    assert_eq!(again.forward(&x, None).unwrap().to_vec_f64(), first);
    let mut resumed = Dropout::new(0.5, 42).unwrap();
    resumed.set_step(1);
    assert_eq!(resumed.forward(&x, None).unwrap().to_vec_f64(), second);
    // Evaluation: the identity, and no step is consumed.
    d.set_mode(Mode::Eval);
    assert_eq!(d.forward(&x, None).unwrap().to_vec_f64(), vec![1.0; 1000]);
    assert_eq!(d.step(), 2);
}

fn message(e: anglegrad_engine::Error) -> String {
    e.to_string()
}

#[test]
fn wrong_input_shapes_name_the_layer_and_both_shapes() {
    let rng = &mut Rng::new(0);
    let mut conv = Conv2d::new(3, 8, 3, Conv2dOptions::new(2, 1), false, F32, rng).unwrap();
    let err = message(
        conv.forward(&Tensor::zeros([2, 4, 9, 9], F32).unwrap(), None)
            .unwrap_err(),
    );
    assert_eq!(
        err,
        "Conv2d: Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=false) \
         expects input [N, 3, H, W], got [2, 4, 9, 9]"
    );
    let mut fc = Linear::new(4, 2, true, F32, rng).unwrap();
    let err = message(
        fc.forward(&Tensor::zeros([2, 5], F32).unwrap(), None)
            .unwrap_err(),
    );
    assert!(
        err.contains(
            "Linear(in_features=4, out_features=2, bias=true) expects input [N, 4], got [2, 5]"
        ),
        "{err}"
    );
    let mut bn = BatchNorm2d::new(6, F32).unwrap();
    let err = message(
        bn.forward(&Tensor::zeros([2, 6, 3], F32).unwrap(), None)
            .unwrap_err(),
    );
    assert!(
        err.contains("BatchNorm2d(6,") && err.contains("[N, 6, H, W], got [2, 6, 3]"),
        "{err}"
    );
    let mut p = PReLU::new(4, F32).unwrap();
    let err = message(
        p.forward(&Tensor::zeros([2, 3], F32).unwrap(), None)
            .unwrap_err(),
    );
    assert!(
        err.contains("PReLU(num_parameters=4) expects input [N, 4, …], got [2, 3]"),
        "{err}"
    );
    let mut net = IResNet::new(
        IResNetConfig {
            widths: [2, 2, 2, 2],
            stem_width: 2,
            ..IResNetConfig::iresnet18()
        },
        F32,
        rng,
    )
    .unwrap();
    let err = message(
        net.forward(&Tensor::zeros([1, 3, 96, 96], F32).unwrap(), None)
            .unwrap_err(),
    );
    assert!(
        err.contains("expects input [N, 3, 112, 112], got [1, 3, 96, 96]"),
        "{err}"
    );
}

#[test]
fn a_batch_of_one_in_training_is_an_error_not_a_panic() {
    let mut bn = BatchNorm1d::new(3, F32).unwrap();
    let err = message(
        bn.forward(&Tensor::zeros([1, 3], F32).unwrap(), None)
            .unwrap_err(),
    );
    assert!(err.contains("more than one value per channel"), "{err}");
    assert_eq!(bn.num_batches_tracked.to_scalar_f64().unwrap(), 0.0);
}

#[test]
fn bad_configurations_are_errors() {
    let rng = &mut Rng::new(0);
    assert!(Conv2d::new(3, 8, 3, Conv2dOptions::new(1, 1).groups(2), false, F32, rng).is_err());
    assert!(Linear::new(0, 2, true, F32, rng).is_err());
    assert!(Dropout::new(1.0, 0).is_err());
    let zero_width = ResNetConfig {
        width: 0,
        ..ResNetConfig::resnet18(10)
    };
    assert!(ResNet::new(zero_width, F32, rng).is_err());
}

#[test]
fn backbone_taps_have_the_advertised_shapes() {
    let mut net = tiny_resnet(F32);
    assert_eq!(net.tap_channels(), [2, 4, 8, 16]);
    let (out, taps) = net
        .forward_with_taps(&randn(&[2, 3, 32, 32], F32, 4), None)
        .unwrap();
    assert_eq!(out.dims(), [2, 5]);
    let shapes: Vec<Vec<usize>> = taps.iter().map(|t| t.dims().to_vec()).collect();
    assert_eq!(
        shapes,
        [[2, 2, 32, 32], [2, 4, 16, 16], [2, 8, 8, 8], [2, 16, 4, 4]]
    );

    let config = LeNetPlusPlusConfig {
        widths: [2, 3, 4],
        ..LeNetPlusPlusConfig::mnist()
    };
    let mut lenet = LeNetPlusPlus::new(config, F32, &mut Rng::new(0)).unwrap();
    let (features, taps) = lenet
        .forward_with_taps(&randn(&[3, 1, 28, 28], F32, 5), None)
        .unwrap();
    assert_eq!(features.dims(), [3, 2]);
    let shapes: Vec<Vec<usize>> = taps.iter().map(|t| t.dims().to_vec()).collect();
    assert_eq!(shapes, [[3, 2, 14, 14], [3, 3, 7, 7], [3, 4, 3, 3]]);
    assert_eq!(IResNetConfig::iresnet50().final_size(), (7, 7));
}

#[test]
fn deep_supervision_heads_losses_and_gradients() {
    let rng = &mut Rng::new(8);
    let mut net =
        DeeplySupervised::new(tiny_resnet(F64), &[1, 2], 3, &[0.5, 0.25], F64, rng).unwrap();
    let names: Vec<String> = net.parameters().into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"conv1.weight".to_string())); // backbone names unchanged
    assert!(names.contains(&"aux_heads.1.fc.weight".to_string()));
    assert!(names.contains(&"aux_heads.2.fc.bias".to_string()));
    assert!(DeeplySupervised::new(tiny_resnet(F64), &[4], 3, &[1.0], F64, rng).is_err());
    assert!(DeeplySupervised::new(tiny_resnet(F64), &[1], 3, &[1.0, 2.0], F64, rng).is_err());

    let x = randn(&[2, 3, 32, 32], F64, 9);
    let sq = |t: &Tensor| t.square().unwrap().sum_all().unwrap();
    // The total gradient is the weighted sum of each loss's gradient (run three times on the
    // same weights: training-mode BN output does not depend on the running statistics).
    let grads_of = |net: &mut DeeplySupervised<ResNet>, pick: usize| {
        let tape = Tape::new();
        let (out, aux) = net.forward_supervised(&x, Some(&tape)).unwrap();
        assert_eq!(aux.len(), 2);
        assert_eq!(aux[0].dims(), [2, 3]);
        let losses = [sq(&out), sq(&aux[0]), sq(&aux[1])];
        let total = net.weighted_loss(&losses[0], &losses[1..]).unwrap();
        let expected = losses[0].to_scalar_f64().unwrap()
            + 0.5 * losses[1].to_scalar_f64().unwrap()
            + 0.25 * losses[2].to_scalar_f64().unwrap();
        assert!((total.to_scalar_f64().unwrap() - expected).abs() < 1e-9 * expected);
        let seed = if pick == 3 {
            total
        } else {
            losses[pick].clone()
        };
        let grads = tape.backward(&seed).unwrap();
        net.parameters()
            .iter()
            .map(|(_, p)| grads.wrt(p).unwrap().to_vec_f64())
            .collect::<Vec<_>>()
    };
    let (g0, g1, g2, total) = (
        grads_of(&mut net, 0),
        grads_of(&mut net, 1),
        grads_of(&mut net, 2),
        grads_of(&mut net, 3),
    );
    for i in 0..total.len() {
        for j in 0..total[i].len() {
            let want = g0[i][j] + 0.5 * g1[i][j] + 0.25 * g2[i][j];
            assert!((total[i][j] - want).abs() <= 1e-9 * (1.0 + want.abs()));
        }
    }
    // A head's loss reaches the layers before its tap and nothing after it.
    let first_layer = names
        .iter()
        .position(|n| n == "layer1.0.conv1.weight")
        .unwrap();
    let fc = names.iter().position(|n| n == "fc.weight").unwrap();
    assert!(g1[first_layer].iter().any(|&v| v != 0.0));
    assert!(g1[fc].iter().all(|&v| v == 0.0));
}
