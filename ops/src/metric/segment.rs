//! Per-segment (per-class) sums and means of rows.
//!
//! Shape legend: x [N, D], segments [N] (segment id of each row, < S) -> [S, D].
//!   segment_sum_s  = Σ_{i: seg_i = s} x_i
//!   segment_mean_s = segment_sum_s / n_s   (0 for an empty segment)
//! Both are composites of `scatter_add` (each row added into its segment's row), so the
//! gradient of row i is the gradient of its segment (divided by n_s for the mean).

use anglegrad_engine::{Error, Result, Tensor};

fn check(op: &'static str, x: &Tensor, segments: &[usize], num_segments: usize) -> Result<()> {
    if x.rank() != 2 || x.dims()[0] != segments.len() {
        return Err(Error::invalid(
            op,
            format!("{} segment ids for rows of {}", segments.len(), x.shape()),
        ));
    }
    match segments.iter().find(|&&s| s >= num_segments) {
        Some(&index) => Err(Error::IndexOutOfRange {
            op,
            index,
            size: num_segments,
        }),
        None => Ok(()),
    }
}

/// Σ of the rows of each segment: [S, D].
pub fn segment_sum(x: &Tensor, segments: &[usize], num_segments: usize) -> Result<Tensor> {
    check("segment_sum", x, segments, num_segments)?;
    let d = x.dims()[1];
    let index: Vec<usize> = segments
        .iter()
        .flat_map(|&s| std::iter::repeat_n(s, d))
        .collect();
    let zeros = Tensor::zeros([num_segments, d], x.dtype())?;
    crate::scatter_add(&zeros, 0, &index, x.dims(), x)
}

/// Mean of the rows of each segment: [S, D] (an empty segment gives a zero row).
pub fn segment_mean(x: &Tensor, segments: &[usize], num_segments: usize) -> Result<Tensor> {
    let sums = segment_sum(x, segments, num_segments)?;
    let mut counts = vec![0.0; num_segments];
    for &s in segments {
        counts[s] += 1.0;
    }
    let inv: Vec<f64> = counts.iter().map(|&c: &f64| 1.0 / c.max(1.0)).collect();
    let inv = Tensor::from_f64s(&inv, [num_segments, 1], x.dtype())?;
    crate::mul(&sums, &inv)
}
