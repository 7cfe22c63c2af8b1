//! ResNet (He et al. 2016, "Deep residual learning for image recognition") in torchvision's
//! layout and parameter names (`conv1`, `bn1`, `layer1.0.conv1`, …, `fc`), so torchvision
//! checkpoints load name for name; plus the CIFAR variant for 32×32 images.
//!
//! Shape legend (ImageNet stem, width w = 64, input [N, 3, H, W]):
//!
//! ```text
//! conv1 7x7/2, bn1, relu     [N, w, H/2, W/2]
//! maxpool 3x3/2              [N, w, H/4, W/4]
//! layer1 (stride 1)          [N, w·e, H/4, W/4]      e = 1 (BasicBlock) or 4 (Bottleneck)
//! layer2 (stride 2)          [N, 2w·e, H/8, W/8]
//! layer3 (stride 2)          [N, 4w·e, H/16, W/16]
//! layer4 (stride 2)          [N, 8w·e, H/32, W/32]
//! global average pool        [N, 8w·e]
//! fc                         [N, num_outputs]         (absent: the pooled features)
//! ```
//!
//! The CIFAR stem (3x3/1 conv, no max-pool) keeps 32×32 inputs at 32×32 into layer1
//! (the usual CIFAR ResNet-18, e.g. kuangliu/pytorch-cifar, with torchvision's names).
//! The global pooling makes any input size work (at least 32×32 for the ImageNet stem, so
//! that layer4 is not empty). Initialisation is torchvision's: convs
//! `kaiming_normal_(fan_out, relu)`, BN γ = 1, β = 0, fc PyTorch's default, and optionally
//! the last BN of each block at γ = 0 (`zero_init_residual`).

use anglegrad_engine::{DType, Result, Rng, Tape, Tensor};
use anglegrad_ops::{self as ops, Conv2dOptions, Pool2dOptions};

use super::resnet_blocks::{BasicBlock, Bottleneck};
use super::{conv, ConvInit};
use crate::check::{self, Dim};
use crate::deep_supervision::Backbone;
use crate::init;
use crate::layers::{BatchNorm2d, Conv2d, Linear};
use crate::module::{
    set_children_mode, visit_children_buffers, visit_children_parameters, Children, Mode, Module,
};

/// The residual block a ResNet stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Two 3x3 convs (ResNet-18/34).
    Basic,
    /// 1x1-3x3-1x1 with 4× expansion (ResNet-50 and deeper).
    Bottleneck,
}

impl BlockKind {
    pub fn expansion(self) -> usize {
        match self {
            BlockKind::Basic => BasicBlock::EXPANSION,
            BlockKind::Bottleneck => Bottleneck::EXPANSION,
        }
    }
}

/// The first layers, before layer1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stem {
    /// conv 7x7 stride 2 padding 3, BN, ReLU, max-pool 3x3 stride 2 padding 1 (ImageNet).
    ImageNet,
    /// conv 3x3 stride 1 padding 1, BN, ReLU, no max-pool (CIFAR, 32×32).
    Cifar,
}

/// What to build.
#[derive(Clone, Debug, PartialEq)]
pub struct ResNetConfig {
    pub block: BlockKind,
    /// Blocks per stage: [2, 2, 2, 2] is ResNet-18.
    pub layers: [usize; 4],
    /// Image channels (3).
    pub in_channels: usize,
    /// Channels of the stem and of layer1's blocks (64); stage k has width·2^(k−1) planes.
    pub width: usize,
    pub stem: Stem,
    /// Outputs of the final FC (classes, or the embedding size); None: no FC, the output is
    /// the pooled feature [N, 8·width·expansion].
    pub num_outputs: Option<usize>,
    /// Start each block's last BN at γ = 0, so every block starts as the identity.
    pub zero_init_residual: bool,
}

impl ResNetConfig {
    fn imagenet(block: BlockKind, layers: [usize; 4], num_outputs: usize) -> Self {
        ResNetConfig {
            block,
            layers,
            in_channels: 3,
            width: 64,
            stem: Stem::ImageNet,
            num_outputs: Some(num_outputs),
            zero_init_residual: false,
        }
    }

    /// torchvision's `resnet18(num_classes=num_outputs)`.
    pub fn resnet18(num_outputs: usize) -> Self {
        Self::imagenet(BlockKind::Basic, [2, 2, 2, 2], num_outputs)
    }

    /// torchvision's `resnet34`.
    pub fn resnet34(num_outputs: usize) -> Self {
        Self::imagenet(BlockKind::Basic, [3, 4, 6, 3], num_outputs)
    }

    /// torchvision's `resnet50`.
    pub fn resnet50(num_outputs: usize) -> Self {
        Self::imagenet(BlockKind::Bottleneck, [3, 4, 6, 3], num_outputs)
    }

    /// ResNet-18 for 32×32 images: the CIFAR stem, same stages.
    pub fn cifar_resnet18(num_outputs: usize) -> Self {
        ResNetConfig {
            stem: Stem::Cifar,
            ..Self::resnet18(num_outputs)
        }
    }
}

/// A residual block of either kind.
#[derive(Clone, Debug)]
pub enum ResBlock {
    Basic(Box<BasicBlock>),
    Bottleneck(Box<Bottleneck>),
}

