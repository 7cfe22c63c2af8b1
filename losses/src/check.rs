//! Input validation shared by every loss: a clear [`Error`] naming the loss and the offending
//! value, before any arithmetic (a NaN must never become a silent NaN loss).

use anglegrad_engine::{DType, Error, Result, Shape, Tensor};

/// Checks `x` is [B, D] with B > 0 and finite values; returns (B, D).
pub fn embeddings(loss: &'static str, x: &Tensor) -> Result<(usize, usize)> {
    if x.rank() != 2 {
        return Err(Error::invalid(
            loss,
            format!("embeddings must be [B, D], got {}", x.shape()),
        ));
    }
    let (b, d) = (x.dims()[0], x.dims()[1]);
    if b == 0 {
        return Err(Error::invalid(loss, "empty batch (B = 0)"));
    }
    if d == 0 {
        return Err(Error::invalid(loss, "embeddings have no features (D = 0)"));
    }
    finite(loss, "embeddings", x)?;
    Ok((b, d))
}

/// Errors on the first NaN or infinity of `t`, naming the tensor, the flat index and the value.
/// Scans the storage in place (a classifier's W can be 10⁸ values: no f64 copy of it).
pub fn finite(loss: &'static str, name: &str, t: &Tensor) -> Result<()> {
    fn scan<T: Copy + Into<f64>>(values: &[T]) -> Option<(usize, f64)> {
        values
            .iter()
            .map(|&v| v.into())
            .enumerate()
            .find(|(_, v): &(usize, f64)| !v.is_finite())
    }
    let first_bad = match t.dtype() {
        DType::F32 => scan(t.as_slice::<f32>()?),
        DType::F64 => scan(t.as_slice::<f64>()?),
        _ => scan(&t.to_vec_f64()),
    };
    match first_bad {
        None => Ok(()),
        Some((i, value)) => Err(Error::invalid(
            loss,
            format!(
                "{name} {} has a non-finite value {value} at flat index {i}",
                t.shape()
            ),
        )),
    }
}

/// Checks there is one label per row and, when `classes` is given, that each is < classes.
pub fn labels(
    loss: &'static str,
    labels: &[usize],
    batch: usize,
    classes: Option<usize>,
) -> Result<()> {
    if labels.len() != batch {
        return Err(Error::invalid(
            loss,
            format!("{} labels for a batch of {batch} embeddings", labels.len()),
        ));
    }
    if let Some(c) = classes {
        if let Some((row, &y)) = labels.iter().enumerate().find(|(_, &y)| y >= c) {
            return Err(Error::invalid(
                loss,
                format!("label {y} of row {row} is out of range for {c} classes"),
            ));
        }
    }
    Ok(())
}

/// Checks a class-weight (or centre) matrix is [C, D] with the embeddings' D and finite;
/// returns C.
pub fn class_matrix(loss: &'static str, name: &str, w: &Tensor, d: usize) -> Result<usize> {
    if w.rank() != 2 || w.dims()[1] != d || w.dims()[0] == 0 {
        return Err(Error::ShapeMismatch {
            op: loss,
            lhs: Shape::new(&[w.dims().first().copied().unwrap_or(0).max(1), d]),
            rhs: w.shape().clone(),
        });
    }
    finite(loss, name, w)?;
    Ok(w.dims()[0])
}

/// Converts labels stored as signed integers (safetensors I64, PyTorch's dtype) to class
/// indices; a negative label is an error naming its row.
pub fn labels_from_i64(loss: &'static str, raw: &[i64]) -> Result<Vec<usize>> {
    raw.iter()
        .enumerate()
        .map(|(row, &y)| {
            usize::try_from(y)
                .map_err(|_| Error::invalid(loss, format!("label {y} of row {row} is negative")))
        })
        .collect()
}

/// The P×K sampler contract of pair and triplet losses: every identity in the batch must have
/// at least two samples, or it can never form a positive pair. Losses themselves accept
/// singletons (they can only be negatives, LOSSES.md §3); a training loop that samples P×K
/// calls this to catch a broken sampler.
pub fn every_class_has_a_pair(loss: &'static str, labels: &[usize]) -> Result<()> {
    let mut counts = std::collections::BTreeMap::new();
    for &y in labels {
        *counts.entry(y).or_insert(0usize) += 1;
    }
    match counts.iter().find(|(_, &n)| n < 2) {
        Some((y, _)) => Err(Error::invalid(
            loss,
            format!("class {y} has one sample in the batch; P×K sampling needs K >= 2"),
        )),
        None => Ok(()),
    }
}
