//! # anglegrad-models
//!
//! The `Module` trait, layers, initialisers and the face-recognition backbones.
//!
//! | file | holds |
//! |---|---|
//! | [`module`] | the `Module` trait: forward with or without a tape, named parameters and buffers, modes, `load_state` |
//! | [`layers`] | `Linear`, `Conv2d`, `BatchNorm1d`/`2d`, `ReLU`, `PReLU`, `Dropout`, `Flatten`, `Sequential` |
//! | [`init`] | PyTorch's initialisers: `kaiming_normal_`, `kaiming_uniform_`, `xavier_*`, defaults |
//! | [`backbones`] | ResNet-18/34/50, CIFAR ResNet-18, IResNet-18/34/50/100, MobileFaceNet, LeNet++ |
//! | [`deep_supervision`] | the `Backbone` trait (per-stage taps), tap heads, DeepID2+-style weighted losses |
//!
//! ## Training with a model
//!
//! ```ignore
//! let mut model = IResNet::new(IResNetConfig::iresnet50(), DType::F32, &mut Rng::new(0))?;
//! let tape = Tape::new();
//! let emb = model.forward(&images, Some(&tape))?;    // every parameter watched, ops recorded
//! let loss = head_and_loss(&emb, &labels)?;
//! let grads = tape.backward(&loss)?;
//! model.visit_parameters("", &mut |name, p| {        // the optimiser finds each gradient
//!     if let Some(g) = grads.get(p) { /* p <- p − lr·g */ }
//! });
//! model.set_mode(Mode::Eval);                        // BN running statistics, no dropout
//! let emb = model.forward(&images, None)?;           // no tape: nothing recorded
//! ```
//!
//! Parameter and buffer names are PyTorch's (`layer1.0.conv1.weight`, `bn1.running_mean`),
//! so `state_dict()` / `load_state()` line up with torchvision and insightface checkpoints.

pub mod backbones;
mod check;
pub mod deep_supervision;
pub mod init;
pub mod layers;
pub mod module;

pub use backbones::iresnet::{IBasicBlock, IResNet, IResNetConfig};
pub use backbones::lenet::{LeNetPlusPlus, LeNetPlusPlusConfig};
pub use backbones::mobilefacenet::{MobileFaceNet, MobileFaceNetConfig};
pub use backbones::resnet::{BlockKind, ResBlock, ResNet, ResNetConfig, Stem};
pub use backbones::resnet_blocks::{BasicBlock, Bottleneck, Downsample};
pub use deep_supervision::{Backbone, DeeplySupervised, TapHead};
pub use layers::{
    BatchNorm, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, PReLU, ReLU, Sequential,
};
pub use module::{join, use_param, Mode, Module};
