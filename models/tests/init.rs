//! The initialisers against PyTorch's definitions: gains and fans as hand-computed values,
//! and the sample statistics of each distribution (n = 40 000 draws, so the sample standard
//! deviation is within 1.5 % of the true one and the sample maximum within 0.1 % of a uniform
//! bound, far beyond any plausible chance).

use anglegrad_engine::{DType, Rng, Tensor};
use anglegrad_models::init::{self, calculate_gain, fan_in_and_fan_out, FanMode, Nonlinearity};

fn stats(t: &Tensor) -> (f64, f64, f64) {
    let v = t.to_vec_f64();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    let max_abs = v.iter().fold(0f64, |m, x| m.max(x.abs()));
    (mean, std, max_abs)
}

/// A conv weight [Cout 100, Cin 25, 4, 4]: fan_in = 400, fan_out = 1600, 40 000 values.
fn conv_weight() -> Tensor {
    Tensor::zeros([100, 25, 4, 4], DType::F32).unwrap()
}

#[test]
fn gains_are_pytorchs() {
    assert_eq!(calculate_gain(Nonlinearity::Linear, None), 1.0);
    assert_eq!(calculate_gain(Nonlinearity::Sigmoid, None), 1.0);
    assert_eq!(calculate_gain(Nonlinearity::Tanh, None), 5.0 / 3.0);
    assert_eq!(calculate_gain(Nonlinearity::Relu, None), 2f64.sqrt());
    assert_eq!(calculate_gain(Nonlinearity::Selu, None), 0.75);
    // leaky_relu: sqrt(2 / (1 + a²)); a = 0.01 by default; a = √5 gives √(1/3).
    let default = (2.0 / (1.0 + 0.01f64 * 0.01)).sqrt();
    assert_eq!(calculate_gain(Nonlinearity::LeakyRelu, None), default);
    let a5 = calculate_gain(Nonlinearity::LeakyRelu, Some(5f64.sqrt()));
    assert!((a5 - (1.0f64 / 3.0).sqrt()).abs() < 1e-15);
}

#[test]
fn fans_follow_the_weight_layout() {
    assert_eq!(fan_in_and_fan_out(&[10, 20]).unwrap(), (20, 10)); // Linear [out, in]
    assert_eq!(fan_in_and_fan_out(&[64, 3, 7, 7]).unwrap(), (147, 3136)); // conv 7x7
    let err = fan_in_and_fan_out(&[5]).unwrap_err().to_string();
    assert!(err.contains("rank >= 2") && err.contains("[5]"), "{err}");
}

#[test]
fn kaiming_normal_has_std_gain_over_sqrt_fan() {
    for (mode, fan) in [(FanMode::FanIn, 400.0), (FanMode::FanOut, 1600.0)] {
        let mut w = conv_weight();
        init::kaiming_normal_(&mut w, 0.0, mode, Nonlinearity::Relu, &mut Rng::new(1)).unwrap();
        let (mean, std, _) = stats(&w);
        let want = 2f64.sqrt() / f64::sqrt(fan);
        assert!(mean.abs() < 0.02 * want, "{mode:?}: mean {mean}");
        assert!(
            (std / want - 1.0).abs() < 0.015,
            "{mode:?}: std {std} vs {want}"
        );
        assert_eq!(w.dims(), [100, 25, 4, 4]);
        assert_eq!(w.dtype(), DType::F32);
    }
}

#[test]
fn kaiming_uniform_bound_is_gain_sqrt3_over_sqrt_fan() {
    let mut w = conv_weight();
    let a = 0.1;
    init::kaiming_uniform_(
        &mut w,
        a,
        FanMode::FanIn,
        Nonlinearity::LeakyRelu,
        &mut Rng::new(2),
    )
    .unwrap();
    let bound = calculate_gain(Nonlinearity::LeakyRelu, Some(a)) * (3.0f64 / 400.0).sqrt();
    let (_, std, max_abs) = stats(&w);
    assert!(
        max_abs <= bound && max_abs > 0.999 * bound,
        "{max_abs} vs {bound}"
    );
    assert!((std / (bound / 3f64.sqrt()) - 1.0).abs() < 0.015);
}

#[test]
fn xavier_uniform_and_normal() {
    let mut w = Tensor::zeros([200, 200], DType::F64).unwrap();
    init::xavier_uniform_(&mut w, 2.0, &mut Rng::new(3)).unwrap();
    let bound = 2.0 * (6.0f64 / 400.0).sqrt();
    let (_, _, max_abs) = stats(&w);
    assert!(max_abs <= bound && max_abs > 0.999 * bound);
    init::xavier_normal_(&mut w, 1.0, &mut Rng::new(4)).unwrap();
    let (_, std, _) = stats(&w);
    assert!((std / (2.0f64 / 400.0).sqrt() - 1.0).abs() < 0.015);
}

#[test]
fn pytorch_default_weight_and_bias_bound_is_one_over_sqrt_fan_in() {
    let mut w = conv_weight();
    init::default_weight_(&mut w, &mut Rng::new(5)).unwrap();
    let (_, _, max_abs) = stats(&w);
    assert!(max_abs <= 1.0 / 20.0 && max_abs > 0.999 / 20.0, "{max_abs}");
    let mut b = Tensor::zeros([40_000], DType::F32).unwrap();
    init::default_bias_(&mut b, w.dims(), &mut Rng::new(6)).unwrap();
    let (_, _, max_abs) = stats(&b);
    assert!(max_abs <= 1.0 / 20.0 && max_abs > 0.999 / 20.0, "{max_abs}");
}

#[test]
fn seeded_initialisation_is_reproducible() {
    let draw = |seed| {
        let mut w = conv_weight();
        init::normal_(&mut w, 0.5, 2.0, &mut Rng::new(seed)).unwrap();
        w.to_vec_f64()
    };
    assert_eq!(draw(9), draw(9));
    assert_ne!(draw(9), draw(10));
    let (mean, std, _) = stats(&Tensor::from_vec(draw(9), [40_000]).unwrap());
    assert!((mean - 0.5).abs() < 0.03 && (std / 2.0 - 1.0).abs() < 0.015);
}

#[test]
fn constants() {
    let mut t = Tensor::zeros([3], DType::F64).unwrap();
    init::ones_(&mut t).unwrap();
    assert_eq!(t.to_vec_f64(), [1.0; 3]);
    init::constant_(&mut t, -2.5).unwrap();
    assert_eq!(t.to_vec_f64(), [-2.5; 3]);
    init::zeros_(&mut t).unwrap();
    assert_eq!(t.to_vec_f64(), [0.0; 3]);
}
