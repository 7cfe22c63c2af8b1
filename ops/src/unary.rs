//! Elementwise unary ops: y = f(x), and their backward dx = g · f'(x).
//!
//! Shape legend: x, y, g and dx all have the same shape.
//!
//! One generic op and one generic rule serve every function; the formulas of f and f' sit side
//! by side in `anglegrad_kernels::cpu::elementwise::UnaryOp` (read that table for the math and
//! the domain notes: acos clamps its input to [-1, 1] and guards its derivative, relu'(0) = 0,
//! abs'(0) = 0, sqrt'(0) = +inf).

use anglegrad_engine::{map_storage, BackwardRule, Result, Tensor};
use anglegrad_kernels::cpu::elementwise::{self, UnaryOp};

use crate::util::{map3_storage, tensor, zeros_for};

/// Applies a unary function to every element.
pub fn unary(x: &Tensor, op: UnaryOp) -> Result<Tensor> {
    let storage = map_storage!(x.storage(), |v| {
        let mut out = zeros_for(v, v.len());
        elementwise::unary(op, v, &mut out);
        out
    });
    let y = tensor(storage, x.dims())?;
    let rule = UnaryRule {
        op,
        x: x.detach(),
        y: y.detach(),
    };
    y.record(&[x], rule)
}

struct UnaryRule {
    op: UnaryOp,
    x: Tensor,
    y: Tensor,
}

impl BackwardRule for UnaryRule {
    fn name(&self) -> &'static str {
        unary_name(self.op)
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let op = self.op;
        let storage = map3_storage!(self.name(), self.x, self.y, g, |x, y, g| {
            let mut dx = zeros_for(x, x.len());
            elementwise::unary_backward(op, x, y, g, &mut dx);
            dx
        })?;
        Ok(vec![Some(tensor(storage, self.x.dims())?)])
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.x, &self.y]
    }
}

/// The op name of each unary function (for `Tape::dump`, errors and the gradient-check table).
pub fn unary_name(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Neg => "neg",
        UnaryOp::Exp => "exp",
        UnaryOp::Log => "log",
        UnaryOp::Sqrt => "sqrt",
        UnaryOp::Abs => "abs",
        UnaryOp::Relu => "relu",
        UnaryOp::Sigmoid => "sigmoid",
        UnaryOp::Tanh => "tanh",
        UnaryOp::Sin => "sin",
        UnaryOp::Cos => "cos",
        UnaryOp::Acos => "acos",
        UnaryOp::Powf(_) => "powf",
        UnaryOp::Affine { .. } => "affine",
        UnaryOp::Clamp { .. } => "clamp",
    }
}

/// -x
pub fn neg(x: &Tensor) -> Result<Tensor> {
    unary(x, UnaryOp::Neg)
}
/// e^x
pub fn exp(x: &Tensor) -> Result<Tensor> {
    unary(x, UnaryOp::Exp)
}
/// ln x
pub fn log(x: &Tensor) -> Result<Tensor> {
    unary(x, UnaryOp::Log)
}
/// √x
pub fn sqrt(x: &Tensor) -> Result<Tensor> {
    unary(x, UnaryOp::Sqrt)
}
/// |x|
pub fn abs(x: &Tensor) -> Result<Tensor> {
    unary(x, UnaryOp::Abs)
}
/// max(x, 0)
pub fn relu(x: &Tensor) -> Result<Tensor> {
    unary(x, UnaryOp::Relu)
}
/// 1 / (1 + e^-x): a primitive because the composite overflows e^-x for x ≪ 0.
pub fn sigmoid(x: &Tensor) -> Result<Tensor> {
    unary(x, UnaryOp::Sigmoid)
}
/// tanh x: a primitive because the composite (e^x - e^-x)/(e^x + e^-x) overflows.
pub fn tanh(x: &Tensor) -> Result<Tensor> {
    unary(x, UnaryOp::Tanh)
}
pub fn sin(x: &Tensor) -> Result<Tensor> {
    unary(x, UnaryOp::Sin)
}
pub fn cos(x: &Tensor) -> Result<Tensor> {
    unary(x, UnaryOp::Cos)
}
/// arccos x on [-1, 1] (input clamped; derivative guarded at ±1, see the module docs).
pub fn acos(x: &Tensor) -> Result<Tensor> {
    unary(x, UnaryOp::Acos)
}
/// x^p for a constant exponent p.
pub fn powf(x: &Tensor, p: f64) -> Result<Tensor> {
    unary(x, UnaryOp::Powf(p))
}
/// x² (as x^2).
pub fn square(x: &Tensor) -> Result<Tensor> {
    unary(x, UnaryOp::Powf(2.0))
}
/// mul·x + add with constants.
pub fn affine(x: &Tensor, mul: f64, add: f64) -> Result<Tensor> {
    unary(x, UnaryOp::Affine { mul, add })
}
/// s·x for a constant s.
pub fn scale(x: &Tensor, s: f64) -> Result<Tensor> {
    affine(x, s, 0.0)
}
/// x + c for a constant c.
pub fn add_scalar(x: &Tensor, c: f64) -> Result<Tensor> {
    affine(x, 1.0, c)
}
/// min(max(x, lo), hi); gradient 1 inside [lo, hi], 0 outside.
pub fn clamp(x: &Tensor, lo: f64, hi: f64) -> Result<Tensor> {
    unary(x, UnaryOp::Clamp { lo, hi })
}
