//! MobileFaceNet (Chen, Liu, Gao, Han 2018, "MobileFaceNets: Efficient CNNs for accurate
//! real-time face verification on mobile devices") in the layout and parameter names of
//! insightface's `arcface_torch/backbones/mobilefacenet.py` ("mbf": scale 2, blocks
//! (1, 4, 6, 2), 512-d), which widens the paper's network (0.99 M parameters, 128-d) to
//! 2.06 M parameters.
//!
//! The ideas: depthwise-separable inverted residuals (1x1 expand, 3x3 depthwise, 1x1 linear
//! project, as MobileNetV2) with PReLU, and a global *depthwise* convolution (GDC, a 7x7
//! depthwise conv with no padding) instead of global average pooling, so each position of
//! the final 7×7 map gets its own learned weight (face corners matter less than the centre).
//!
//! Shape legend (input [N, 3, 112, 112], scale s = 2, c1 = 64s, c2 = 128s, D = num_features;
//! `groups=g` of insightface's `DepthWise` is the expanded width):
//!
//! ```text
//! layers.0  ConvBlock 3x3/2                      [N, c1, 56, 56]
//! layers.1  ConvBlock 3x3 groups 64              [N, c1, 56, 56]   (Residual if blocks[0] > 1)
//! layers.2  DepthWise /2, expand 128             [N, c1, 28, 28]
//! layers.3  Residual × blocks[1], expand 128     [N, c1, 28, 28]
//! layers.4  DepthWise /2, expand 256             [N, c2, 14, 14]
//! layers.5  Residual × blocks[2], expand 256     [N, c2, 14, 14]
//! layers.6  DepthWise /2, expand 512             [N, c2, 7, 7]
//! layers.7  Residual × blocks[3], expand 256     [N, c2, 7, 7]
//! conv_sep  ConvBlock 1x1                        [N, 512, 7, 7]
//! features  GDC: depthwise 7x7 + BN, flatten     [N, 512]
//!           Linear (no bias), BatchNorm1d        [N, D]
//!
//! ConvBlock = conv, BN, PReLU;  LinearBlock = conv, BN
//! DepthWise(x) = LinearBlock_1x1(ConvBlock_3x3 depthwise(ConvBlock_1x1(x)))  (+ x if residual)
//! ```
//!
//! Initialisation is insightface's: convs and the linear `kaiming_normal_(fan_out, relu)`,
//! BN γ = 1, β = 0, PReLU 0.25.

use anglegrad_engine::{DType, Result, Rng, Tape, Tensor};
use anglegrad_ops::{self as ops, Conv2dOptions};

use super::{conv, halve, ConvInit};
use crate::check::{self, Dim};
use crate::deep_supervision::Backbone;
use crate::init::{self, FanMode, Nonlinearity};
use crate::layers::{BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, PReLU};
use crate::module::{
    set_children_mode, visit_children_buffers, visit_children_parameters, Children, Mode, Module,
};

const INIT: ConvInit = ConvInit::KaimingFanOut;

macro_rules! container {
    ($t:ty) => {
        impl Module for $t {
            fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
                self.run(x, tape)
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
    };
}

/// conv (no bias), BN, PReLU; named `layers.0`, `layers.1`, `layers.2`.
#[derive(Clone, Debug)]
pub struct ConvBlock {
    pub conv: Conv2d,
    pub bn: BatchNorm2d,
    pub prelu: PReLU,
}

impl ConvBlock {
    pub fn new(
        cin: usize,
        cout: usize,
        k: usize,
        o: Conv2dOptions,
        dt: DType,
        rng: &mut Rng,
    ) -> Result<Self> {
        Ok(ConvBlock {
            conv: conv(cin, cout, k, o, INIT, dt, rng)?,
            bn: BatchNorm2d::new(cout, dt)?,
            prelu: PReLU::new(cout, dt)?,
        })
    }
    fn run(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let h = self.bn.forward(&self.conv.forward(x, tape)?, tape)?;
        self.prelu.forward(&h, tape)
    }
    fn children(&mut self) -> Children<'_> {
        vec![
            ("layers.0".into(), &mut self.conv as &mut dyn Module),
            ("layers.1".into(), &mut self.bn),
            ("layers.2".into(), &mut self.prelu),
        ]
    }
}
container!(ConvBlock);

