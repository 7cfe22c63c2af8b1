//! IResNet, the "improved" ResNet of ArcFace (Deng, Guo, Xue, Zafeiriou 2019, "ArcFace:
//! Additive angular margin loss for deep face recognition", §3.2 / the "LResNet-IR" unit),
//! in the layout and parameter names of insightface's `arcface_torch/backbones/iresnet.py`.
//!
//! Differences from ResNet: a 3x3 stride-1 stem with PReLU (112×112 faces are small), the
//! pre-activation-like block BN-conv-BN-PReLU-conv-BN with no activation after the sum, the
//! stride on the block's second conv, every stage downsampling, and an output layer
//! BN-dropout-FC-BN (the "E" option of the paper) instead of global pooling, which keeps the
//! spatial layout of the face in the embedding.
//!
//! Shape legend (input [N, 3, 112, 112], widths 64/128/256/512, D = num_features):
//!
//! ```text
//! conv1 3x3/1, bn1, prelu         [N, 64, 112, 112]
//! layer1 (first block stride 2)   [N, 64, 56, 56]
//! layer2                          [N, 128, 28, 28]
//! layer3                          [N, 256, 14, 14]
//! layer4                          [N, 512, 7, 7]
//! bn2, flatten, dropout           [N, 512·7·7]
//! fc                              [N, D]
//! features (BatchNorm1d, γ frozen at 1)  [N, D]
//!
//! IBasicBlock: y = bn3(conv2_3x3/s( prelu(bn2(conv1_3x3(bn1(x)))) )) + shortcut(x)
//! ```
//!
//! Initialisation is insightface's: convs N(0, 0.1²), BN γ = 1, β = 0, PReLU 0.25, fc
//! PyTorch's default; `features.weight` is 1 and frozen (`requires_grad = False` there: here
//! it is not watched, so it gets no gradient, but it is a parameter and is counted).

use anglegrad_engine::{DType, Result, Rng, Tape, Tensor};
use anglegrad_ops::{self as ops, Conv2dOptions};

use super::resnet_blocks::Downsample;
use super::{conv, halve, ConvInit};
use crate::check::{self, Dim};
use crate::deep_supervision::Backbone;
use crate::layers::{BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, PReLU};
use crate::module::{
    set_children_mode, visit_children_buffers, visit_children_parameters, Children, Mode, Module,
};

/// insightface's convolution initialisation: N(0, 0.1²).
const CONV_INIT: ConvInit = ConvInit::Normal(0.1);

/// BN-conv-BN-PReLU-conv-BN with a shortcut (insightface's `IBasicBlock`).
#[derive(Clone, Debug)]
pub struct IBasicBlock {
    pub bn1: BatchNorm2d,
    pub conv1: Conv2d,
    pub bn2: BatchNorm2d,
    pub prelu: PReLU,
    pub conv2: Conv2d,
    pub bn3: BatchNorm2d,
    pub downsample: Option<Downsample>,
}

impl IBasicBlock {
    pub fn new(
        inplanes: usize,
        planes: usize,
        stride: usize,
        dtype: DType,
        rng: &mut Rng,
    ) -> Result<IBasicBlock> {
        let bn1 = BatchNorm2d::new(inplanes, dtype)?;
        let conv1 = conv(
            inplanes,
            planes,
            3,
            Conv2dOptions::new(1, 1),
            CONV_INIT,
            dtype,
            rng,
        )?;
        let bn2 = BatchNorm2d::new(planes, dtype)?;
        let prelu = PReLU::new(planes, dtype)?;
        let conv2 = conv(
            planes,
            planes,
            3,
            Conv2dOptions::new(stride, 1),
            CONV_INIT,
            dtype,
            rng,
        )?;
        let bn3 = BatchNorm2d::new(planes, dtype)?;
        let downsample = (stride != 1 || inplanes != planes)
            .then(|| Downsample::new(inplanes, planes, stride, CONV_INIT, dtype, rng))
            .transpose()?;
        Ok(IBasicBlock {
            bn1,
            conv1,
            bn2,
            prelu,
            conv2,
            bn3,
            downsample,
        })
    }

    fn children(&mut self) -> Children<'_> {
        let mut c: Children<'_> = vec![
            ("bn1".into(), &mut self.bn1 as &mut dyn Module),
            ("conv1".into(), &mut self.conv1),
            ("bn2".into(), &mut self.bn2),
            ("prelu".into(), &mut self.prelu),
            ("conv2".into(), &mut self.conv2),
            ("bn3".into(), &mut self.bn3),
        ];
        if let Some(d) = &mut self.downsample {
            c.push(("downsample".into(), d));
        }
        c
    }
}

impl Module for IBasicBlock {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let h = self.conv1.forward(&self.bn1.forward(x, tape)?, tape)?;
        let h = self.prelu.forward(&self.bn2.forward(&h, tape)?, tape)?;
        let h = self.bn3.forward(&self.conv2.forward(&h, tape)?, tape)?;
        let shortcut = match &mut self.downsample {
            Some(d) => d.forward(x, tape)?,
            None => x.clone(),
        };
        ops::add(&h, &shortcut)
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

/// What to build.
#[derive(Clone, Debug, PartialEq)]
pub struct IResNetConfig {
    /// Blocks per stage: [2, 2, 2, 2] is IResNet-18.
    pub layers: [usize; 4],
    /// Channels of the stem (64).
    pub stem_width: usize,
    /// Channels of each stage (64, 128, 256, 512).
    pub widths: [usize; 4],
    /// (H, W) of the input faces (112, 112): the FC's input size depends on it.
    pub input_size: (usize, usize),
    /// Embedding size D (512).
    pub num_features: usize,
    /// Dropout probability before the FC (insightface's default 0).
    pub dropout: f64,
    /// Seed of the dropout masks.
    pub seed: u64,
}

impl IResNetConfig {
    /// insightface's network with the given stages, for 112×112 faces and a 512-d embedding.
    pub fn with_layers(layers: [usize; 4]) -> Self {
        IResNetConfig {
            layers,
            stem_width: 64,
            widths: [64, 128, 256, 512],
            input_size: (112, 112),
            num_features: 512,
            dropout: 0.0,
            seed: 0,
        }
    }

