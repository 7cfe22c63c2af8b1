//! The residual blocks of ResNet (He et al. 2016, "Deep residual learning for image
//! recognition"), laid out and named as torchvision's `BasicBlock` and `Bottleneck`.
//!
//! Shape legend: x [N, Cin, H, W] -> y [N, Cout, H/s, W/s] (s = stride of the block).
//!
//! ```text
//! BasicBlock (ResNet-18/34), Cout = planes:
//!   y = relu( bn2(conv2_3x3( relu(bn1(conv1_3x3/s(x))) )) + shortcut(x) )
//! Bottleneck (ResNet-50, torchvision's "v1.5": the stride is on the 3x3), Cout = 4·planes:
//!   y = relu( bn3(conv3_1x1( relu(bn2(conv2_3x3/s( relu(bn1(conv1_1x1(x))) ))) )) + shortcut(x) )
//! shortcut(x) = x, or downsample(x) = bn(conv_1x1/s(x)) when the shape changes.
//! ```

use anglegrad_engine::{DType, Result, Rng, Tape, Tensor};
use anglegrad_ops::{self as ops, Conv2dOptions};

use super::{conv, ConvInit};
use crate::layers::{BatchNorm2d, Conv2d};
use crate::module::{
    set_children_mode, visit_children_buffers, visit_children_parameters, Children, Mode, Module,
};

/// The projection shortcut: 1x1 conv with the block's stride, then batch norm. Named "0" and
/// "1" (`downsample.0.weight`, `downsample.1.running_mean`) as torchvision's `nn.Sequential`.
#[derive(Clone, Debug)]
pub struct Downsample {
    pub conv: Conv2d,
    pub bn: BatchNorm2d,
}

impl Downsample {
    pub(crate) fn new(
        cin: usize,
        cout: usize,
        stride: usize,
        how: ConvInit,
        dtype: DType,
        rng: &mut Rng,
    ) -> Result<Downsample> {
        Ok(Downsample {
            conv: conv(cin, cout, 1, Conv2dOptions::new(stride, 0), how, dtype, rng)?,
            bn: BatchNorm2d::new(cout, dtype)?,
        })
    }

    fn children(&mut self) -> Children<'_> {
        vec![
            ("0".into(), &mut self.conv as &mut dyn Module),
            ("1".into(), &mut self.bn),
        ]
    }
}

impl Module for Downsample {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let h = self.conv.forward(x, tape)?;
        self.bn.forward(&h, tape)
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

/// Two 3x3 convolutions with a shortcut (ResNet-18/34).
#[derive(Clone, Debug)]
pub struct BasicBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    pub conv2: Conv2d,
    pub bn2: BatchNorm2d,
    pub downsample: Option<Downsample>,
}

impl BasicBlock {
    /// Output channels = planes.
    pub const EXPANSION: usize = 1;

    /// torchvision's block: convs `kaiming_normal_(fan_out, relu)`, BN γ = 1, β = 0.
    pub fn new(
        inplanes: usize,
        planes: usize,
        stride: usize,
        dtype: DType,
        rng: &mut Rng,
    ) -> Result<BasicBlock> {
        let k = ConvInit::KaimingFanOut;
        let conv1 = conv(
            inplanes,
            planes,
            3,
            Conv2dOptions::new(stride, 1),
            k,
            dtype,
            rng,
        )?;
        let bn1 = BatchNorm2d::new(planes, dtype)?;
        let conv2 = conv(planes, planes, 3, Conv2dOptions::new(1, 1), k, dtype, rng)?;
        let bn2 = BatchNorm2d::new(planes, dtype)?;
        let downsample = (stride != 1 || inplanes != planes)
            .then(|| Downsample::new(inplanes, planes, stride, k, dtype, rng))
            .transpose()?;
        Ok(BasicBlock {
            conv1,
            bn1,
            conv2,
            bn2,
            downsample,
        })
    }

