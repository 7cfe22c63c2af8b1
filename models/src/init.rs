//! Weight initialisers, named and defined as PyTorch's `torch.nn.init` names and defines them,
//! so a recipe written for PyTorch reads the same here. The trailing underscore keeps
//! PyTorch's meaning, "fills the tensor in place": each function replaces `*t` by a fresh
//! tensor of the same shape and dtype. Every draw comes from the seeded [`Rng`] (SplitMix64),
//! so an initialisation is reproducible on every platform; the values are not PyTorch's (its
//! generator differs), only their distribution is.
//!
//! Shape legend: a weight is [fan_out_maps, fan_in_maps, k…]: Linear [out, in], Conv2d
//! [Cout, Cin/groups, KH, KW]. With receptive field r = Π k…:
//!   fan_in = shape[1]·r,  fan_out = shape[0]·r.
//!
//! | initialiser | distribution |
//! |---|---|
//! | `kaiming_normal_` (He et al. 2015) | N(0, std²), std = gain/√fan |
//! | `kaiming_uniform_` | U(−b, b), b = gain·√(3/fan) |
//! | `xavier_normal_` (Glorot & Bengio 2010) | N(0, std²), std = gain·√(2/(fan_in + fan_out)) |
//! | `xavier_uniform_` | U(−b, b), b = gain·√(6/(fan_in + fan_out)) |
//! | `default_weight_` (PyTorch's Linear/Conv default) | `kaiming_uniform_(a = √5)`: b = 1/√fan_in |
//! | `default_bias_` | U(−1/√fan_in, 1/√fan_in) |
//!
//! where fan is fan_in or fan_out as `mode` says and gain = [`calculate_gain`].

use anglegrad_engine::{DType, Error, Result, Rng, Tensor};

/// The activation that follows the layer, which sets the gain (`torch.nn.init.calculate_gain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nonlinearity {
    /// Identity (also conv1d/2d/3d and their transposes in PyTorch): gain 1.
    Linear,
    /// Gain 1.
    Sigmoid,
    /// Gain 5/3.
    Tanh,
    /// Gain √2.
    Relu,
    /// Gain √(2/(1 + a²)) for negative slope a (0.01 when none is given).
    LeakyRelu,
    /// Gain 3/4.
    Selu,
}

/// Which fan a Kaiming initialiser keeps the variance of: `FanIn` preserves the forward
/// activations' variance, `FanOut` the backward gradients'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    FanIn,
    FanOut,
}

/// The recommended gain for a nonlinearity; `param` is LeakyRelu's negative slope.
pub fn calculate_gain(nonlinearity: Nonlinearity, param: Option<f64>) -> f64 {
    match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2f64.sqrt(),
        Nonlinearity::LeakyRelu => {
            let a = param.unwrap_or(0.01);
            (2.0 / (1.0 + a * a)).sqrt()
        }
        Nonlinearity::Selu => 0.75,
    }
}

/// (fan_in, fan_out) of a weight shape, as `torch.nn.init._calculate_fan_in_and_fan_out`.
pub fn fan_in_and_fan_out(dims: &[usize]) -> Result<(usize, usize)> {
    if dims.len() < 2 {
        return Err(Error::invalid(
            "init",
            format!("fan in and fan out need a weight of rank >= 2, got shape {dims:?}"),
        ));
    }
    let receptive: usize = dims[2..].iter().product();
    Ok((dims[1] * receptive, dims[0] * receptive))
}

fn fan(dims: &[usize], mode: FanMode) -> Result<f64> {
    let (fan_in, fan_out) = fan_in_and_fan_out(dims)?;
    let f = match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    };
    if f == 0 {
        return Err(Error::invalid(
            "init",
            format!("cannot initialise a weight with a zero fan, shape {dims:?}"),
        ));
    }
    Ok(f as f64)
}

/// Fills `t` with U(lo, hi).
pub fn uniform_(t: &mut Tensor, lo: f64, hi: f64, rng: &mut Rng) -> Result<()> {
    let values = (0..t.numel()).map(|_| rng.range(lo, hi));
    *t = filled(t, values)?;
    Ok(())
}

/// Fills `t` with N(mean, std²), by Box–Muller using both values of each pair (cos and sin):
/// half the logarithms and uniform draws of `Tensor::randn`, which counts when a 65 M
/// parameter IResNet-100 is built.
pub fn normal_(t: &mut Tensor, mean: f64, std: f64, rng: &mut Rng) -> Result<()> {
    let n = t.numel();
    let mut values = Vec::with_capacity(n + 1);
    while values.len() < n {
        let radius = (-2.0 * (1.0 - rng.unit()).ln()).sqrt(); // 1 − u in (0, 1]: ln finite
        let (sin, cos) = (std::f64::consts::TAU * rng.unit()).sin_cos();
        values.push(mean + std * radius * cos);
        values.push(mean + std * radius * sin);
    }
    values.truncate(n);
    *t = filled(t, values.into_iter())?;
    Ok(())
}

