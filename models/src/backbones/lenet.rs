//! LeNet++ (Wen, Zhang, Li, Qiao 2016, "A discriminative feature learning approach for deep
//! face recognition", the center-loss paper, §4.1): a deeper, wider LeNet whose last hidden
//! layer has only 2 units, so the learned features of MNIST can be plotted in the plane (the
//! paper's Fig. 2/3: softmax alone gives radial "petals", center loss compact clusters).
//! Parameter names follow pytorch-center-loss's `ConvNet` (`conv1_1`, `prelu1_1`, …, `fc1`,
//! `prelu_fc1`, `fc2`), whose PReLUs have one shared slope each.
//!
//! Shape legend (input [N, 1, 28, 28]):
//!
//! ```text
//! conv1_1, conv1_2 5x5 pad 2 (32), PReLU; max-pool 2   [N, 32, 14, 14]
//! conv2_1, conv2_2 5x5 pad 2 (64), PReLU; max-pool 2   [N, 64, 7, 7]
//! conv3_1, conv3_2 5x5 pad 2 (128), PReLU; max-pool 2  [N, 128, 3, 3]
//! flatten, fc1, prelu_fc1                              [N, 2]   the features (forward's output)
//! fc2 (optional)                                       [N, classes]   logits
//! ```
//!
//! Initialisation: PyTorch's defaults (convs and linears U(±1/√fan_in), PReLU 0.25).

use anglegrad_engine::{DType, Result, Rng, Tape, Tensor};
use anglegrad_ops::{self as ops, Conv2dOptions, Pool2dOptions};

use crate::check::{self, Dim};
use crate::deep_supervision::Backbone;
use crate::layers::{Conv2d, Flatten, Linear, PReLU};
use crate::module::{
    set_children_mode, visit_children_buffers, visit_children_parameters, Children, Mode, Module,
};

/// What to build.
#[derive(Clone, Debug, PartialEq)]
pub struct LeNetPlusPlusConfig {
    /// Image channels (1 for MNIST).
    pub in_channels: usize,
    /// Channels of the three stages (32, 64, 128).
    pub widths: [usize; 3],
    /// (H, W) of the input (28, 28): sets fc1's input size.
    pub input_size: (usize, usize),
    /// Feature dimension (2).
    pub feature_dim: usize,
    /// Classes of the softmax layer fc2 (10), or None for features only.
    pub num_classes: Option<usize>,
}

impl LeNetPlusPlusConfig {
    /// The center-loss paper's network for MNIST: 2-D features, 10 classes.
    pub fn mnist() -> Self {
        LeNetPlusPlusConfig {
            in_channels: 1,
            widths: [32, 64, 128],
            input_size: (28, 28),
            feature_dim: 2,
            num_classes: Some(10),
        }
    }

    /// (H, W) after the three 2×2 max-pools (floor): 3×3 for 28×28.
    pub fn final_size(&self) -> (usize, usize) {
        (self.input_size.0 / 8, self.input_size.1 / 8)
    }
}

/// Two 5x5 convs, each followed by a PReLU with one shared slope.
#[derive(Clone, Debug)]
pub struct LeNetStage {
    pub conv_a: Conv2d,
    pub prelu_a: PReLU,
    pub conv_b: Conv2d,
    pub prelu_b: PReLU,
}

/// LeNet++ with pytorch-center-loss's parameter names.
#[derive(Clone, Debug)]
pub struct LeNetPlusPlus {
    pub stages: [LeNetStage; 3],
    pub fc1: Linear,
    pub prelu_fc1: PReLU,
    /// The softmax layer, if the config asked for classes.
    pub fc2: Option<Linear>,
    config: LeNetPlusPlusConfig,
}

