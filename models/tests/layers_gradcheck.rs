//! Gradient checks (f64, central differences) of every layer and of the residual blocks,
//! with respect to the input and every parameter, through the `Module` interface: the layer
//! watches its own parameters exactly as in training.

mod common;

use anglegrad_engine::{DType, Rng, Tensor};
use anglegrad_models::backbones::mobilefacenet::{DepthWise, Gdc};
use anglegrad_models::{
    BasicBlock, BatchNorm1d, Bottleneck, Conv2d, Dropout, Flatten, IBasicBlock, Linear, Mode,
    Module, PReLU, ReLU, Sequential, TapHead,
};
use anglegrad_ops::gradcheck::GradCheck;
use anglegrad_ops::Conv2dOptions;
use common::{away_from_zero, check_module, randn};

const F64: DType = DType::F64;

fn rng() -> Rng {
    Rng::new(7)
}

/// Looser tolerances for deep compositions (rounding in the differences grows with depth).
fn deep() -> GradCheck {
    GradCheck {
        rtol: 1e-5,
        atol: 1e-8,
        ..GradCheck::default()
    }
}

#[test]
fn linear() {
    let layer = Linear::new(4, 5, true, F64, &mut rng()).unwrap();
    let r = check_module(
        layer,
        &randn(&[3, 4], F64, 1),
        &GradCheck::default(),
        &[],
        |_| {},
    );
    assert_eq!(r.ops, ["matmul", "add"]);
}

#[test]
fn linear_without_bias() {
    let layer = Linear::new(4, 2, false, F64, &mut rng()).unwrap();
    check_module(
        layer,
        &randn(&[3, 4], F64, 2),
        &GradCheck::default(),
        &[],
        |_| {},
    );
}

#[test]
fn conv2d_strided_padded_with_bias() {
    let layer = Conv2d::new(3, 4, 3, Conv2dOptions::new(2, 1), true, F64, &mut rng()).unwrap();
    let r = check_module(
        layer,
        &randn(&[2, 3, 5, 6], F64, 3),
        &GradCheck::default(),
        &[],
        |_| {},
    );
    assert_eq!(r.ops, ["conv2d"]);
}

#[test]
fn conv2d_grouped_and_dilated() {
    let o = Conv2dOptions::new(1, 2).groups(2).dilation(2);
    let layer = Conv2d::new(4, 6, 3, o, false, F64, &mut rng()).unwrap();
    check_module(
        layer,
        &randn(&[2, 4, 5, 5], F64, 4),
        &GradCheck::default(),
        &[],
        |_| {},
    );
}

#[test]
fn conv2d_depthwise() {
    let o = Conv2dOptions::new(1, 1).groups(4);
    let layer = Conv2d::new(4, 4, 3, o, false, F64, &mut rng()).unwrap();
    check_module(
        layer,
        &randn(&[2, 4, 4, 4], F64, 5),
        &GradCheck::default(),
        &[],
        |_| {},
    );
}

/// A BN layer with random γ, β and running statistics (so every term matters).
fn random_bn<const S: usize>(c: usize, seed: u64) -> anglegrad_models::BatchNorm<S> {
    let mut bn = anglegrad_models::BatchNorm::<S>::new(c, F64).unwrap();
    let mut r = Rng::new(seed);
    bn.weight = Some(Tensor::rand_uniform([c], 0.5, 1.5, F64, &mut r).unwrap());
    bn.bias = Some(Tensor::randn([c], 0.0, 1.0, F64, &mut r).unwrap());
    bn.running.mean = Tensor::randn([c], 0.0, 1.0, F64, &mut r).unwrap();
    bn.running.var = Tensor::rand_uniform([c], 0.5, 2.0, F64, &mut r).unwrap();
    bn
}

#[test]
fn batchnorm2d_training() {
    let bn = random_bn::<2>(3, 10);
    let r = check_module(
        bn,
        &randn(&[2, 3, 3, 2], F64, 6),
        &GradCheck::default(),
        &[],
        |_| {},
    );
    assert_eq!(r.ops, ["batch_norm"]);
}

#[test]
fn batchnorm2d_evaluation() {
    let mut bn = random_bn::<2>(3, 11);
    bn.set_mode(Mode::Eval);
    check_module(
        bn,
        &randn(&[2, 3, 3, 2], F64, 7),
        &GradCheck::default(),
        &[],
        |_| {},
    );
}

#[test]
fn batchnorm1d_training_and_evaluation() {
    let bn = random_bn::<1>(4, 12);
    check_module(
        bn,
        &randn(&[5, 4], F64, 8),
        &GradCheck::default(),
        &[],
        |_| {},
    );
    let mut bn = random_bn::<1>(4, 13);
    bn.set_mode(Mode::Eval);
    check_module(
        bn,
        &randn(&[5, 4], F64, 9),
        &GradCheck::default(),
        &[],
        |_| {},
    );
}

