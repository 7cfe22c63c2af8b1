//! Builds a backbone by name for the run's input size and embedding dimension.
//!
//! | name | network | input |
//! |---|---|---|
//! | `resnet18`, `resnet34`, `resnet50` | torchvision ResNet (7×7 stem), FC to D | ≥ 32×32 |
//! | `cifar_resnet18` | ResNet-18 with the 3×3 CIFAR stem | any, e.g. 32×32 |
//! | `iresnet18` … `iresnet100` | insightface IResNet: BN-dropout-FC-BN to D | any (112×112 in the papers) |
//! | `mobilefacenet` | MobileFaceNet (depthwise) | 112×112 |
//! | `lenetpp` | LeNet++ of the center-loss paper (D = 2 gives its 2-D features) | 28×28 or 32×32 |
//!
//! `width_divisor` divides every channel count (1 = the reference network): the default run
//! uses a half-width ResNet-18 to train in minutes on 2 cores.

use anglegrad_engine::{DType, Rng};
use anglegrad_models::{
    IResNet, IResNetConfig, LeNetPlusPlus, LeNetPlusPlusConfig, MobileFaceNet, MobileFaceNetConfig,
    Module, ResNet, ResNetConfig,
};

use crate::error::{Error, Result};

/// A backbone that can move to the loader's and evaluator's threads.
pub type BoxedModule = Box<dyn Module + Send>;

/// The backbone `name` for inputs [C, H, W] and D-dimensional embeddings.
pub fn build(
    name: &str,
    input: [usize; 3],
    embedding: usize,
    width_divisor: usize,
    seed: u64,
) -> Result<BoxedModule> {
    let [c, h, w] = input;
    let mut rng = Rng::new(seed);
    let div = |n: usize| (n / width_divisor).max(4);
    let model_error = |e: anglegrad_engine::Error| Error::Invalid(format!("backbone {name}: {e}"));
    let resnet = |cfg: ResNetConfig| -> Result<BoxedModule> {
        let cfg = ResNetConfig {
            in_channels: c,
            width: div(cfg.width),
            num_outputs: Some(embedding),
            ..cfg
        };
        Ok(Box::new(
            ResNet::new(cfg, DType::F32, &mut rng.clone()).map_err(model_error)?,
        ))
    };
    let model: BoxedModule = match name {
        "resnet18" => resnet(ResNetConfig::resnet18(embedding))?,
        "resnet34" => resnet(ResNetConfig::resnet34(embedding))?,
        "resnet50" => resnet(ResNetConfig::resnet50(embedding))?,
        "cifar_resnet18" => resnet(ResNetConfig::cifar_resnet18(embedding))?,
        "iresnet18" | "iresnet34" | "iresnet50" | "iresnet100" => {
            let base = match name {
                "iresnet18" => IResNetConfig::iresnet18(),
                "iresnet34" => IResNetConfig::iresnet34(),
                "iresnet50" => IResNetConfig::iresnet50(),
                _ => IResNetConfig::iresnet100(),
            };
            if c != 3 {
                return Err(Error::Invalid(format!("backbone {name} takes RGB images, the data has {c} channel(s)")));
            }
            let cfg = IResNetConfig {
                stem_width: div(base.stem_width),
                widths: base.widths.map(div),
                input_size: (h, w),
                num_features: embedding,
                seed,
                ..base
            };
            Box::new(IResNet::new(cfg, DType::F32, &mut rng).map_err(model_error)?)
        }
        "mobilefacenet" => {
            let cfg = MobileFaceNetConfig { num_features: embedding, input_size: (h, w), width_divisor: width_divisor.max(1), ..MobileFaceNetConfig::mbf() };
            Box::new(MobileFaceNet::new(cfg, DType::F32, &mut rng).map_err(model_error)?)
        }
        "lenetpp" => {
            let base = LeNetPlusPlusConfig::mnist();
            let cfg = LeNetPlusPlusConfig {
                in_channels: c,
                widths: base.widths.map(div),
                input_size: (h, w),
                feature_dim: embedding,
                num_classes: None,
            };
            Box::new(LeNetPlusPlus::new(cfg, DType::F32, &mut rng).map_err(model_error)?)
        }
        other => {
            return Err(Error::Invalid(format!(
                "unknown backbone {other:?}: expected resnet18, resnet34, resnet50, cifar_resnet18, iresnet18, iresnet34, iresnet50, iresnet100, mobilefacenet or lenetpp"
            )))
        }
    };
    Ok(model)
}
