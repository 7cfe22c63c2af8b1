//! k-fold verification accuracy (LFW protocol) and VAL@FAR (DATASETS.md §5, LOSSES.md §13).
//!
//! Fold k holds pairs `[kF, (k+1)F)` in file order (when `n` is not a multiple of k, the first
//! `n mod k` folds take one pair more, as scikit-learn's unshuffled `KFold`). For each fold:
//!
//! ```text
//! candidates t ∈ { v_1, (v_j + v_{j+1}) / 2, −∞ }    v_1 > … > v_m: distinct scores of the other folds
//! t* = argmax_t  (#{gen: s > t} + #{imp: s ≤ t}) / n   on the other folds; ties -> the largest t
//! accuracy_k = the same ratio on fold k with t*
//! report mean, std (ddof 0) and mean t* over the folds
//! ```
//!
//! `Grid` mode is insightface's `verification.py`: squared L2 distances `d`, thresholds
//! `0, 0.01, …, 3.99`, "same" iff `d < thr`, the first (smallest) best threshold — in score terms
//! (`s = −d`) the largest, as above.
//!
//! VAL@FAR (FaceNet): per fold, the smallest candidate t whose FAR on the other folds is ≤ f;
//! VAL = TAR and FAR measured on the held-out fold; mean ± std of VAL and mean FAR.

use std::ops::Range;

use super::check_pairs;
use crate::error::{Error, Result};

/// Accuracy of k-fold verification.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldAccuracy {
    /// Mean of the per-fold accuracies.
    pub mean: f64,
    /// Standard deviation of the per-fold accuracies (ddof 0, as numpy's default).
    pub std: f64,
    /// Mean of the per-fold thresholds (scores, or distances in Grid mode).
    pub mean_threshold: f64,
    pub fold_accuracy: Vec<f64>,
    pub thresholds: Vec<f64>,
}

/// VAL@FAR over k folds.
#[derive(Debug, Clone, PartialEq)]
pub struct ValAtFar {
    pub val_mean: f64,
    pub val_std: f64,
    pub far_mean: f64,
}

/// The pair ranges of `folds` unshuffled folds over `n` pairs.
pub fn fold_ranges(n: usize, folds: usize) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(folds);
    let mut start = 0;
    for k in 0..folds {
        let len = n / folds + usize::from(k < n % folds);
        out.push(start..start + len);
        start += len;
    }
    out
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
    (mean, var.sqrt())
}

fn check_folds(scores: &[f64], same: &[bool], folds: usize) -> Result<()> {
    check_pairs(scores, same)?;
    if folds < 2 || folds > scores.len() {
        return Err(Error::Eval(format!(
            "{folds} folds over {} pairs: need 2 ≤ folds ≤ pairs",
            scores.len()
        )));
    }
    Ok(())
}

/// The candidate thresholds of `train` (score, same) pairs in decreasing order, each with the
/// genuine and impostor counts accepted (`s > t`): `v_1` (accepts none), the midpoints, `−∞`.
fn candidates(train: &mut [(f64, bool)]) -> Vec<(f64, usize, usize)> {
    train.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out = vec![(train[0].0, 0, 0)];
    let (mut gen, mut imp) = (0, 0);
    let mut i = 0;
    while i < train.len() {
        let v = train[i].0;
        while i < train.len() && train[i].0 == v {
            if train[i].1 {
                gen += 1;
            } else {
                imp += 1;
            }
            i += 1;
        }
        let t = match train.get(i) {
            // The midpoint lies strictly between two f32 scores; for adjacent f64s it may round
            // up onto v, and then the next score itself is the threshold that accepts s ≥ v.
            Some(&(next, _)) => {
                let mid = (v + next) / 2.0;
                if mid >= v {
                    next
                } else {
                    mid
                }
            }
            None => f64::NEG_INFINITY,
        };
        out.push((t, gen, imp));
    }
    out
}

/// The pairs outside fold `k`.
fn training_pairs(scores: &[f64], same: &[bool], test: &Range<usize>) -> Vec<(f64, bool)> {
    (0..scores.len())
        .filter(|i| !test.contains(i))
        .map(|i| (scores[i], same[i]))
        .collect()
}

/// Accuracy of threshold `t` ("same" iff `s > t`) on the pairs `range`.
fn accuracy(scores: &[f64], same: &[bool], range: Range<usize>, t: f64) -> f64 {
    let n = range.len();
    let correct = range.filter(|&i| (scores[i] > t) == same[i]).count();
    correct as f64 / n as f64
}