/// A tensor of `t`'s shape and dtype holding `values` (written straight into that dtype).
fn filled(t: &Tensor, values: impl Iterator<Item = f64>) -> Result<Tensor> {
    match t.dtype() {
        DType::F32 => Tensor::from_vec(values.map(|v| v as f32).collect::<Vec<_>>(), t.shape()),
        DType::F64 => Tensor::from_vec(values.collect::<Vec<_>>(), t.shape()),
        other => Err(Error::UnsupportedDType {
            op: "init",
            dtype: other,
        }),
    }
}

/// Fills `t` with `value`.
pub fn constant_(t: &mut Tensor, value: f64) -> Result<()> {
    *t = Tensor::full(t.shape(), value, t.dtype())?;
    Ok(())
}

/// Fills `t` with zeros.
pub fn zeros_(t: &mut Tensor) -> Result<()> {
    constant_(t, 0.0)
}

/// Fills `t` with ones.
pub fn ones_(t: &mut Tensor) -> Result<()> {
    constant_(t, 1.0)
}

/// He et al. 2015 ("Delving deep into rectifiers"), uniform: U(−b, b), b = gain·√(3/fan).
/// PyTorch's defaults are a = 0, `FanIn`, `LeakyRelu`.
pub fn kaiming_uniform_(
    t: &mut Tensor,
    a: f64,
    mode: FanMode,
    nonlinearity: Nonlinearity,
    rng: &mut Rng,
) -> Result<()> {
    let std = calculate_gain(nonlinearity, Some(a)) / fan(t.dims(), mode)?.sqrt();
    let bound = 3f64.sqrt() * std;
    uniform_(t, -bound, bound, rng)
}

/// He et al. 2015, normal: N(0, std²), std = gain/√fan.
pub fn kaiming_normal_(
    t: &mut Tensor,
    a: f64,
    mode: FanMode,
    nonlinearity: Nonlinearity,
    rng: &mut Rng,
) -> Result<()> {
    let std = calculate_gain(nonlinearity, Some(a)) / fan(t.dims(), mode)?.sqrt();
    normal_(t, 0.0, std, rng)
}

fn xavier_std(t: &Tensor, gain: f64) -> Result<f64> {
    let (fan_in, fan_out) = fan_in_and_fan_out(t.dims())?;
    if fan_in + fan_out == 0 {
        return Err(Error::invalid(
            "init",
            format!(
                "cannot initialise a weight with zero fans, shape {}",
                t.shape()
            ),
        ));
    }
    Ok(gain * (2.0 / (fan_in + fan_out) as f64).sqrt())
}

/// Glorot & Bengio 2010, uniform: U(−b, b), b = gain·√(6/(fan_in + fan_out)).
pub fn xavier_uniform_(t: &mut Tensor, gain: f64, rng: &mut Rng) -> Result<()> {
    let bound = 3f64.sqrt() * xavier_std(t, gain)?;
    uniform_(t, -bound, bound, rng)
}

/// Glorot & Bengio 2010, normal: N(0, std²), std = gain·√(2/(fan_in + fan_out)).
pub fn xavier_normal_(t: &mut Tensor, gain: f64, rng: &mut Rng) -> Result<()> {
    let std = xavier_std(t, gain)?;
    normal_(t, 0.0, std, rng)
}

/// PyTorch's default weight of `nn.Linear` and `nn.Conv2d` (their `reset_parameters`):
/// `kaiming_uniform_(a = √5)`, which works out to U(−1/√fan_in, 1/√fan_in).
pub fn default_weight_(t: &mut Tensor, rng: &mut Rng) -> Result<()> {
    kaiming_uniform_(t, 5f64.sqrt(), FanMode::FanIn, Nonlinearity::LeakyRelu, rng)
}

/// PyTorch's default bias of `nn.Linear` and `nn.Conv2d`: U(−1/√fan_in, 1/√fan_in) with the
/// fan_in of the layer's weight (`weight_dims`).
pub fn default_bias_(bias: &mut Tensor, weight_dims: &[usize], rng: &mut Rng) -> Result<()> {
    let (fan_in, _) = fan_in_and_fan_out(weight_dims)?;
    let bound = if fan_in > 0 {
        1.0 / (fan_in as f64).sqrt()
    } else {
        0.0
    };
    uniform_(bias, -bound, bound, rng)
}
