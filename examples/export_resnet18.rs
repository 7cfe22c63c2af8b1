//! Writes a ResNet-18 checkpoint (torchvision names) and an input/output file, so that
//! `tools/torch_reference/load_resnet18.py` can load our weights into torchvision's resnet18
//! and check it computes the same outputs:
//!
//!     cargo run --release --example export_resnet18 -- /tmp/r18
//!     python tools/torch_reference/load_resnet18.py /tmp/r18/resnet18.safetensors /tmp/r18/io.safetensors
//!
//! The batch-norm running statistics are given random values first (a fresh model's are 0 and
//! 1, which would not test that they load), and the output is taken in evaluation mode.

use std::path::PathBuf;

use anglegrad::models::{Mode, Module, ResNet, ResNetConfig};
use anglegrad::prelude::*;
use anglegrad::train::checkpoint::Checkpoint;

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "runs/resnet18_export".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let mut rng = Rng::new(18);
    let mut model = ResNet::new(ResNetConfig::resnet18(1000), DType::F32, &mut rng)?;
    model.visit_buffers("", &mut |name, t| {
        let stats = if name.ends_with("running_mean") {
            Tensor::randn(t.shape().clone(), 0.0, 0.1, DType::F32, &mut rng)
        } else if name.ends_with("running_var") {
            Tensor::rand_uniform(t.shape().clone(), 0.5, 1.5, DType::F32, &mut rng)
        } else {
            Ok(t.clone())
        };
        *t = stats.expect("valid shape");
    });
    model.set_mode(Mode::Eval);
    let input = Tensor::randn([2, 3, 224, 224], 0.0, 1.0, DType::F32, &mut rng)?;
    let expected = model.forward(&input, None)?;

    let mut ck = Checkpoint::new(0);
    ck.add_params(&mut model)?;
    ck.save(&dir.join("resnet18.safetensors"))?;
    let tensors = [("input", &input), ("expected", &expected)];
    let bufs: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, t)| {
            (
                n.to_string(),
                t.dims().to_vec(),
                t.as_slice::<f32>()
                    .expect("f32")
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
            )
        })
        .collect();
    let views = bufs
        .iter()
        .map(|(n, s, b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    std::fs::write(
        dir.join("io.safetensors"),
        safetensors::serialize(views, None)?,
    )?;
    println!(
        "wrote {} and {}",
        dir.join("resnet18.safetensors").display(),
        dir.join("io.safetensors").display()
    );
    Ok(())
}