    fn children(&mut self) -> Children<'_> {
        let mut c: Children<'_> = vec![
            ("conv1".into(), &mut self.conv1 as &mut dyn Module),
            ("bn1".into(), &mut self.bn1),
            ("conv2".into(), &mut self.conv2),
            ("bn2".into(), &mut self.bn2),
        ];
        if let Some(d) = &mut self.downsample {
            c.push(("downsample".into(), d));
        }
        c
    }
}

impl Module for BasicBlock {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let h = ops::relu(&self.bn1.forward(&self.conv1.forward(x, tape)?, tape)?)?;
        let h = self.bn2.forward(&self.conv2.forward(&h, tape)?, tape)?;
        let shortcut = match &mut self.downsample {
            Some(d) => d.forward(x, tape)?,
            None => x.clone(),
        };
        ops::relu(&ops::add(&h, &shortcut)?)
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

/// 1x1 reduce, 3x3, 1x1 expand (×4), with a shortcut (ResNet-50).
#[derive(Clone, Debug)]
pub struct Bottleneck {
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    pub conv2: Conv2d,
    pub bn2: BatchNorm2d,
    pub conv3: Conv2d,
    pub bn3: BatchNorm2d,
    pub downsample: Option<Downsample>,
}

impl Bottleneck {
    /// Output channels = 4·planes.
    pub const EXPANSION: usize = 4;

    /// torchvision's block (groups 1, base width 64, so the inner width is `planes`).
    pub fn new(
        inplanes: usize,
        planes: usize,
        stride: usize,
        dtype: DType,
        rng: &mut Rng,
    ) -> Result<Bottleneck> {
        let k = ConvInit::KaimingFanOut;
        let out = planes * Self::EXPANSION;
        let conv1 = conv(inplanes, planes, 1, Conv2dOptions::new(1, 0), k, dtype, rng)?;
        let bn1 = BatchNorm2d::new(planes, dtype)?;
        let conv2 = conv(
            planes,
            planes,
            3,
            Conv2dOptions::new(stride, 1),
            k,
            dtype,
            rng,
        )?;
        let bn2 = BatchNorm2d::new(planes, dtype)?;
        let conv3 = conv(planes, out, 1, Conv2dOptions::new(1, 0), k, dtype, rng)?;
        let bn3 = BatchNorm2d::new(out, dtype)?;
        let downsample = (stride != 1 || inplanes != out)
            .then(|| Downsample::new(inplanes, out, stride, k, dtype, rng))
            .transpose()?;
        Ok(Bottleneck {
            conv1,
            bn1,
            conv2,
            bn2,
            conv3,
            bn3,
            downsample,
        })
    }

    fn children(&mut self) -> Children<'_> {
        let mut c: Children<'_> = vec![
            ("conv1".into(), &mut self.conv1 as &mut dyn Module),
            ("bn1".into(), &mut self.bn1),
            ("conv2".into(), &mut self.conv2),
            ("bn2".into(), &mut self.bn2),
            ("conv3".into(), &mut self.conv3),
            ("bn3".into(), &mut self.bn3),
        ];
        if let Some(d) = &mut self.downsample {
            c.push(("downsample".into(), d));
        }
        c
    }
}

impl Module for Bottleneck {
    fn forward(&mut self, x: &Tensor, tape: Option<&Tape>) -> Result<Tensor> {
        let h = ops::relu(&self.bn1.forward(&self.conv1.forward(x, tape)?, tape)?)?;
        let h = ops::relu(&self.bn2.forward(&self.conv2.forward(&h, tape)?, tape)?)?;
        let h = self.bn3.forward(&self.conv3.forward(&h, tape)?, tape)?;
        let shortcut = match &mut self.downsample {
            Some(d) => d.forward(x, tape)?,
            None => x.clone(),
        };
        ops::relu(&ops::add(&h, &shortcut)?)
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
