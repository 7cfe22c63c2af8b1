//! Reductions along axes: sum, max (with argmax) and log-sum-exp.
//!
//! Shape legend: x has dims [d0, …, dn]; reducing axes A gives the same dims with every axis
//! of A set to 1 (`keepdim = true`) or removed (`keepdim = false`).
//!
//! Backward rules:
//! - sum: every input element contributed once, so ∂L/∂x = g broadcast back over the summed
//!   axes.
//! - max: the gradient goes to the element that was the maximum; on ties, to the *first* one
//!   (lowest index along the axis), as `torch.max(dim)` does. Other elements get 0.
//! - logsumexp: ∂/∂x_j log Σ_k e^{x_k} = e^{x_j} / Σ_k e^{x_k} = softmax(x)_j, computed as
//!   exp(x_j − lse) without overflow.

use std::sync::Arc;

use anglegrad_engine::{map_storage, BackwardRule, Error, Result, Shape, Tensor};
use anglegrad_kernels::cpu::{broadcast::broadcast_copy, reduce};

use crate::util::{map2_storage, tensor, zeros_for};

/// Dims with the given axes set to 1, after checking the axes.
fn keepdim_shape(op: &'static str, x: &Tensor, axes: &[usize]) -> Result<Vec<usize>> {
    let mut dims = x.dims().to_vec();
    for (i, &a) in axes.iter().enumerate() {
        x.shape().dim(op, a)?;
        if axes[..i].contains(&a) {
            return Err(Error::invalid(op, format!("axis {a} listed twice")));
        }
        dims[a] = 1;
    }
    Ok(dims)
}

fn drop_axes(dims: &[usize], axes: &[usize]) -> Vec<usize> {
    dims.iter()
        .enumerate()
        .filter(|(i, _)| !axes.contains(i))
        .map(|(_, &d)| d)
        .collect()
}

/// Σ over the given axes.
pub fn sum(x: &Tensor, axes: &[usize], keepdim: bool) -> Result<Tensor> {
    let kept = keepdim_shape("sum", x, axes)?;
    let n: usize = kept.iter().product();
    let storage = map_storage!(x.storage(), |v| {
        let mut out = zeros_for(v, n);
        reduce::sum_to_shape(v, x.dims(), &kept, &mut out);
        out
    });
    let out_dims = if keepdim {
        kept.clone()
    } else {
        drop_axes(x.dims(), axes)
    };
    let y = tensor(storage, &out_dims)?;
    y.record(
        &[x],
        BroadcastBackRule {
            name: "sum",
            kept,
            input: x.shape().clone(),
        },
    )
}

/// Σ of all elements, as a scalar (shape []).
pub fn sum_all(x: &Tensor) -> Result<Tensor> {
    let axes: Vec<usize> = (0..x.rank()).collect();
    sum(x, &axes, false)
}

/// The backward of a sum (and of `broadcast_to`'s inverse): g, viewed with the kept dims,
/// broadcast back to the input shape.
struct BroadcastBackRule {
    name: &'static str,
    kept: Vec<usize>,
    input: Shape,
}

impl BackwardRule for BroadcastBackRule {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let n = self.input.numel();
        let storage = map_storage!(g.storage(), |v| {
            let mut out = zeros_for(v, n);
            broadcast_copy(v, &self.kept, self.input.dims(), &mut out);
            out
        });
        Ok(vec![Some(tensor(storage, self.input.dims())?)])
    }
}