    /// `iresnet18` (arcface_torch "r18").
    pub fn iresnet18() -> Self {
        Self::with_layers([2, 2, 2, 2])
    }

    /// `iresnet34` ("r34").
    pub fn iresnet34() -> Self {
        Self::with_layers([3, 4, 6, 3])
    }

    /// `iresnet50` ("r50").
    pub fn iresnet50() -> Self {
        Self::with_layers([3, 4, 14, 3])
    }

    /// `iresnet100` ("r100").
    pub fn iresnet100() -> Self {
        Self::with_layers([3, 13, 30, 3])
    }

    /// (H, W) after the four stride-2 stages: ⌈H/16⌉, ⌈W/16⌉ (7×7 for 112×112).
    pub fn final_size(&self) -> (usize, usize) {
        let q = |n: usize| halve(halve(halve(halve(n))));
        (q(self.input_size.0), q(self.input_size.1))
    }
}

/// An IResNet with insightface's parameter names.
#[derive(Clone, Debug)]
pub struct IResNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    pub prelu: PReLU,
    /// layer1 … layer4.
    pub stages: [Vec<IBasicBlock>; 4],
    pub bn2: BatchNorm2d,
    pub dropout: Dropout,
    pub fc: Linear,
    pub features: BatchNorm1d,
    config: IResNetConfig,
}

impl IResNet {
    pub fn new(config: IResNetConfig, dtype: DType, rng: &mut Rng) -> Result<IResNet> {
        let c = &config;
        let positive = c.stem_width > 0
            && c.num_features > 0
            && c.input_size.0 > 0
            && c.input_size.1 > 0
            && !c.widths.contains(&0)
            && !c.layers.contains(&0);
        if !positive {
            return Err(check::config(
                "IResNet",
                format!("widths, block counts, input size and num_features must be >= 1: {c:?}"),
            ));
        }
        let conv1 = conv(
            3,
            c.stem_width,
            3,
            Conv2dOptions::new(1, 1),
            CONV_INIT,
            dtype,
            rng,
        )?;
        let bn1 = BatchNorm2d::new(c.stem_width, dtype)?;
        let prelu = PReLU::new(c.stem_width, dtype)?;
        let mut inplanes = c.stem_width;
        let mut stages: [Vec<IBasicBlock>; 4] = Default::default();
        for (s, stage) in stages.iter_mut().enumerate() {
            for b in 0..c.layers[s] {
                let stride = if b == 0 { 2 } else { 1 };
                stage.push(IBasicBlock::new(inplanes, c.widths[s], stride, dtype, rng)?);
                inplanes = c.widths[s];
            }
        }
        let bn2 = BatchNorm2d::new(inplanes, dtype)?;
        let dropout = Dropout::new(c.dropout, c.seed)?;
        let (fh, fw) = c.final_size();
        let fc = Linear::new(inplanes * fh * fw, c.num_features, true, dtype, rng)?;
        let mut features = BatchNorm1d::new(c.num_features, dtype)?;
        features.freeze_weight = true;
        Ok(IResNet {
            conv1,
            bn1,
            prelu,
            stages,
            bn2,
            dropout,
            fc,
            features,
            config,
        })
    }

    pub fn config(&self) -> &IResNetConfig {
        &self.config
    }

    fn children(&mut self) -> Children<'_> {
        let mut c: Children<'_> = vec![
            ("conv1".into(), &mut self.conv1 as &mut dyn Module),
            ("bn1".into(), &mut self.bn1),
            ("prelu".into(), &mut self.prelu),
        ];
        for (s, stage) in self.stages.iter_mut().enumerate() {
            for (b, block) in stage.iter_mut().enumerate() {
                c.push((format!("layer{}.{b}", s + 1), block));
            }
        }
        c.push(("bn2".into(), &mut self.bn2));
        c.push(("dropout".into(), &mut self.dropout));
        c.push(("fc".into(), &mut self.fc));
        c.push(("features".into(), &mut self.features));
        c
    }
}

impl Backbone for IResNet {
    fn forward_with_taps(
        &mut self,
        x: &Tensor,
        tape: Option<&Tape>,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let (h, w) = self.config.input_size;
        let layer = format!("IResNet({:?})", self.config.layers);
        let pattern = [Dim::Any("N"), Dim::Is(3), Dim::Is(h), Dim::Is(w)];
        check::input("IResNet", &layer, x, &[&pattern])?;
        let mut h = self.conv1.forward(x, tape)?;
        h = self.prelu.forward(&self.bn1.forward(&h, tape)?, tape)?;
        let mut taps = Vec::with_capacity(4);
        for stage in &mut self.stages {
            for block in stage {
                h = block.forward(&h, tape)?;
            }
            taps.push(h.clone());
        }
        h = self.bn2.forward(&h, tape)?;
        h = Flatten.forward(&h, None)?;
        h = self.dropout.forward(&h, tape)?;
        h = self.fc.forward(&h, tape)?;
        Ok((self.features.forward(&h, tape)?, taps))
    }

    fn tap_channels(&self) -> Vec<usize> {
        self.config.widths.to_vec()
    }
}

impl Module for IResNet {
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