/// conv (no bias), BN: no activation (a linear bottleneck); `layers.0`, `layers.1`.
#[derive(Clone, Debug)]
pub struct LinearBlock {
    pub conv: Conv2d,
    pub bn: BatchNorm2d,
}

impl LinearBlock {
    pub fn new(
        cin: usize,
        cout: usize,
        k: usize,
        o: Conv2dOptions,
        dt: DType,
        rng: &mut Rng,
    ) -> Result<Self> {
        Ok(LinearBlock {
            conv: conv(cin, cout, k, o, INIT, dt, rng)?,
            bn: BatchNorm2d::new(cout, dt)?,
        })
    }
    fn run(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        self.bn.forward(&self.conv.forward(x, tape)?, tape)
    }
    fn children(&mut self) -> Children<'_> {
        vec![
            ("layers.0".into(), &mut self.conv as &mut dyn Module),
            ("layers.1".into(), &mut self.bn),
        ]
    }
}
container!(LinearBlock);

/// The inverted residual: 1x1 expand to `groups` channels, 3x3 depthwise, 1x1 project.
#[derive(Clone, Debug)]
pub struct DepthWise {
    pub expand: ConvBlock,
    pub depthwise: ConvBlock,
    pub project: LinearBlock,
    pub residual: bool,
}

impl DepthWise {
    pub fn new(
        cin: usize,
        cout: usize,
        residual: bool,
        stride: usize,
        groups: usize,
        dt: DType,
        rng: &mut Rng,
    ) -> Result<Self> {
        let one = Conv2dOptions::new(1, 0);
        Ok(DepthWise {
            expand: ConvBlock::new(cin, groups, 1, one, dt, rng)?,
            depthwise: ConvBlock::new(
                groups,
                groups,
                3,
                Conv2dOptions::new(stride, 1).groups(groups),
                dt,
                rng,
            )?,
            project: LinearBlock::new(groups, cout, 1, one, dt, rng)?,
            residual,
        })
    }
    fn run(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let h = self.depthwise.run(&self.expand.run(x, tape)?, tape)?;
        let h = self.project.run(&h, tape)?;
        if self.residual {
            ops::add(x, &h)
        } else {
            Ok(h)
        }
    }
    fn children(&mut self) -> Children<'_> {
        vec![
            ("layers.0".into(), &mut self.expand as &mut dyn Module),
            ("layers.1".into(), &mut self.depthwise),
            ("layers.2".into(), &mut self.project),
        ]
    }
}
container!(DepthWise);

/// `num_block` residual `DepthWise` blocks at constant shape; `layers.{i}`.
#[derive(Clone, Debug)]
pub struct Residual {
    pub blocks: Vec<DepthWise>,
}

impl Residual {
    pub fn new(
        c: usize,
        num_block: usize,
        groups: usize,
        dt: DType,
        rng: &mut Rng,
    ) -> Result<Self> {
        let blocks = (0..num_block)
            .map(|_| DepthWise::new(c, c, true, 1, groups, dt, rng))
            .collect::<Result<_>>()?;
        Ok(Residual { blocks })
    }
    fn run(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let mut h = x.clone();
        for b in &mut self.blocks {
            h = b.run(&h, tape)?;
        }
        Ok(h)
    }
    fn children(&mut self) -> Children<'_> {
        self.blocks
            .iter_mut()
            .enumerate()
            .map(|(i, b)| (format!("layers.{i}"), b as &mut dyn Module))
            .collect()
    }
}
container!(Residual);

/// Global depthwise convolution head: `layers.0` LinearBlock (k×k depthwise, no padding),
/// `layers.1` Flatten, `layers.2` Linear (no bias), `layers.3` BatchNorm1d.
#[derive(Clone, Debug)]
pub struct Gdc {
    pub gdconv: LinearBlock,
    pub linear: Linear,
    pub bn: BatchNorm1d,
}