/// Maximum along one axis, and for each output element the index along `axis` of the element
/// that holds it (the first one on ties).
pub fn max_with_indices(x: &Tensor, axis: usize, keepdim: bool) -> Result<(Tensor, Vec<usize>)> {
    let (outer, len, inner) = x.shape().split_at_axis("max", axis)?;
    if len == 0 {
        return Err(Error::invalid(
            "max",
            format!("axis {axis} of shape {} is empty", x.shape()),
        ));
    }
    let mut argmax = vec![0usize; outer * inner];
    let storage = map_storage!(x.storage(), |v| {
        let mut out = zeros_for(v, outer * inner);
        reduce::max_axis(v, outer, len, inner, &mut out, &mut argmax);
        out
    });
    let out_dims = if keepdim {
        x.shape().with_dim(axis, 1)
    } else {
        x.shape().without_dim(axis)
    };
    let y = tensor(storage, out_dims.dims())?;
    let argmax = Arc::new(argmax);
    let rule = MaxRule {
        argmax: argmax.clone(),
        input: x.shape().clone(),
        axis,
    };
    let y = y.record(&[x], rule)?;
    Ok((y, Arc::try_unwrap(argmax).unwrap_or_else(|a| (*a).clone())))
}

/// Maximum along one axis (gradient to the first maximal element).
pub fn max(x: &Tensor, axis: usize, keepdim: bool) -> Result<Tensor> {
    max_with_indices(x, axis, keepdim).map(|(v, _)| v)
}

/// Minimum along one axis, as −max(−x) (gradient to the first minimal element).
pub fn min(x: &Tensor, axis: usize, keepdim: bool) -> Result<Tensor> {
    crate::neg(&max(&crate::neg(x)?, axis, keepdim)?)
}

/// Index of the maximum along `axis` for each position of the other axes (no gradient).
pub fn argmax(x: &Tensor, axis: usize) -> Result<Vec<usize>> {
    max_with_indices(&x.detach(), axis, false).map(|(_, i)| i)
}

struct MaxRule {
    argmax: Arc<Vec<usize>>,
    input: Shape,
    axis: usize,
}

impl BackwardRule for MaxRule {
    fn name(&self) -> &'static str {
        "max"
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (outer, len, inner) = self.input.split_at_axis("max", self.axis)?;
        let storage = map_storage!(g.storage(), |v| {
            let mut dx = zeros_for(v, outer * len * inner);
            reduce::scatter_to_argmax(v, &self.argmax, outer, len, inner, &mut dx);
            dx
        });
        Ok(vec![Some(tensor(storage, self.input.dims())?)])
    }
}

/// log Σ exp(x) along one axis, computed stably (max subtracted first).
pub fn logsumexp(x: &Tensor, axis: usize, keepdim: bool) -> Result<Tensor> {
    let (outer, len, inner) = x.shape().split_at_axis("logsumexp", axis)?;
    let storage = map_storage!(x.storage(), |v| {
        let mut out = zeros_for(v, outer * inner);
        reduce::logsumexp_axis(v, outer, len, inner, &mut out);
        out
    });
    let kept = x.shape().with_dim(axis, 1);
    let lse = tensor(storage, kept.dims())?;
    let rule = LogSumExpRule {
        x: x.detach(),
        lse: lse.detach(),
    };
    let out_dims = if keepdim {
        kept
    } else {
        x.shape().without_dim(axis)
    };
    let y = tensor(lse.storage().clone(), out_dims.dims())?;
    y.record(&[x], rule)
}

struct LogSumExpRule {
    x: Tensor,
    /// The result with the reduced axis kept (size 1), so it broadcasts against x.
    lse: Tensor,
}

impl BackwardRule for LogSumExpRule {
    fn name(&self) -> &'static str {
        "logsumexp"
    }

    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        // dx = g · exp(x − lse), with g and lse broadcast along the reduced axis.
        let g = tensor(g.storage().clone(), self.lse.dims())?;
        let softmax = crate::exp(&crate::sub(&self.x, &self.lse)?)?;
        let storage = map2_storage!("logsumexp", softmax, g, |p, gv| {
            let mut gb = zeros_for(p, p.len());
            broadcast_copy(gv, self.lse.dims(), self.x.dims(), &mut gb);
            p.iter()
                .zip(&gb)
                .map(|(&pi, &gi)| pi * gi)
                .collect::<Vec<_>>()
        })?;
        Ok(vec![Some(tensor(storage, self.x.dims())?)])
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.x, &self.lse]
    }
}
