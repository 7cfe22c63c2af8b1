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
//! ```
//! use anglegrad_engine::{DType, Rng, Tape, Tensor};
//! use anglegrad_models::{IResNet, IResNetConfig, Mode, Module};
//! use anglegrad_ops::TensorOps;
//!
//! // A tiny IResNet-18 (IResNetConfig::iresnet50() is the real one, for 112×112 faces).
//! let config = IResNetConfig {
//!     stem_width: 2,
//!     widths: [2, 4, 4, 8],
//!     input_size: (32, 32),
//!     num_features: 4,
//!     ..IResNetConfig::iresnet18()
//! };
//! let mut model = IResNet::new(config, DType::F32, &mut Rng::new(0))?;
//! let images = Tensor::randn([2, 3, 32, 32], 0.0, 1.0, DType::F32, &mut Rng::new(1))?;
//!
//! let tape = Tape::new();
//! let emb = model.forward(&images, Some(&tape))?; // parameters watched, ops recorded
//! let loss = emb.square()?.sum_all()?;            // stands for a margin-softmax loss
//! let grads = tape.backward(&loss)?;
//! model.visit_parameters("", &mut |_name, p| {    // the optimiser finds each gradient
//!     if let Some(g) = grads.get(p) {              // (None: a frozen parameter)
//!         *p = p.sub(&g.scale(0.1).unwrap()).unwrap();
//!     }
//! });
//!
//! model.set_mode(Mode::Eval);                      // running statistics, no dropout
//! let emb = model.forward(&images, None)?;         // no tape: nothing recorded
//! assert_eq!(emb.dims(), [2, 4]);
//! # Ok::<(), anglegrad_engine::Error>(())
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
