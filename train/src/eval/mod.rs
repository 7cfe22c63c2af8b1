//! Evaluation metrics of face verification and identification (DATASETS.md §5, LOSSES.md §13).
//!
//! Everything works on plain slices: embeddings `[N, D]` as `&[f32]`, pair scores as `&[f64]`
//! (larger = more similar: cosine, or `−‖e_a − e_b‖²`), and `same` flags. No tensors.
//! **Everywhere: a pair is declared "same" iff `s > t`.**
//!
//! | module | metrics |
//! |---|---|
//! | [`embeddings`] | `nrm`, flip test-time augmentation, pair scores |
//! | [`roc`] | ROC, AUC, EER, TAR@FAR |
//! | [`kfold`] | 10-fold verification accuracy (and insightface's Grid mode), VAL@FAR |
//! | [`identification`] | rank-k closed-set identification |
//! | [`report`] | all verification metrics of one benchmark in one struct |

pub mod embeddings;
pub mod identification;
pub mod kfold;
pub mod report;
pub mod roc;

pub use embeddings::{combine_flip, cosine_scores, normalize_rows, sq_distances};
pub use identification::{identification_ranks, leave_one_out_ranks, rank_k, Gallery};
pub use kfold::{kfold_accuracy, kfold_accuracy_grid, val_at_far, FoldAccuracy, ValAtFar};
pub use report::VerificationReport;
pub use roc::{FarMode, Roc, RocPoint, TarAtFar};

use crate::error::{Error, Result};

/// Checks pair scores: same length as `same`, no NaN, at least one genuine and one impostor
/// pair. Returns `(P, N)`, the genuine and impostor counts.
pub(crate) fn check_pairs(scores: &[f64], same: &[bool]) -> Result<(usize, usize)> {
    if scores.len() != same.len() {
        return Err(Error::Eval(format!(
            "{} scores but {} same/different flags",
            scores.len(),
            same.len()
        )));
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(Error::Eval(format!("score of pair {i} is NaN")));
    }
    let p = same.iter().filter(|&&s| s).count();
    let n = same.len() - p;
    if p == 0 || n == 0 {
        return Err(Error::Eval(format!(
            "need genuine and impostor pairs, got {p} genuine and {n} impostor"
        )));
    }
    Ok((p, n))
}