impl Gdc {
    pub fn new(
        c: usize,
        kernel: (usize, usize),
        dim: usize,
        dt: DType,
        rng: &mut Rng,
    ) -> Result<Self> {
        // A k_h×k_w depthwise kernel as large as the last feature map (7×7 at 112×112).
        let mut w = Tensor::zeros([c, 1, kernel.0, kernel.1], dt)?;
        init::kaiming_normal_(&mut w, 0.0, FanMode::FanOut, Nonlinearity::Relu, rng)?;
        let gdconv = LinearBlock {
            conv: Conv2d::from_tensors(w, None, Conv2dOptions::new(1, 0).groups(c))?,
            bn: BatchNorm2d::new(c, dt)?,
        };
        let mut linear = Linear::new(c, dim, false, dt, rng)?;
        init::kaiming_normal_(
            &mut linear.weight,
            0.0,
            FanMode::FanOut,
            Nonlinearity::Relu,
            rng,
        )?;
        Ok(Gdc {
            gdconv,
            linear,
            bn: BatchNorm1d::new(dim, dt)?,
        })
    }
    fn run(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let h = self.gdconv.run(x, tape)?;
        let h = Flatten.forward(&h, None)?;
        self.bn.forward(&self.linear.forward(&h, tape)?, tape)
    }
    fn children(&mut self) -> Children<'_> {
        vec![
            ("layers.0".into(), &mut self.gdconv as &mut dyn Module),
            ("layers.2".into(), &mut self.linear),
            ("layers.3".into(), &mut self.bn),
        ]
    }
}
container!(Gdc);

/// One entry of MobileFaceNet's `layers` list.
#[derive(Clone, Debug)]
pub enum MfnLayer {
    Conv(Box<ConvBlock>),
    DepthWise(Box<DepthWise>),
    Residual(Residual),
}

impl MfnLayer {
    fn module(&mut self) -> &mut dyn Module {
        match self {
            MfnLayer::Conv(m) => m.as_mut(),
            MfnLayer::DepthWise(m) => m.as_mut(),
            MfnLayer::Residual(m) => m,
        }
    }
}

/// What to build.
#[derive(Clone, Debug, PartialEq)]
pub struct MobileFaceNetConfig {
    /// Residual blocks of the four stages: (1, 4, 6, 2) ("mbf"), (2, 8, 12, 4) ("mbf_large").
    pub blocks: [usize; 4],
    /// Width multiplier of the stages: 2 ("mbf"), 4 ("mbf_large").
    pub scale: usize,
    /// Embedding size D (512).
    pub num_features: usize,
    /// (H, W) of the input (112, 112): sets the GDC kernel (7×7).
    pub input_size: (usize, usize),
    /// Divides every channel and group count (1: insightface's network; 16 gives a tiny
    /// network of the same shape, for quick tests).
    pub width_divisor: usize,
}

impl MobileFaceNetConfig {
    /// insightface's `get_mbf(num_features=512)`.
    pub fn mbf() -> Self {
        MobileFaceNetConfig {
            blocks: [1, 4, 6, 2],
            scale: 2,
            num_features: 512,
            input_size: (112, 112),
            width_divisor: 1,
        }
    }

    /// insightface's `get_mbf_large`.
    pub fn mbf_large() -> Self {
        MobileFaceNetConfig {
            blocks: [2, 8, 12, 4],
            scale: 4,
            ..Self::mbf()
        }
    }

    /// The size of the last feature map (the GDC kernel): ⌈H/16⌉ × ⌈W/16⌉.
    pub fn final_size(&self) -> (usize, usize) {
        let q = |n: usize| halve(halve(halve(halve(n))));
        (q(self.input_size.0), q(self.input_size.1))
    }
}

/// MobileFaceNet with insightface's parameter names.
#[derive(Clone, Debug)]
pub struct MobileFaceNet {
    pub layers: Vec<MfnLayer>,
    pub conv_sep: ConvBlock,
    pub features: Gdc,
    config: MobileFaceNetConfig,
    taps: [usize; 2],
}