impl ResBlock {
    fn module(&mut self) -> &mut dyn Module {
        match self {
            ResBlock::Basic(b) => b.as_mut(),
            ResBlock::Bottleneck(b) => b.as_mut(),
        }
    }
}

/// A ResNet with torchvision's parameter names.
#[derive(Clone, Debug)]
pub struct ResNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    /// layer1 … layer4.
    pub stages: [Vec<ResBlock>; 4],
    pub fc: Option<Linear>,
    config: ResNetConfig,
}

impl ResNet {
    pub fn new(config: ResNetConfig, dtype: DType, rng: &mut Rng) -> Result<ResNet> {
        let c = &config;
        if c.width == 0 || c.in_channels == 0 || c.layers.contains(&0) || c.num_outputs == Some(0) {
            return Err(check::config(
                "ResNet",
                format!("width, in_channels, block counts and num_outputs must be >= 1: {c:?}"),
            ));
        }
        let (k, pad) = match c.stem {
            Stem::ImageNet => (7, 3),
            Stem::Cifar => (3, 1),
        };
        let stride = if c.stem == Stem::ImageNet { 2 } else { 1 };
        let how = ConvInit::KaimingFanOut;
        let conv1 = conv(
            c.in_channels,
            c.width,
            k,
            Conv2dOptions::new(stride, pad),
            how,
            dtype,
            rng,
        )?;
        let bn1 = BatchNorm2d::new(c.width, dtype)?;
        let mut inplanes = c.width;
        let mut stages: [Vec<ResBlock>; 4] = Default::default();
        for (s, stage) in stages.iter_mut().enumerate() {
            let planes = c.width << s;
            for b in 0..c.layers[s] {
                let stride = if s > 0 && b == 0 { 2 } else { 1 };
                let mut block = match c.block {
                    BlockKind::Basic => ResBlock::Basic(Box::new(BasicBlock::new(
                        inplanes, planes, stride, dtype, rng,
                    )?)),
                    BlockKind::Bottleneck => ResBlock::Bottleneck(Box::new(Bottleneck::new(
                        inplanes, planes, stride, dtype, rng,
                    )?)),
                };
                if c.zero_init_residual {
                    match &mut block {
                        ResBlock::Basic(b) => zero_gamma(&mut b.bn2)?,
                        ResBlock::Bottleneck(b) => zero_gamma(&mut b.bn3)?,
                    }
                }
                stage.push(block);
                inplanes = planes * c.block.expansion();
            }
        }
        let fc = c
            .num_outputs
            .map(|n| Linear::new(inplanes, n, true, dtype, rng))
            .transpose()?;
        Ok(ResNet {
            conv1,
            bn1,
            stages,
            fc,
            config,
        })
    }

    pub fn config(&self) -> &ResNetConfig {
        &self.config
    }

    /// Channels of the pooled feature (the FC's input): 8·width·expansion.
    pub fn feature_channels(&self) -> usize {
        (self.config.width << 3) * self.config.block.expansion()
    }

    fn children(&mut self) -> Children<'_> {
        let mut c: Children<'_> = vec![
            ("conv1".into(), &mut self.conv1 as &mut dyn Module),
            ("bn1".into(), &mut self.bn1),
        ];
        for (s, stage) in self.stages.iter_mut().enumerate() {
            for (b, block) in stage.iter_mut().enumerate() {
                c.push((format!("layer{}.{b}", s + 1), block.module()));
            }
        }
        if let Some(fc) = &mut self.fc {
            c.push(("fc".into(), fc));
        }
        c
    }
}

fn zero_gamma(bn: &mut BatchNorm2d) -> Result<()> {
    match &mut bn.weight {
        Some(w) => init::zeros_(w),
        None => Ok(()),
    }
}

impl Backbone for ResNet {
    fn forward_with_taps(
        &mut self,
        x: &Tensor,
        tape: Option<&Tape>,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let layer = format!(
            "ResNet({:?} {:?}, width {})",
            self.config.block, self.config.layers, self.config.width
        );
        let c = Dim::Is(self.config.in_channels);
        check::input(
            "ResNet",
            &layer,
            x,
            &[&[Dim::Any("N"), c, Dim::Any("H"), Dim::Any("W")]],
        )?;
        let mut h = ops::relu(&self.bn1.forward(&self.conv1.forward(x, tape)?, tape)?)?;
        if self.config.stem == Stem::ImageNet {
            h = ops::max_pool2d(&h, Pool2dOptions::new(3, 2, 1))?;
        }
        let mut taps = Vec::with_capacity(4);
        for stage in &mut self.stages {
            for block in stage {
                h = block.module().forward(&h, tape)?;
            }
            taps.push(h.clone());
        }
        let pooled = ops::global_avg_pool(&h)?;
        let out = match &mut self.fc {
            Some(fc) => fc.forward(&pooled, tape)?,
            None => pooled,
        };
        Ok((out, taps))
    }

    fn tap_channels(&self) -> Vec<usize> {
        let e = self.config.block.expansion();
        (0..4).map(|s| (self.config.width << s) * e).collect()
    }
}

impl Module for ResNet {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        Ok(self.forward_with_taps(x, tape)?.0)
    }
    fn visit_parameters(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        visit_children_parameters(self.children(), prefix, f)
    }
    fn visit_buffers(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor)) {
        visit_children_buffers(self.children(), prefix, f)
    }
    fn set_mode(&mut self, mode: Mode) {
        set_children_mode(self.children(), mode)
    }
}
