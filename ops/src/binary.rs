//! Elementwise binary ops with numpy broadcasting: z = f(a, b).
//!
//! Shape legend: a and b broadcast to the output shape o (align the last axes; a size-1 or
//! missing axis is repeated). The backward returns ∂L/∂a = g · ∂f/∂a and ∂L/∂b = g · ∂f/∂b in
//! the shape o; the engine then sums each down to its input's shape (an input read several
//! times along a broadcast axis receives the sum of those gradients). The partial derivatives
//! are the table in `anglegrad_kernels::cpu::elementwise::BinaryOp::partials`; ties of
//! maximum/minimum send the gradient to `a`, and ∂(a^b)/∂b is 0 where a <= 0.

use anglegrad_engine::{BackwardRule, Result, Shape, Tensor};
use anglegrad_kernels::cpu::elementwise::{self, BinaryOp};

use crate::util::{map2_storage, map3_storage, same_dtype, tensor, zeros_for};

/// z = f(a, b) with broadcasting.
pub fn binary(a: &Tensor, b: &Tensor, op: BinaryOp) -> Result<Tensor> {
    let name = binary_name(op);
    same_dtype(name, a, b)?;
    let out = Shape::broadcast(name, a.shape(), b.shape())?;
    let n = out.numel();
    let storage = map2_storage!(name, a, b, |x, y| {
        let mut z = zeros_for(x, n);
        elementwise::binary(op, x, a.dims(), y, b.dims(), &mut z, out.dims());
        z
    })?;
    let z = tensor(storage, out.dims())?;
    let rule = BinaryRule {
        op,
        a: a.detach(),
        b: b.detach(),
    };
    z.record(&[a, b], rule)
}

struct BinaryRule {
    op: BinaryOp,
    a: Tensor,
    b: Tensor,
}

impl BackwardRule for BinaryRule {
    fn name(&self) -> &'static str {
        binary_name(self.op)
    }

    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (op, a, b) = (self.op, &self.a, &self.b);
        // Sums and differences pass the gradient through unchanged (the engine sums it down to
        // each input's shape): no arithmetic, no copy — the residual connections of a ResNet
        // cost nothing in the backward.
        match op {
            BinaryOp::Add => {
                return Ok(vec![
                    needs[0].then(|| g.clone()),
                    needs[1].then(|| g.clone()),
                ])
            }
            BinaryOp::Sub if !needs[1] => return Ok(vec![Some(g.clone()), None]),
            BinaryOp::Sub => return Ok(vec![needs[0].then(|| g.clone()), Some(crate::neg(g)?)]),
            BinaryOp::Mul => {
                // ∂(a·b)/∂a = b, ∂(a·b)/∂b = a: two broadcasting products, each a fast kernel.
                let da = if needs[0] {
                    Some(binary(g, b, BinaryOp::Mul)?)
                } else {
                    None
                };
                let db = if needs[1] {
                    Some(binary(g, a, BinaryOp::Mul)?)
                } else {
                    None
                };
                return Ok(vec![da, db]);
            }
            _ => {}
        }
        let n = g.numel();
        let grad_for = |which: usize| -> Result<Tensor> {
            let storage = map3_storage!(self.name(), a, b, g, |x, y, gv| {
                let mut out = zeros_for(x, n);
                let (ga, gb) = if which == 0 {
                    (Some(&mut out[..]), None)
                } else {
                    (None, Some(&mut out[..]))
                };
                elementwise::binary_backward(op, x, a.dims(), y, b.dims(), gv, g.dims(), ga, gb);
                out
            })?;
            tensor(storage, g.dims())
        };
        Ok(vec![
            if needs[0] { Some(grad_for(0)?) } else { None },
            if needs[1] { Some(grad_for(1)?) } else { None },
        ])
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.a, &self.b]
    }
}

pub fn binary_name(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "add",
        BinaryOp::Sub => "sub",
        BinaryOp::Mul => "mul",
        BinaryOp::Div => "div",
        BinaryOp::Maximum => "maximum",
        BinaryOp::Minimum => "minimum",
        BinaryOp::Pow => "pow",
    }
}

/// a + b
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinaryOp::Add)
}
/// a - b
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinaryOp::Sub)
}
/// a · b (elementwise)
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinaryOp::Mul)
}
/// a / b
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinaryOp::Div)
}
/// max(a, b) elementwise (gradient to a on ties)
pub fn maximum(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinaryOp::Maximum)
}
/// min(a, b) elementwise (gradient to a on ties)
pub fn minimum(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinaryOp::Minimum)
}
/// a^b elementwise
pub fn pow(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(a, b, BinaryOp::Pow)
}
