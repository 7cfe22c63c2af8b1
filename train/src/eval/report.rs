//! Every verification metric of one benchmark, computed once and printed on one line.
//!
//! ```text
//! acc 97.53% ± 0.61 (t 0.312)  AUC 0.9962  EER 2.80%  TAR@FAR 1e-3 81.20%  1e-4 —  VAL@FAR 1e-3 80.95%
//! ```

use std::fmt;

use super::kfold::{kfold_accuracy, val_at_far, FoldAccuracy, ValAtFar};
use super::roc::{FarMode, Roc, TarAtFar};
use crate::error::Result;

/// The FARs at which [`VerificationReport`] reports TAR.
pub const REPORT_FARS: [f64; 2] = [1e-3, 1e-4];

/// The verification metrics of DATASETS.md §5 for one set of pair scores.
#[derive(Debug, Clone, PartialEq)]
pub struct VerificationReport {
    /// k-fold accuracy, the LFW protocol.
    pub accuracy: FoldAccuracy,
    pub auc: f64,
    pub eer: f64,
    /// TAR at each of [`REPORT_FARS`] (over all pairs).
    pub tar_at_far: Vec<(f64, TarAtFar)>,
    /// VAL@FAR 1e-3 over the folds.
    pub val: ValAtFar,
}

impl VerificationReport {
    /// All metrics for `scores` (larger = more similar) over `folds` folds in file order.
    pub fn compute(scores: &[f64], same: &[bool], folds: usize) -> Result<VerificationReport> {
        let roc = Roc::new(scores, same)?;
        Ok(VerificationReport {
            accuracy: kfold_accuracy(scores, same, folds)?,
            auc: roc.auc(),
            eer: roc.eer(),
            tar_at_far: REPORT_FARS
                .iter()
                .map(|&f| (f, roc.tar_at_far(f, FarMode::AtMost)))
                .collect(),
            val: val_at_far(scores, same, folds, 1e-3)?,
        })
    }
}

impl fmt::Display for VerificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.accuracy;
        write!(
            f,
            "acc {:.2}% ± {:.2} (t {:.3})  AUC {:.4}  EER {:.2}%  TAR@FAR",
            100.0 * a.mean,
            100.0 * a.std,
            a.mean_threshold,
            self.auc,
            100.0 * self.eer
        )?;
        for (far, t) in &self.tar_at_far {
            write!(f, " {far:.0e} {t}")?;
        }
        write!(f, "  VAL@FAR 1e-3 {:.2}%", 100.0 * self.val.val_mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_of_a_separable_set() {
        let mut s = Vec::new();
        let mut y = Vec::new();
        for k in 0..10 {
            s.extend([0.9 - 0.01 * k as f64, 0.1 + 0.01 * k as f64]);
            y.extend([true, false]);
        }
        let r = VerificationReport::compute(&s, &y, 10).unwrap();
        assert_eq!((r.accuracy.mean, r.auc, r.eer), (1.0, 1.0, 0.0));
        assert!(
            !r.tar_at_far[0].1.resolvable,
            "10 impostors cannot resolve FAR 1e-3"
        );
        let line = r.to_string();
        assert!(line.starts_with("acc 100.00% ± 0.00"), "{line}");
        assert!(line.contains("TAR@FAR 1e-3 — 1e-4 —"), "{line}");
    }
}
