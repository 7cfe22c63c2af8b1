//! Ops that change how elements are arranged: reshape, permute / transpose, broadcast_to.
//!
//! Shape legend: x has dims d; the output has the dims each op names.
//! - reshape: same elements in the same row-major order, new dims (free: shares the buffer);
//!   backward reshapes g back.
//! - permute: axis i of the output is axis perm[i] of x (a copy); backward permutes g by the
//!   inverse permutation.
//! - broadcast_to: repeats x along broadcast axes; backward is the sum over them, which the
//!   engine's un-broadcast already does, so the rule just hands g back.

use anglegrad_engine::{map_storage, BackwardRule, Error, Result, Shape, Tensor};
use anglegrad_kernels::cpu::{broadcast::broadcast_copy, movement};

use crate::util::{tensor, zeros_for};

/// The same elements viewed with new dims (their product must equal the element count).
pub fn reshape(x: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let target = Shape::new(dims);
    if target.checked_numel() != Some(x.numel()) {
        return Err(Error::ShapeMismatch {
            op: "reshape",
            lhs: x.shape().clone(),
            rhs: target,
        });
    }
    let y = tensor(x.storage().clone(), dims)?;
    y.record(
        &[x],
        ReshapeRule {
            input: x.shape().clone(),
        },
    )
}

struct ReshapeRule {
    input: Shape,
}

impl BackwardRule for ReshapeRule {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(tensor(g.storage().clone(), self.input.dims())?)])
    }
}

/// Reorders the axes: output axis i is input axis `perm[i]`.
pub fn permute(x: &Tensor, perm: &[usize]) -> Result<Tensor> {
    let rank = x.rank();
    let mut seen = vec![false; rank];
    for &p in perm {
        if p >= rank || std::mem::replace(&mut seen[p], true) {
            return Err(Error::invalid(
                "permute",
                format!(
                    "{perm:?} is not a permutation of the {rank} axes of {}",
                    x.shape()
                ),
            ));
        }
    }
    if perm.len() != rank {
        return Err(Error::invalid(
            "permute",
            format!(
                "{perm:?} is not a permutation of the {rank} axes of {}",
                x.shape()
            ),
        ));
    }
    let out_dims: Vec<usize> = perm.iter().map(|&p| x.dims()[p]).collect();
    let storage = map_storage!(x.storage(), |v| {
        let mut out = zeros_for(v, v.len());
        movement::permute(v, x.dims(), perm, &mut out);
        out
    });
    let mut inverse = vec![0; rank];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i;
    }
    tensor(storage, &out_dims)?.record(&[x], PermuteRule { inverse })
}

struct PermuteRule {
    inverse: Vec<usize>,
}

impl BackwardRule for PermuteRule {
    fn name(&self) -> &'static str {
        "permute"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(permute(g, &self.inverse)?)])
    }
}

/// Swaps two axes (a permute).
pub fn transpose(x: &Tensor, axis0: usize, axis1: usize) -> Result<Tensor> {
    x.shape().dim("transpose", axis0)?;
    x.shape().dim("transpose", axis1)?;
    let mut perm: Vec<usize> = (0..x.rank()).collect();
    perm.swap(axis0, axis1);
    permute(x, &perm)
}

/// Repeats x along broadcast axes to the given dims (numpy rules).
pub fn broadcast_to(x: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let target = Shape::new(dims);
    let b = Shape::broadcast("broadcast_to", x.shape(), &target)?;
    if b != target {
        return Err(Error::Broadcast {
            op: "broadcast_to",
            lhs: x.shape().clone(),
            rhs: target,
        });
    }
    let n = target.numel();
    let storage = map_storage!(x.storage(), |v| {
        let mut out = zeros_for(v, n);
        broadcast_copy(v, x.dims(), dims, &mut out);
        out
    });
    tensor(storage, dims)?.record(&[x], BroadcastToRule)
}

struct BroadcastToRule;

impl BackwardRule for BroadcastToRule {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // g has the broadcast shape; the engine sums it down to x's shape.
        Ok(vec![Some(g.clone())])
    }
}
