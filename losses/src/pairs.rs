//! Pairs formed inside a batch from its labels: the shared vocabulary of the pair, triplet,
//! range and DeepID2 losses. Selections, so no gradient flows through anything here; the
//! losses gather distances at the returned positions.

use anglegrad_engine::{Result, Tensor};
use anglegrad_ops as ops;

/// A list of index pairs (i, j).
pub type Pairs = Vec<(usize, usize)>;

/// All unordered pairs i < j, split by whether the labels agree: (positives, negatives).
pub fn unordered_pairs(labels: &[usize]) -> (Pairs, Pairs) {
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    for i in 0..labels.len() {
        for j in i + 1..labels.len() {
            if labels[i] == labels[j] {
                pos.push((i, j));
            } else {
                neg.push((i, j));
            }
        }
    }
    (pos, neg)
}

/// The entries (i, j) of an [N, N] matrix as a vector [P] (a gather: the gradient flows back
/// to exactly those entries). An empty list gives an empty vector [0].
pub fn entries(matrix: &Tensor, pairs: &[(usize, usize)]) -> Result<Tensor> {
    let n = matrix.dims()[1];
    let flat: Vec<usize> = pairs.iter().map(|&(i, j)| i * n + j).collect();
    ops::index_select(&ops::reshape(matrix, &[matrix.numel()])?, 0, &flat)
}

/// A graph-connected zero: 0 · Σ x, so a loss with nothing to average still has a (zero)
/// gradient for every input instead of being cut off the tape.
pub fn connected_zero(x: &Tensor) -> Result<Tensor> {
    ops::scale(&ops::sum_all(x)?, 0.0)
}

/// Mean over the terms that are > 0 ("AvgNonZero" of pytorch-metric-learning); a graph-connected
/// 0 when none is. Terms of exactly 0 count as zero: they are left out of the mean.
pub fn avg_nonzero(terms: &Tensor) -> Result<Tensor> {
    let positive = terms.to_vec_f64().iter().filter(|&&v| v > 0.0).count();
    let total = ops::sum_all(terms)?;
    ops::scale(
        &total,
        if positive == 0 {
            0.0
        } else {
            1.0 / positive as f64
        },
    )
}