#[test]
fn batchnorm_with_frozen_weight_gives_the_rest_their_gradients() {
    let mut bn = random_bn::<1>(4, 14);
    bn.freeze_weight = true;
    check_module(
        bn,
        &randn(&[5, 4], F64, 10),
        &GradCheck::default(),
        &["weight"],
        |_| {},
    );
}

#[test]
fn prelu_per_channel_and_shared() {
    let mut p = PReLU::new(3, F64).unwrap();
    p.weight = Tensor::from_vec(vec![0.1, 0.25, -0.3], [3]).unwrap();
    let r = check_module(
        p,
        &away_from_zero(&[2, 3, 2, 2], 11),
        &GradCheck::default(),
        &[],
        |_| {},
    );
    assert_eq!(r.ops, ["prelu"]);
    let p = PReLU::new(1, F64).unwrap();
    check_module(
        p,
        &away_from_zero(&[4, 5], 12),
        &GradCheck::default(),
        &[],
        |_| {},
    );
}

#[test]
fn dropout_with_a_fixed_step() {
    // Resetting the step before each forward keeps the mask fixed across the differences.
    let d = Dropout::new(0.3, 99).unwrap();
    let r = check_module(
        d,
        &randn(&[4, 6], F64, 13),
        &GradCheck::default(),
        &[],
        |d| d.set_step(0),
    );
    assert_eq!(r.ops, ["dropout"]);
}

#[test]
fn sequential_of_layers() {
    let mut r = rng();
    let net = Sequential::new()
        .push(Linear::new(6, 5, true, F64, &mut r).unwrap())
        .push(ReLU)
        .push(BatchNorm1d::new(5, F64).unwrap())
        .push(Linear::new(5, 3, true, F64, &mut r).unwrap());
    check_module(
        net,
        &randn(&[4, 6], F64, 14),
        &GradCheck::default(),
        &[],
        |_| {},
    );
}

#[test]
fn flatten_then_linear() {
    let net = Sequential::new()
        .push(Flatten)
        .push(Linear::new(12, 2, true, F64, &mut rng()).unwrap());
    check_module(
        net,
        &randn(&[2, 3, 2, 2], F64, 15),
        &GradCheck::default(),
        &[],
        |_| {},
    );
}

#[test]
fn basic_block_with_projection_shortcut() {
    let block = BasicBlock::new(3, 4, 2, F64, &mut rng()).unwrap();
    assert!(block.downsample.is_some());
    let r = check_module(block, &randn(&[2, 3, 6, 6], F64, 16), &deep(), &[], |_| {});
    assert!(r.ops.contains(&"conv2d") && r.ops.contains(&"relu"));
}

#[test]
fn basic_block_with_identity_shortcut() {
    let block = BasicBlock::new(3, 3, 1, F64, &mut rng()).unwrap();
    assert!(block.downsample.is_none());
    check_module(block, &randn(&[2, 3, 4, 4], F64, 17), &deep(), &[], |_| {});
}

#[test]
fn bottleneck_block() {
    let block = Bottleneck::new(4, 2, 2, F64, &mut rng()).unwrap();
    check_module(block, &randn(&[2, 4, 4, 4], F64, 18), &deep(), &[], |_| {});
}

#[test]
fn iresnet_block_in_training_and_evaluation() {
    let block = IBasicBlock::new(3, 4, 2, F64, &mut rng()).unwrap();
    check_module(block, &randn(&[2, 3, 6, 6], F64, 19), &deep(), &[], |_| {});
    let mut block = IBasicBlock::new(3, 4, 2, F64, &mut rng()).unwrap();
    block.set_mode(Mode::Eval);
    check_module(block, &randn(&[2, 3, 6, 6], F64, 20), &deep(), &[], |_| {});
}

#[test]
fn tap_head() {
    let head = TapHead::new(3, 2, F64, &mut rng()).unwrap();
    check_module(
        head,
        &randn(&[2, 3, 4, 4], F64, 21),
        &GradCheck::default(),
        &[],
        |_| {},
    );
}

#[test]
fn mobilefacenet_inverted_residual_block() {
    // 1x1 expand (PReLU), 3x3 depthwise (PReLU), 1x1 linear project, plus the shortcut.
    let block = DepthWise::new(4, 4, true, 1, 8, F64, &mut rng()).unwrap();
    check_module(block, &randn(&[2, 4, 4, 4], F64, 22), &deep(), &[], |_| {});
}

#[test]
fn mobilefacenet_global_depthwise_head() {
    // GDC: a depthwise conv as large as the map (no padding), BN, flatten, FC, BN1d.
    let head = Gdc::new(4, (3, 3), 5, F64, &mut rng()).unwrap();
    check_module(head, &randn(&[3, 4, 3, 3], F64, 23), &deep(), &[], |_| {});
}
