//! The backbones, one per file, each a [`Module`](crate::Module) and a
//! [`Backbone`](crate::Backbone) (it exposes its per-stage features for deep supervision).
//!
//! | file | network | parameter names follow |
//! |---|---|---|
//! | [`resnet`] (+ `resnet_blocks`) | ResNet-18/34/50 (He et al. 2016), CIFAR ResNet-18 | torchvision |
//! | [`iresnet`] | IResNet-18/34/50/100 (ArcFace, Deng et al. 2019) | insightface `arcface_torch` |
//! | [`mobilefacenet`] | MobileFaceNet (Chen et al. 2018) | insightface `arcface_torch` |
//! | [`lenet`] | LeNet++ (Wen et al. 2016, center loss) | pytorch-center-loss |

pub mod iresnet;
pub mod lenet;
pub mod mobilefacenet;
pub mod resnet;
pub mod resnet_blocks;

use anglegrad_engine::{DType, Result, Rng, Tensor};
use anglegrad_ops::Conv2dOptions;

use crate::init::{self, FanMode, Nonlinearity};
use crate::layers::Conv2d;

/// How a backbone initialises its convolution weights.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ConvInit {
    /// `kaiming_normal_(mode='fan_out', nonlinearity='relu')` (torchvision, MobileFaceNet).
    KaimingFanOut,
    /// `normal_(0, std)` (insightface IResNet: std 0.1).
    Normal(f64),
}

/// A bias-free convolution (every conv followed by batch norm) initialised by `how`.
pub(crate) fn conv(
    cin: usize,
    cout: usize,
    kernel: usize,
    options: Conv2dOptions,
    how: ConvInit,
    dtype: DType,
    rng: &mut Rng,
) -> Result<Conv2d> {
    let g = options.groups;
    if g == 0 || cin % g != 0 || cout % g != 0 || cin == 0 || cout == 0 || kernel == 0 {
        return Err(crate::check::config(
            "Conv2d",
            format!("Conv2d({cin}, {cout}, kernel {kernel}, groups {g}): channel counts must be positive multiples of groups"),
        ));
    }
    let mut weight = Tensor::zeros([cout, cin / g, kernel, kernel], dtype)?;
    match how {
        ConvInit::KaimingFanOut => {
            init::kaiming_normal_(&mut weight, 0.0, FanMode::FanOut, Nonlinearity::Relu, rng)?
        }
        ConvInit::Normal(std) => init::normal_(&mut weight, 0.0, std, rng)?,
    }
    Conv2d::from_tensors(weight, None, options)
}

/// ceil(n / 2): the output size of a 3x3 stride-2 padding-1 convolution (and of a 1x1
/// stride-2 one).
pub(crate) fn halve(n: usize) -> usize {
    n.div_ceil(2)
}
