//! Masked argmax / argmin over the rows of a matrix: the selections of the triplet miners
//! (hardest positive, hardest negative).
//!
//! Shape legend: x [N, M], mask [N, M] (row-major `bool`s); result: one `Option<usize>` per row,
//! the column of the largest (smallest) x among the columns the mask allows, `None` for a row
//! where it allows none. Ties go to the lowest column. A selection has no gradient: take the
//! values with `gather` at the returned columns to let the gradient flow to them.

use anglegrad_engine::{Error, Result, Shape, Tensor};

fn masked_arg(
    op: &'static str,
    x: &Tensor,
    mask: &[bool],
    better: fn(f64, f64) -> bool,
) -> Result<Vec<Option<usize>>> {
    if x.rank() != 2 || mask.len() != x.numel() {
        return Err(Error::ShapeMismatch {
            op,
            lhs: x.shape().clone(),
            rhs: Shape::new(&[mask.len()]),
        });
    }
    let (n, m) = (x.dims()[0], x.dims()[1]);
    let v = x.to_vec_f64();
    Ok((0..n)
        .map(|i| {
            let mut best: Option<usize> = None;
            for j in 0..m {
                if mask[i * m + j] && best.is_none_or(|b| better(v[i * m + j], v[i * m + b])) {
                    best = Some(j);
                }
            }
            best
        })
        .collect())
}

/// Per row, the allowed column with the largest value (lowest column on ties).
pub fn masked_argmax(x: &Tensor, mask: &[bool]) -> Result<Vec<Option<usize>>> {
    masked_arg("masked_argmax", x, mask, |a, b| a > b)
}

/// Per row, the allowed column with the smallest value (lowest column on ties).
pub fn masked_argmin(x: &Tensor, mask: &[bool]) -> Result<Vec<Option<usize>>> {
    masked_arg("masked_argmin", x, mask, |a, b| a < b)
}