/// k-fold verification accuracy of pair scores (larger = more similar), "same" iff `s > t`.
pub fn kfold_accuracy(scores: &[f64], same: &[bool], folds: usize) -> Result<FoldAccuracy> {
    check_folds(scores, same, folds)?;
    let mut fold_accuracy = Vec::with_capacity(folds);
    let mut thresholds = Vec::with_capacity(folds);
    for test in fold_ranges(scores.len(), folds) {
        let mut train = training_pairs(scores, same, &test);
        let total_imp = train.iter().filter(|p| !p.1).count();
        // Correct = accepted genuine + rejected impostors; walking t downwards, a strict `>`
        // keeps the first (largest) of tied best thresholds.
        let mut best: Option<(f64, usize)> = None;
        for (t, gen, imp) in candidates(&mut train) {
            let correct = gen + total_imp - imp;
            if best.is_none_or(|(_, most)| correct > most) {
                best = Some((t, correct));
            }
        }
        // There is always a candidate (check_folds leaves every fold's complement non-empty).
        let t = best.map_or(f64::NEG_INFINITY, |(t, _)| t);
        thresholds.push(t);
        fold_accuracy.push(accuracy(scores, same, test, t));
    }
    let (mean, std) = mean_std(&fold_accuracy);
    let mean_threshold = thresholds.iter().sum::<f64>() / folds as f64;
    Ok(FoldAccuracy {
        mean,
        std,
        mean_threshold,
        fold_accuracy,
        thresholds,
    })
}

/// insightface's Grid mode on squared L2 distances `dist2` (smaller = more similar):
/// thresholds `0, 0.01, …, 3.99`, "same" iff `d < thr`, ties to the smallest threshold.
pub fn kfold_accuracy_grid(dist2: &[f64], same: &[bool], folds: usize) -> Result<FoldAccuracy> {
    check_folds(dist2, same, folds)?;
    let grid: Vec<f64> = (0..400).map(|i| i as f64 * 0.01).collect();
    let acc = |range: &mut dyn Iterator<Item = usize>, thr: f64| {
        let (mut correct, mut n) = (0usize, 0usize);
        for i in range {
            correct += usize::from((dist2[i] < thr) == same[i]);
            n += 1;
        }
        correct as f64 / n as f64
    };
    let mut fold_accuracy = Vec::with_capacity(folds);
    let mut thresholds = Vec::with_capacity(folds);
    for test in fold_ranges(dist2.len(), folds) {
        let mut best = (grid[0], -1.0);
        for &thr in &grid {
            let a = acc(&mut (0..dist2.len()).filter(|i| !test.contains(i)), thr);
            if a > best.1 {
                best = (thr, a);
            }
        }
        thresholds.push(best.0);
        fold_accuracy.push(acc(&mut test.clone(), best.0));
    }
    let (mean, std) = mean_std(&fold_accuracy);
    let mean_threshold = thresholds.iter().sum::<f64>() / folds as f64;
    Ok(FoldAccuracy {
        mean,
        std,
        mean_threshold,
        fold_accuracy,
        thresholds,
    })
}