impl LeNetPlusPlus {
    pub fn new(config: LeNetPlusPlusConfig, dtype: DType, rng: &mut Rng) -> Result<Self> {
        let c = &config;
        let (fh, fw) = c.final_size();
        if fh == 0 || fw == 0 || c.widths.contains(&0) || c.in_channels == 0 || c.feature_dim == 0 {
            return Err(check::config(
                "LeNetPlusPlus",
                format!("sizes must be >= 1 and the input at least 8×8: {c:?}"),
            ));
        }
        let pad2 = Conv2dOptions::new(1, 2);
        let mut cin = c.in_channels;
        let mut stage = |cout: usize, rng: &mut Rng| -> Result<LeNetStage> {
            let s = LeNetStage {
                conv_a: Conv2d::new(cin, cout, 5, pad2, true, dtype, rng)?,
                prelu_a: PReLU::new(1, dtype)?,
                conv_b: Conv2d::new(cout, cout, 5, pad2, true, dtype, rng)?,
                prelu_b: PReLU::new(1, dtype)?,
            };
            cin = cout;
            Ok(s)
        };
        let stages = [
            stage(c.widths[0], rng)?,
            stage(c.widths[1], rng)?,
            stage(c.widths[2], rng)?,
        ];
        let fc1 = Linear::new(c.widths[2] * fh * fw, c.feature_dim, true, dtype, rng)?;
        let fc2 = c
            .num_classes
            .map(|k| Linear::new(c.feature_dim, k, true, dtype, rng))
            .transpose()?;
        Ok(LeNetPlusPlus {
            stages,
            fc1,
            prelu_fc1: PReLU::new(1, dtype)?,
            fc2,
            config,
        })
    }

    pub fn config(&self) -> &LeNetPlusPlusConfig {
        &self.config
    }

    /// The features [N, D] and the logits [N, classes] (an error without fc2).
    pub fn forward_with_logits(
        &mut self,
        x: &Tensor,
        tape: Option<&Tape>,
    ) -> Result<(Tensor, Tensor)> {
        let features = self.forward(x, tape)?;
        let fc2 = self.fc2.as_mut().ok_or_else(|| {
            check::config("LeNetPlusPlus", "built without classes (num_classes: None)")
        })?;
        let logits = fc2.forward(&features, tape)?;
        Ok((features, logits))
    }

    fn children(&mut self) -> Children<'_> {
        let mut c: Children<'_> = Vec::new();
        for (i, s) in self.stages.iter_mut().enumerate() {
            let k = i + 1;
            c.push((format!("conv{k}_1"), &mut s.conv_a as &mut dyn Module));
            c.push((format!("prelu{k}_1"), &mut s.prelu_a));
            c.push((format!("conv{k}_2"), &mut s.conv_b));
            c.push((format!("prelu{k}_2"), &mut s.prelu_b));
        }
        c.push(("fc1".into(), &mut self.fc1));
        c.push(("prelu_fc1".into(), &mut self.prelu_fc1));
        if let Some(fc2) = &mut self.fc2 {
            c.push(("fc2".into(), fc2));
        }
        c
    }
}

impl Backbone for LeNetPlusPlus {
    /// The 2-D features and the feature map after each of the three pools.
    fn forward_with_taps(
        &mut self,
        x: &Tensor,
        tape: Option<&Tape>,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let (h, w) = self.config.input_size;
        let pattern = [
            Dim::Any("N"),
            Dim::Is(self.config.in_channels),
            Dim::Is(h),
            Dim::Is(w),
        ];
        check::input("LeNetPlusPlus", &"LeNet++", x, &[&pattern])?;
        let mut h = x.clone();
        let mut taps = Vec::with_capacity(3);
        for s in &mut self.stages {
            h = s.prelu_a.forward(&s.conv_a.forward(&h, tape)?, tape)?;
            h = s.prelu_b.forward(&s.conv_b.forward(&h, tape)?, tape)?;
            h = ops::max_pool2d(&h, Pool2dOptions::new(2, 2, 0))?;
            taps.push(h.clone());
        }
        let h = Flatten.forward(&h, None)?;
        let features = self.prelu_fc1.forward(&self.fc1.forward(&h, tape)?, tape)?;
        Ok((features, taps))
    }

    fn tap_channels(&self) -> Vec<usize> {
        self.config.widths.to_vec()
    }
}

impl Module for LeNetPlusPlus {
    /// The features [N, feature_dim] (fc2 is applied by `forward_with_logits`).
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