impl MobileFaceNet {
    pub fn new(config: MobileFaceNetConfig, dtype: DType, rng: &mut Rng) -> Result<Self> {
        let c = &config;
        let d = c.width_divisor;
        let sizes = [64 * c.scale, 128 * c.scale, 64, 128, 256, 512];
        let positive = d > 0 && c.scale > 0 && c.num_features > 0 && !c.blocks.contains(&0);
        if !positive
            || sizes.iter().any(|s| s % d != 0)
            || c.input_size.0 == 0
            || c.input_size.1 == 0
        {
            return Err(check::config(
                "MobileFaceNet",
                format!("sizes must be >= 1 and the width divisor must divide 64: {c:?}"),
            ));
        }
        let [c1, c2, g64, g128, g256, g512] = sizes.map(|s| s / d);
        let (dt, s2) = (dtype, Conv2dOptions::new(2, 1));
        let mut layers = vec![MfnLayer::Conv(Box::new(ConvBlock::new(
            3, c1, 3, s2, dt, rng,
        )?))];
        layers.push(if c.blocks[0] == 1 {
            let o = Conv2dOptions::new(1, 1).groups(g64);
            MfnLayer::Conv(Box::new(ConvBlock::new(c1, c1, 3, o, dt, rng)?))
        } else {
            MfnLayer::Residual(Residual::new(c1, c.blocks[0], g128, dt, rng)?)
        });
        let dw = |cin, cout, groups, rng: &mut Rng| -> Result<MfnLayer> {
            let block = DepthWise::new(cin, cout, false, 2, groups, dt, rng)?;
            Ok(MfnLayer::DepthWise(Box::new(block)))
        };
        let res = |c, n, groups, rng: &mut Rng| -> Result<MfnLayer> {
            Ok(MfnLayer::Residual(Residual::new(c, n, groups, dt, rng)?))
        };
        let b = c.blocks;
        layers.extend([
            dw(c1, c1, g128, rng)?,
            res(c1, b[1], g128, rng)?,
            dw(c1, c2, g256, rng)?,
            res(c2, b[2], g256, rng)?,
            dw(c2, c2, g512, rng)?,
            res(c2, b[3], g256, rng)?,
        ]);
        let conv_sep = ConvBlock::new(c2, g512, 1, Conv2dOptions::new(1, 0), dt, rng)?;
        let features = Gdc::new(g512, c.final_size(), c.num_features, dt, rng)?;
        Ok(MobileFaceNet {
            layers,
            conv_sep,
            features,
            config,
            taps: [c1, c2],
        })
    }

    pub fn config(&self) -> &MobileFaceNetConfig {
        &self.config
    }

    fn children(&mut self) -> Children<'_> {
        let mut c: Children<'_> = self
            .layers
            .iter_mut()
            .enumerate()
            .map(|(i, l)| (format!("layers.{i}"), l.module()))
            .collect();
        c.push(("conv_sep".into(), &mut self.conv_sep));
        c.push(("features".into(), &mut self.features));
        c
    }

    fn run(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        Ok(self.forward_with_taps(x, tape)?.0)
    }
}

/// The `layers` entries after which a stage ends (a tap): 56², 28², 14², 7² at 112×112.
const TAP_AFTER: [usize; 4] = [1, 3, 5, 7];

impl Backbone for MobileFaceNet {
    fn forward_with_taps(
        &mut self,
        x: &Tensor,
        tape: Option<&Tape>,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let (h, w) = self.config.input_size;
        let pattern = [Dim::Any("N"), Dim::Is(3), Dim::Is(h), Dim::Is(w)];
        let name = format!(
            "MobileFaceNet(blocks {:?}, scale {})",
            self.config.blocks, self.config.scale
        );
        check::input("MobileFaceNet", &name, x, &[&pattern])?;
        let mut h = x.clone();
        let mut taps = Vec::with_capacity(4);
        for (i, layer) in self.layers.iter_mut().enumerate() {
            h = layer.module().forward(&h, tape)?;
            if TAP_AFTER.contains(&i) {
                taps.push(h.clone());
            }
        }
        let h = self.conv_sep.run(&h, tape)?;
        Ok((self.features.run(&h, tape)?, taps))
    }

    fn tap_channels(&self) -> Vec<usize> {
        let [c1, c2] = self.taps;
        vec![c1, c1, c2, c2]
    }
}
container!(MobileFaceNet);
