use anglegrad::prelude::*;
use anglegrad::models::{ResNet, ResNetConfig, Module, LeNetPlusPlus, LeNetPlusPlusConfig};
use std::time::Instant;
fn main() -> Result<()> {
    let which = std::env::args().nth(1).unwrap_or("resnet".into());
    let mut rng = Rng::new(0);
    let (mut model, dims): (Box<dyn Module>, Vec<usize>) = if which == "resnet" {
        (Box::new(ResNet::new(ResNetConfig::resnet18(512), DType::F32, &mut rng)?), vec![32, 3, 112, 112])
    } else if which == "cifar" {
        (Box::new(ResNet::new(ResNetConfig::cifar_resnet18(10), DType::F32, &mut rng)?), vec![64, 3, 32, 32])
    } else {
        (Box::new(LeNetPlusPlus::new(LeNetPlusPlusConfig::mnist(), DType::F32, &mut rng)?), vec![128, 1, 28, 28])
    };
    let x = Tensor::randn(dims.clone(), 0.0, 1.0, DType::F32, &mut rng)?;
    for _ in 0..3 {
        let t = Instant::now();
        let tape = Tape::new();
        let y = model.forward(&x, Some(&tape))?;
        let t1 = t.elapsed().as_secs_f64();
        let loss = y.square()?.mean_all()?;
        let g = tape.backward(&loss)?;
        println!("{which}: fwd {:.3}s fwd+bwd {:.3}s ({} grads) -> {:.1} img/s", t1, t.elapsed().as_secs_f64(), g.len(), dims[0] as f64 / t.elapsed().as_secs_f64());
    }
    Ok(())
}
