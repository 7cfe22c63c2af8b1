//! Helpers shared by the model tests: a gradient check of a whole module, seeded inputs, and
//! reading the PyTorch fixtures.
#![allow(dead_code)] // each test binary uses part of it

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use anglegrad_engine::{DType, Rng, Tensor};
use anglegrad_models::Module;
use anglegrad_ops::gradcheck::{check_gradients_wrt, GradCheck, GradReport};

/// Checks ∂(Σ v ⊙ module(x))/∂(x, parameters) against central differences (f64). `before`
/// runs before every forward (to reset state such as a dropout step); `frozen` names
/// parameters that get no gradient (they are held constant).
pub fn check_module<M: Module>(
    module: M,
    x: &Tensor,
    cfg: &GradCheck,
    frozen: &[&str],
    before: impl Fn(&mut M),
) -> GradReport {
    let module = RefCell::new(module);
    let mut inputs = vec![x.clone()];
    let mut wrt = vec![true];
    module.borrow_mut().visit_parameters("", &mut |name, p| {
        inputs.push(p.clone());
        wrt.push(!frozen.contains(&name));
    });
    let f = |xs: &[Tensor]| {
        let mut m = module.borrow_mut();
        before(&mut m);
        let mut i = 1;
        m.visit_parameters("", &mut |_, p| {
            *p = xs[i].clone();
            i += 1;
        });
        m.forward(&xs[0], None)
    };
    let report = check_gradients_wrt(f, &inputs, &wrt, cfg).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report.max_abs_grad > 1e-3,
        "the gradient is all (near) zero: the check checked nothing ({report:?})"
    );
    report
}

/// Seeded N(0, 1) values.
pub fn randn(dims: &[usize], dtype: DType, seed: u64) -> Tensor {
    Tensor::randn(dims, 0.0, 1.0, dtype, &mut Rng::new(seed)).unwrap()
}

/// Seeded values with |x| in [0.2, 1.5] and a random sign (away from the kink of PReLU).
pub fn away_from_zero(dims: &[usize], seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n: usize = dims.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|_| {
            let m = rng.range(0.2, 1.5);
            if rng.unit() < 0.5 {
                -m
            } else {
                m
            }
        })
        .collect();
    Tensor::from_vec(v, dims).unwrap()
}

/// Every tensor of a safetensors file (F32, F64 or I64, the last converted to F64).
pub fn read_safetensors(path: &Path) -> HashMap<String, Tensor> {
    use safetensors::{Dtype, SafeTensors};
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let (data, shape) = (view.data(), view.shape().to_vec());
        let t = match view.dtype() {
            Dtype::F32 => Tensor::from_vec(
                data.chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect::<Vec<_>>(),
                shape,
            ),
            Dtype::F64 => Tensor::from_vec(
                data.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                    .collect::<Vec<_>>(),
                shape,
            ),
            Dtype::I64 => Tensor::from_vec(
                data.chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64)
                    .collect::<Vec<_>>(),
                shape,
            ),
            other => panic!("{}: {name} has dtype {other:?}", path.display()),
        }
        .unwrap();
        out.insert(name, t);
    }
    out
}

/// max |a − e| / max |e|: the error relative to the tensor's scale (per-element relative
/// error means nothing for entries near 0).
pub fn rel_err(actual: &Tensor, expected: &Tensor) -> f64 {
    assert_eq!(actual.dims(), expected.dims(), "shapes differ");
    let (a, e) = (actual.to_vec_f64(), expected.to_vec_f64());
    let scale = e.iter().fold(0f64, |m, v| m.max(v.abs()));
    let err = a
        .iter()
        .zip(&e)
        .fold(0f64, |m, (x, y)| m.max((x - y).abs()));
    if scale == 0.0 {
        err
    } else {
        err / scale
    }
}
