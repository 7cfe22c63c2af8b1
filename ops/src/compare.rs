//! Comparisons (masks) and `where`.
//!
//! Shape legend: a, b (and cond) broadcast to the output shape o.
//! A comparison returns a mask of 1.0 / 0.0 in the inputs' dtype. Masks are piecewise
//! constant, so they carry no gradient: a comparison records nothing on the tape.
//! `where_(cond, a, b)` picks a where cond ≠ 0 and b elsewhere; the gradient flows to the
//! operand that was picked, element by element.

use anglegrad_engine::{with_float, BackwardRule, Result, Shape, Tensor};
use anglegrad_kernels::cpu::elementwise::{self, CompareOp};

use crate::util::{map2_storage, same_dtype, tensor, zeros_for};

fn compare(a: &Tensor, b: &Tensor, op: CompareOp, name: &'static str) -> Result<Tensor> {
    same_dtype(name, a, b)?;
    let out = Shape::broadcast(name, a.shape(), b.shape())?;
    let n = out.numel();
    let storage = map2_storage!(name, a, b, |x, y| {
        let mut z = zeros_for(x, n);
        elementwise::compare(op, x, a.dims(), y, b.dims(), &mut z, out.dims());
        z
    })?;
    tensor(storage, out.dims())
}

/// [a == b]
pub fn eq(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    compare(a, b, CompareOp::Eq, "eq")
}
/// [a != b]
pub fn ne(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    compare(a, b, CompareOp::Ne, "ne")
}
/// [a < b]
pub fn lt(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    compare(a, b, CompareOp::Lt, "lt")
}
/// [a <= b]
pub fn le(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    compare(a, b, CompareOp::Le, "le")
}
/// [a > b]
pub fn gt(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    compare(a, b, CompareOp::Gt, "gt")
}
/// [a >= b]
pub fn ge(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    compare(a, b, CompareOp::Ge, "ge")
}

/// cond ≠ 0 ? a : b, with broadcasting of all three. `cond` gets no gradient.
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    const OP: &str = "where";
    same_dtype(OP, a, b)?;
    same_dtype(OP, cond, a)?;
    let ab = Shape::broadcast(OP, a.shape(), b.shape())?;
    let out = Shape::broadcast(OP, cond.shape(), &ab)?;
    let n = out.numel();
    let z = with_float!(a.dtype(), OP, |T| {
        let mut z = vec![0.0 as T; n];
        let (c, x, y) = (
            cond.as_slice::<T>()?,
            a.as_slice::<T>()?,
            b.as_slice::<T>()?,
        );
        elementwise::where_select(c, cond.dims(), x, a.dims(), y, b.dims(), &mut z, out.dims());
        Tensor::from_vec(z, out.dims())
    })?;
    z.record(
        &[a, b],
        WhereRule {
            cond: cond.detach(),
        },
    )
}

struct WhereRule {
    cond: Tensor,
}

impl BackwardRule for WhereRule {
    fn name(&self) -> &'static str {
        "where"
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let n = g.numel();
        crate::util::same_dtype("where", &self.cond, g)?;
        let (ga, gb) = with_float!(g.dtype(), "where", |T| {
            let (mut ga, mut gb) = (vec![0.0 as T; n], vec![0.0 as T; n]);
            let (c, gv) = (self.cond.as_slice::<T>()?, g.as_slice::<T>()?);
            elementwise::where_backward(c, self.cond.dims(), gv, g.dims(), &mut ga, &mut gb);
            Ok((
                Tensor::from_vec(ga, g.dims())?,
                Tensor::from_vec(gb, g.dims())?,
            ))
        })?;
        Ok(vec![Some(ga), Some(gb)])
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.cond]
    }
}
