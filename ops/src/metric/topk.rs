//! Top-k along an axis.
//!
//! Shape legend: x [outer, len, inner] along `axis` -> values [outer, k, inner] and the indices
//! (along `axis`) of the selected elements, in the same layout.
//!
//! The k largest (or smallest) elements in order, largest first; ties go to the lower index
//! first (a stable sort), so the result is deterministic. Selection is not differentiable; the
//! values are a `gather` of x at the chosen indices, so the gradient flows to the selected
//! elements only (each receives its own g) — the gather's backward rule, no new rule needed.

use anglegrad_engine::{Error, Result, Tensor};

/// The k largest (`largest = true`) or smallest elements along `axis`, with their indices.
pub fn topk(x: &Tensor, k: usize, axis: usize, largest: bool) -> Result<(Tensor, Vec<usize>)> {
    let (outer, len, inner) = x.shape().split_at_axis("topk", axis)?;
    if k > len {
        return Err(Error::invalid(
            "topk",
            format!("k = {k} is larger than axis {axis} of shape {}", x.shape()),
        ));
    }
    let values = x.to_vec_f64();
    let mut index = vec![0usize; outer * k * inner];
    let mut order: Vec<usize> = Vec::with_capacity(len);
    for o in 0..outer {
        for i in 0..inner {
            let at = |l: usize| values[(o * len + l) * inner + i];
            order.clear();
            order.extend(0..len);
            // Stable sort: equal values keep their index order. NaN sorts as largest.
            order.sort_by(|&p, &q| {
                let ord = at(p)
                    .partial_cmp(&at(q))
                    .unwrap_or_else(|| at(p).is_nan().cmp(&at(q).is_nan()));
                if largest {
                    ord.reverse()
                } else {
                    ord
                }
            });
            for (j, &l) in order[..k].iter().enumerate() {
                index[(o * k + j) * inner + i] = l;
            }
        }
    }
    let dims = x.shape().with_dim(axis, k);
    let picked = crate::gather(x, axis, &index, dims.dims())?;
    Ok((picked, index))
}