/// VAL@FAR `far_target` over k folds (FaceNet's `calculate_val`, with exact candidates).
pub fn val_at_far(
    scores: &[f64],
    same: &[bool],
    folds: usize,
    far_target: f64,
) -> Result<ValAtFar> {
    check_folds(scores, same, folds)?;
    let (mut vals, mut fars) = (Vec::new(), Vec::new());
    for test in fold_ranges(scores.len(), folds) {
        let mut train = training_pairs(scores, same, &test);
        let train_imp = train.iter().filter(|p| !p.1).count();
        // Walking t downwards FAR only grows: keep the last (smallest) t with FAR ≤ f.
        let mut t = f64::INFINITY;
        for (cand, _, imp) in candidates(&mut train) {
            if train_imp == 0 || imp as f64 / train_imp as f64 <= far_target {
                t = cand;
            } else {
                break;
            }
        }
        let gen_n = test.clone().filter(|&i| same[i]).count();
        let imp_n = test.len() - gen_n;
        if gen_n == 0 || imp_n == 0 {
            return Err(Error::Eval(format!(
                "fold {test:?} needs genuine and impostor pairs for VAL@FAR"
            )));
        }
        let ta = test.clone().filter(|&i| same[i] && scores[i] > t).count();
        let fa = test.clone().filter(|&i| !same[i] && scores[i] > t).count();
        vals.push(ta as f64 / gen_n as f64);
        fars.push(fa as f64 / imp_n as f64);
    }
    let (val_mean, val_std) = mean_std(&vals);
    Ok(ValAtFar {
        val_mean,
        val_std,
        far_mean: fars.iter().sum::<f64>() / fars.len() as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_follow_sklearn_kfold() {
        assert_eq!(fold_ranges(10, 3), vec![0..4, 4..7, 7..10]);
        assert_eq!(fold_ranges(6000, 10)[9], 5400..6000);
    }

    #[test]
    fn candidates_by_hand() {
        let mut t = vec![(0.2, true), (0.8, false), (0.8, true), (0.5, false)];
        // Distinct 0.8 > 0.5 > 0.2: t = 0.8 (none), 0.65 (the two 0.8s), 0.35, −∞.
        assert_eq!(
            candidates(&mut t),
            vec![
                (0.8, 0, 0),
                (0.65, 1, 1),
                (0.35, 1, 2),
                (f64::NEG_INFINITY, 2, 2)
            ]
        );
    }

    #[test]
    fn separable_folds_are_perfect_and_pick_the_largest_tied_threshold() {
        // Two folds of (gen 0.9, imp 0.1) and (gen 0.8, imp 0.2). Training on the other fold,
        // every t in (0.1, 0.9) is perfect: the largest candidate wins, the midpoint 0.5 of the
        // other fold's two scores.
        let s = [0.9, 0.1, 0.8, 0.2];
        let y = [true, false, true, false];
        let r = kfold_accuracy(&s, &y, 2).unwrap();
        assert_eq!(r.fold_accuracy, vec![1.0, 1.0]);
        assert_eq!(r.thresholds, vec![0.5, 0.5]);
        assert_eq!((r.mean, r.std, r.mean_threshold), (1.0, 0.0, 0.5));
    }

    #[test]
    fn a_fold_that_disagrees_with_the_others() {
        // Fold 0: gen 0.9, imp 0.1. Fold 1 is inverted: gen 0.2, imp 0.8.
        // Test fold 0, train on fold 1: t = 0.8 gets 1 of 2 right (imp rejected), t = 0.5 none,
        // t = −∞ 1 (gen accepted). Tie: the largest, 0.8. On fold 0 both right: 1.
        // Test fold 1, train on fold 0: t = 0.5 is perfect. On fold 1 both wrong: 0.
        let r = kfold_accuracy(&[0.9, 0.1, 0.2, 0.8], &[true, false, true, false], 2).unwrap();
        assert_eq!(r.thresholds, vec![0.8, 0.5]);
        assert_eq!(r.fold_accuracy, vec![1.0, 0.0]);
        assert_eq!((r.mean, r.std), (0.5, 0.5));
    }

    #[test]
    fn all_scores_tied_is_chance() {
        let s = [0.3; 8];
        let y = [true, false, true, false, true, false, true, false];
        let r = kfold_accuracy(&s, &y, 4).unwrap();
        assert_eq!(r.mean, 0.5);
    }

    #[test]
    fn grid_mode_uses_distance_and_the_smallest_threshold() {
        // gen distances 0.5, imp 2.5: every thr in (0.5, 2.5] is perfect; first is 0.51.
        let d = [0.5, 2.5, 0.5, 2.5];
        let y = [true, false, true, false];
        let r = kfold_accuracy_grid(&d, &y, 2).unwrap();
        assert_eq!(r.fold_accuracy, vec![1.0, 1.0]);
        assert!((r.thresholds[0] - 0.51).abs() < 1e-12);
    }

    #[test]
    fn val_at_far_by_hand() {
        // Each fold: gen 0.9, 0.6; imp 0.7, 0.1. Train on the other (identical) fold with f = 0:
        // the smallest t with FAR 0 is the midpoint (0.9 + 0.7) / 2 = 0.8: VAL ½, FAR 0.
        // With f = 0.5: t = (0.6 + 0.1) / 2 = 0.35 -> VAL 1, FAR ½.
        let s = [0.9, 0.6, 0.7, 0.1, 0.9, 0.6, 0.7, 0.1];
        let y = [true, true, false, false, true, true, false, false];
        let v = val_at_far(&s, &y, 2, 0.0).unwrap();
        assert_eq!((v.val_mean, v.val_std, v.far_mean), (0.5, 0.0, 0.0));
        let v = val_at_far(&s, &y, 2, 0.5).unwrap();
        assert_eq!((v.val_mean, v.far_mean), (1.0, 0.5));
    }
}
