//! Slicing along an axis (`narrow`) and joining along an axis (`concat`).
//!
//! Shape legend: along axis a, x is [outer, len, inner].
//! - narrow(x, a, start, n) -> [outer, n, inner]; backward puts g into a zero tensor of x's
//!   shape at the slice.
//! - concat([x_1 … x_p], a) -> [outer, Σ len_i, inner]; backward slices g back into parts.

use anglegrad_engine::{map_storage, with_float, BackwardRule, Error, Result, Shape, Tensor};
use anglegrad_kernels::cpu::movement;

use crate::util::{tensor, zeros_for};

/// Elements `start..start + len` along `axis`.
pub fn narrow(x: &Tensor, axis: usize, start: usize, len: usize) -> Result<Tensor> {
    let (outer, size, inner) = x.shape().split_at_axis("narrow", axis)?;
    if start.checked_add(len).is_none_or(|end| end > size) {
        return Err(Error::invalid(
            "narrow",
            format!(
                "range {start}..{} is out of bounds for axis {axis} of size {size} (shape {})",
                start.saturating_add(len),
                x.shape()
            ),
        ));
    }
    let storage = map_storage!(x.storage(), |v| {
        let mut out = zeros_for(v, outer * len * inner);
        movement::narrow(v, outer, size, inner, start, len, &mut out);
        out
    });
    let out_shape = x.shape().with_dim(axis, len);
    let rule = NarrowRule {
        input: x.shape().clone(),
        axis,
        start,
        len,
    };
    tensor(storage, out_shape.dims())?.record(&[x], rule)
}

struct NarrowRule {
    input: Shape,
    axis: usize,
    start: usize,
    len: usize,
}

impl BackwardRule for NarrowRule {
    fn name(&self) -> &'static str {
        "narrow"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (outer, size, inner) = self.input.split_at_axis("narrow", self.axis)?;
        let storage = map_storage!(g.storage(), |v| {
            let mut dx = zeros_for(v, outer * size * inner);
            movement::narrow_backward(v, outer, size, inner, self.start, self.len, &mut dx);
            dx
        });
        Ok(vec![Some(tensor(storage, self.input.dims())?)])
    }
}

/// Joins tensors along `axis`; all other dims must agree.
pub fn concat(parts: &[&Tensor], axis: usize) -> Result<Tensor> {
    let first = parts
        .first()
        .ok_or_else(|| Error::invalid("concat", "no tensors to concatenate"))?;
    let (outer, _, inner) = first.shape().split_at_axis("concat", axis)?;
    let mut lens = Vec::with_capacity(parts.len());
    for p in parts {
        crate::util::same_dtype("concat", first, p)?;
        let same_other_dims = p.rank() == first.rank()
            && (0..p.rank()).all(|i| i == axis || p.dims()[i] == first.dims()[i]);
        if !same_other_dims {
            return Err(Error::ShapeMismatch {
                op: "concat",
                lhs: first.shape().clone(),
                rhs: p.shape().clone(),
            });
        }
        lens.push(p.dims()[axis]);
    }
    let total: usize = lens.iter().sum();
    let out_shape = first.shape().with_dim(axis, total);
    let out = with_float!(first.dtype(), "concat", |T| {
        let bufs: Vec<&[T]> = parts
            .iter()
            .map(|p| p.as_slice::<T>())
            .collect::<Result<_>>()?;
        let mut out = vec![0.0 as T; outer * total * inner];
        movement::concat(&bufs, &lens, outer, inner, &mut out);
        Tensor::from_vec(out, out_shape.dims())
    })?;
    out.record(parts, ConcatRule { axis, lens })
}

struct ConcatRule {
    axis: usize,
    lens: Vec<usize>,
}

impl BackwardRule for ConcatRule {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let mut start = 0;
        let mut grads = Vec::with_capacity(self.lens.len());
        for (&len, &need) in self.lens.iter().zip(needs) {
            grads.push(if need {
                Some(narrow(g, self.axis, start, len)?)
            } else {
                None
            });
            start += len;
        }
        Ok(grads)
    }
}
