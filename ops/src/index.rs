//! Indexing ops: `index_select`, `gather`, `scatter_add`, `one_hot`.
//!
//! Shape legend: along axis a, x is [outer, len, inner]. Indices are plain `usize` slices
//! (labels, selected rows), checked against `len` before any work: a bad index is an
//! [`Error::IndexOutOfRange`] naming the op, the index and the size.
//!
//! - index_select(x, a, idx) -> [outer, |idx|, inner]: whole slices picked along a. Backward
//!   adds g back into the picked slices (a slice picked twice receives both gradients).
//! - gather(x, a, index, dims) -> dims, one element per index: out[o, j, i] = x[o, index, i]
//!   (torch.gather). Backward is scatter_add.
//! - scatter_add(dst, a, index, dims, src): dst with src added at the indexed positions.
//!   Backward: dst receives g; src receives g gathered at the same positions.
//! - one_hot(labels, C): a [B, C] constant with 1 at (i, labels[i]).

use std::sync::Arc;

use anglegrad_engine::{map_storage, BackwardRule, DType, Error, Result, Shape, Tensor};
use anglegrad_kernels::cpu::movement;

use crate::util::{map2_storage, same_dtype, tensor, zeros_for};

fn check_indices(op: &'static str, indices: &[usize], size: usize) -> Result<()> {
    match indices.iter().find(|&&i| i >= size) {
        Some(&index) => Err(Error::IndexOutOfRange { op, index, size }),
        None => Ok(()),
    }
}

/// Picks slices along `axis` in the order given by `indices` (repeats allowed).
pub fn index_select(x: &Tensor, axis: usize, indices: &[usize]) -> Result<Tensor> {
    let (outer, len, inner) = x.shape().split_at_axis("index_select", axis)?;
    check_indices("index_select", indices, len)?;
    let storage = map_storage!(x.storage(), |v| {
        let mut out = zeros_for(v, outer * indices.len() * inner);
        movement::index_select(v, outer, len, inner, indices, &mut out);
        out
    });
    let out_shape = x.shape().with_dim(axis, indices.len());
    let rule = IndexSelectRule {
        input: x.shape().clone(),
        axis,
        indices: Arc::new(indices.to_vec()),
    };
    tensor(storage, out_shape.dims())?.record(&[x], rule)
}

struct IndexSelectRule {
    input: Shape,
    axis: usize,
    indices: Arc<Vec<usize>>,
}

impl BackwardRule for IndexSelectRule {
    fn name(&self) -> &'static str {
        "index_select"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (outer, len, inner) = self.input.split_at_axis("index_select", self.axis)?;
        let storage = map_storage!(g.storage(), |v| {
            let mut dx = zeros_for(v, outer * len * inner);
            movement::index_add(v, outer, len, inner, &self.indices, &mut dx);
            dx
        });
        Ok(vec![Some(tensor(storage, self.input.dims())?)])
    }
}

/// Checks that `dims` (the index / output dims of gather and scatter_add) match `x` on every
/// axis but `axis`, and that the indices fit; returns (outer, len, inner, n).
fn gather_layout(
    op: &'static str,
    x: &Tensor,
    axis: usize,
    index: &[usize],
    dims: &[usize],
) -> Result<(usize, usize, usize, usize)> {
    let (outer, len, inner) = x.shape().split_at_axis(op, axis)?;
    let compatible = dims.len() == x.rank()
        && (0..dims.len()).all(|i| i == axis || dims[i] == x.dims()[i])
        && index.len() == dims.iter().product::<usize>();
    if !compatible {
        return Err(Error::ShapeMismatch {
            op,
            lhs: x.shape().clone(),
            rhs: Shape::new(dims),
        });
    }
    check_indices(op, index, len)?;
    Ok((outer, len, inner, dims[axis]))
}

/// out[o, j, i] = x[o, index[o, j, i], i], with `dims` the shape of `index` and of the output.
pub fn gather(x: &Tensor, axis: usize, index: &[usize], dims: &[usize]) -> Result<Tensor> {
    let (outer, len, inner, n) = gather_layout("gather", x, axis, index, dims)?;
    let storage = map_storage!(x.storage(), |v| {
        let mut out = zeros_for(v, index.len());
        movement::gather(v, outer, len, inner, index, n, &mut out);
        out
    });
    let rule = GatherRule {
        input: x.shape().clone(),
        axis,
        index: Arc::new(index.to_vec()),
        dims: dims.to_vec(),
    };
    tensor(storage, dims)?.record(&[x], rule)
}

struct GatherRule {
    input: Shape,
    axis: usize,
    index: Arc<Vec<usize>>,
    dims: Vec<usize>,
}

impl BackwardRule for GatherRule {
    fn name(&self) -> &'static str {
        "gather"
    }
    fn backward(&self, g: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let zeros = Tensor::zeros(self.input.clone(), g.dtype())?;
        Ok(vec![Some(scatter_add(
            &zeros,
            self.axis,
            &self.index,
            &self.dims,
            g,
        )?)])
    }
}

/// dst with `src` added at the gathered positions: out[o, index[o, j, i], i] += src[o, j, i].
pub fn scatter_add(
    dst: &Tensor,
    axis: usize,
    index: &[usize],
    dims: &[usize],
    src: &Tensor,
) -> Result<Tensor> {
    same_dtype("scatter_add", dst, src)?;
    let (outer, len, inner, n) = gather_layout("scatter_add", dst, axis, index, dims)?;
    if src.dims() != dims {
        return Err(Error::ShapeMismatch {
            op: "scatter_add",
            lhs: Shape::new(dims),
            rhs: src.shape().clone(),
        });
    }
    let storage = map2_storage!("scatter_add", dst, src, |d, s| {
        let mut out = d.to_vec();
        movement::scatter_add(&mut out, outer, len, inner, index, n, s);
        out
    })?;
    let rule = ScatterAddRule {
        axis,
        index: Arc::new(index.to_vec()),
        dims: dims.to_vec(),
    };
    tensor(storage, dst.dims())?.record(&[dst, src], rule)
}

struct ScatterAddRule {
    axis: usize,
    index: Arc<Vec<usize>>,
    dims: Vec<usize>,
}

impl BackwardRule for ScatterAddRule {
    fn name(&self) -> &'static str {
        "scatter_add"
    }
    fn backward(&self, g: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let d_src = if needs[1] {
            Some(gather(g, self.axis, &self.index, &self.dims)?)
        } else {
            None
        };
        Ok(vec![Some(g.clone()), d_src])
    }
}

/// A [B, C] tensor with 1 at (i, labels[i]) and 0 elsewhere (a constant: no gradient).
pub fn one_hot(labels: &[usize], classes: usize, dtype: DType) -> Result<Tensor> {
    check_indices("one_hot", labels, classes)?;
    let mut data = vec![0.0; labels.len() * classes];
    for (i, &y) in labels.iter().enumerate() {
        data[i * classes + y] = 1.0;
    }
    Tensor::from_f64s(&data, [labels.len(), classes], dtype)
}
