//! Parameter counts of every backbone against the reference implementations.
//!
//! The reference figures were computed in the PyTorch venv (torch 2.15.0, torchvision 0.29.2)
//! with `sum(p.numel() for p in model.parameters())` (frozen parameters included, as
//! PyTorch counts them), by `tools/torch_reference/models_ref.py counts`:
//! - torchvision: `resnet18()`, `resnet34()`, `resnet50()` (1000 classes);
//! - CIFAR ResNet-18: torchvision `resnet18(num_classes=10)` with `conv1 = Conv2d(3, 64, 3,
//!   1, 1, bias=False)` and `maxpool = Identity()` (the same count as kuangliu/pytorch-cifar);
//! - insightface `recognition/arcface_torch/backbones/iresnet.py` `iresnet18/34/50/100()`
//!   (512-d) and `mobilefacenet.py` `get_mbf(False, 512)`, `get_mbf_large(False, 512)`;
//! - LeNet++: pytorch-center-loss `models.py` `ConvNet(num_classes=10)`.
//!
//! Building the models only allocates (no forward), so even ResNet-50 is quick.

use anglegrad_engine::{DType, Rng};
use anglegrad_models::{
    IResNet, IResNetConfig, LeNetPlusPlus, LeNetPlusPlusConfig, MobileFaceNet, MobileFaceNetConfig,
    Module, ResNet, ResNetConfig,
};

fn resnet(config: ResNetConfig) -> usize {
    ResNet::new(config, DType::F32, &mut Rng::new(0))
        .unwrap()
        .parameter_count()
}

fn iresnet(config: IResNetConfig) -> usize {
    IResNet::new(config, DType::F32, &mut Rng::new(0))
        .unwrap()
        .parameter_count()
}

#[test]
fn resnets_match_torchvision() {
    assert_eq!(resnet(ResNetConfig::resnet18(1000)), 11_689_512);
    assert_eq!(resnet(ResNetConfig::resnet34(1000)), 21_797_672);
    assert_eq!(resnet(ResNetConfig::resnet50(1000)), 25_557_032);
}

#[test]
fn cifar_resnet18_matches_the_cifar_recipe() {
    assert_eq!(resnet(ResNetConfig::cifar_resnet18(10)), 11_173_962);
}

#[test]
fn iresnets_match_insightface() {
    assert_eq!(iresnet(IResNetConfig::iresnet18()), 24_025_600);
    assert_eq!(iresnet(IResNetConfig::iresnet34()), 34_139_328);
    assert_eq!(iresnet(IResNetConfig::iresnet50()), 43_590_848);
    assert_eq!(iresnet(IResNetConfig::iresnet100()), 65_156_160);
}

#[test]
fn mobilefacenets_match_insightface() {
    let count = |c| {
        MobileFaceNet::new(c, DType::F32, &mut Rng::new(0))
            .unwrap()
            .parameter_count()
    };
    assert_eq!(count(MobileFaceNetConfig::mbf()), 2_059_520);
    assert_eq!(count(MobileFaceNetConfig::mbf_large()), 6_314_880);
}

#[test]
fn lenet_plus_plus_matches_center_loss_convnet() {
    let mut net =
        LeNetPlusPlus::new(LeNetPlusPlusConfig::mnist(), DType::F32, &mut Rng::new(0)).unwrap();
    assert_eq!(net.parameter_count(), 797_191);
}

#[test]
fn iresnet_embedding_bn_weight_is_counted_but_frozen() {
    // insightface sets features.weight.requires_grad = False: 43,590,848 parameters of which
    // 43,590,336 are trainable (512 fewer).
    let mut net = IResNet::new(IResNetConfig::iresnet50(), DType::F32, &mut Rng::new(0)).unwrap();
    assert!(net.features.freeze_weight);
    let frozen: usize = net
        .parameters()
        .iter()
        .filter(|(name, _)| name == "features.weight")
        .map(|(_, t)| t.numel())
        .sum();
    assert_eq!(net.parameter_count() - frozen, 43_590_336);
}
