//! ROC curve, AUC, EER and TAR@FAR (DATASETS.md §5).
//!
//! With `P` genuine and `N` impostor pairs and distinct scores `v_1 > … > v_m`:
//!
//! ```text
//! point 0 = (FAR, TAR) = (0, 0)                         (threshold above every score)
//! point j accepts s ≥ v_j:  TAR_j = #{gen: s ≥ v_j} / P,   FAR_j = #{imp: s ≥ v_j} / N
//! AUC  = Σ_j (FAR_j − FAR_{j−1}) · (TAR_j + TAR_{j−1}) / 2  = P(s_gen > s_imp) + ½ P(s_gen = s_imp)
//! EER: FRR = 1 − TAR; the first j with FAR_j ≥ FRR_j; equal: EER = FAR_j, else interpolate
//!      λ = (FRR_{j−1} − FAR_{j−1}) / (FAR_j − FAR_{j−1} + FRR_{j−1} − FRR_j)
//!      EER = FAR_{j−1} + λ · (FAR_j − FAR_{j−1})
//! TAR@FAR f = max TAR_j with FAR_j ≤ f   (unresolvable when N·f < 1: the FAR = 0 point)
//! ```
//!
//! Tied scores move together: a genuine and an impostor pair with the same score make one
//! diagonal step, which is what gives all-tied scores an AUC and an EER of exactly ½.

use super::check_pairs;
use crate::error::Result;

/// One ROC point: the pairs with score `≥ score` are accepted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RocPoint {
    /// The lowest accepted score `v_j` (`+∞` for point 0, which accepts nothing).
    pub score: f64,
    /// True accept rate `#{gen: s ≥ v_j} / P`.
    pub tar: f64,
    /// False accept rate `#{imp: s ≥ v_j} / N`.
    pub far: f64,
    /// `#{gen: s ≥ v_j}`, the count behind `tar` (exact comparisons use counts, not rates).
    pub genuine_accepted: usize,
    /// `#{imp: s ≥ v_j}`.
    pub impostor_accepted: usize,
}

/// How TAR@FAR picks its ROC point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FarMode {
    /// The best TAR with FAR ≤ f (the definition; IJB papers).
    AtMost,
    /// insightface's IJB script: the point with FAR closest to f, ties to the larger TAR.
    Closest,
}

/// TAR at a target FAR.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TarAtFar {
    pub tar: f64,
    /// The FAR actually reached (≤ target in `AtMost` mode).
    pub far: f64,
    /// The lowest accepted score of the chosen point.
    pub score: f64,
    /// `false` when `N·f < 1`: no impostor can be accepted at that rate, so the result is the
    /// FAR = 0 point and should be printed as `—`.
    pub resolvable: bool,
}

impl std::fmt::Display for TarAtFar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.resolvable {
            write!(f, "{:.2}%", 100.0 * self.tar)
        } else {
            f.write_str("—")
        }
    }
}

/// A ROC curve from pair scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Roc {
    /// Point 0 = (0, 0), then one point per distinct score, in decreasing score.
    pub points: Vec<RocPoint>,
    /// Genuine pairs `P`.
    pub genuine: usize,
    /// Impostor pairs `N`.
    pub impostor: usize,
}

impl Roc {
    /// The ROC of `scores` (larger = more similar) with `same[i]` true for genuine pairs.
    /// Errors on a NaN score, on no genuine or no impostor pair, or on a length mismatch.
    pub fn new(scores: &[f64], same: &[bool]) -> Result<Roc> {
        let (p, n) = check_pairs(scores, same)?;
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let mut points = vec![RocPoint {
            score: f64::INFINITY,
            tar: 0.0,
            far: 0.0,
            genuine_accepted: 0,
            impostor_accepted: 0,
        }];
        let (mut gen, mut imp) = (0usize, 0usize);
        let mut i = 0;
        while i < order.len() {
            let v = scores[order[i]];
            while i < order.len() && scores[order[i]] == v {
                if same[order[i]] {
                    gen += 1;
                } else {
                    imp += 1;
                }
                i += 1;
            }
            points.push(RocPoint {
                score: v,
                tar: gen as f64 / p as f64,
                far: imp as f64 / n as f64,
                genuine_accepted: gen,
                impostor_accepted: imp,
            });
        }
        Ok(Roc {
            points,
            genuine: p,
            impostor: n,
        })
    }

    /// Area under the curve by the trapezoid rule.
    pub fn auc(&self) -> f64 {
        self.points
            .windows(2)
            .map(|w| (w[1].far - w[0].far) * (w[1].tar + w[0].tar) / 2.0)
            .sum()
    }

    /// Equal error rate: where FAR meets FRR = 1 − TAR, interpolated linearly between points.
    pub fn eer(&self) -> f64 {
        let (p, n) = (self.genuine as u128, self.impostor as u128);
        for j in 1..self.points.len() {
            let (a, b) = (self.points[j - 1], self.points[j]);
            let (frr_a, frr_b) = (1.0 - a.tar, 1.0 - b.tar);
            // FAR_j ≥ FRR_j compared exactly: imp_j / N ≥ (P − gen_j) / P.
            let far_p = b.impostor_accepted as u128 * p;
            let frr_n = (p - b.genuine_accepted as u128) * n;
            if far_p >= frr_n {
                if far_p == frr_n {
                    return b.far;
                }
                let lambda = (frr_a - a.far) / (b.far - a.far + frr_a - frr_b);
                return a.far + lambda * (b.far - a.far);
            }
        }
        // The last point is (1, 1): FAR = 1 ≥ FRR = 0, so the loop always returns.
        1.0
    }

    /// TAR at target FAR `target` (for example 1e-3).
    pub fn tar_at_far(&self, target: f64, mode: FarMode) -> TarAtFar {
        let resolvable = self.impostor as f64 * target >= 1.0;
        let pick = |p: &RocPoint| TarAtFar {
            tar: p.tar,
            far: p.far,
            score: p.score,
            resolvable,
        };
        if !resolvable {
            // The last FAR = 0 point: the most genuine pairs accepted with no impostor.
            let p = self.points.iter().rev().find(|p| p.far == 0.0);
            return pick(p.unwrap_or(&self.points[0]));
        }
        match mode {
            FarMode::AtMost => {
                // TAR grows with j, so the last point with FAR ≤ f has the largest TAR.
                let p = self.points.iter().rev().find(|p| p.far <= target);
                pick(p.unwrap_or(&self.points[0]))
            }
            FarMode::Closest => {
                let mut best = &self.points[0];
                for p in &self.points {
                    let (d, db) = ((p.far - target).abs(), (best.far - target).abs());
                    if d < db || (d == db && p.tar > best.tar) {
                        best = p;
                    }
                }
                pick(best)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_made_curve() {
        // Scores: gen 0.9, 0.7, 0.4; imp 0.8, 0.4, 0.1.
        // Distinct scores 0.9 0.8 0.7 0.4 0.1 -> (FAR, TAR):
        // (0,0) (0,1/3) (1/3,1/3) (1/3,2/3) (2/3,1) (1,1)
        let s = [0.9, 0.7, 0.4, 0.8, 0.4, 0.1];
        let y = [true, true, true, false, false, false];
        let roc = Roc::new(&s, &y).unwrap();
        let pts: Vec<(usize, usize)> = roc
            .points
            .iter()
            .map(|p| (p.impostor_accepted, p.genuine_accepted))
            .collect();
        assert_eq!(pts, vec![(0, 0), (0, 1), (1, 1), (1, 2), (2, 3), (3, 3)]);
        let t = 1.0 / 3.0;
        // P(gen > imp) + ½ P(tie): gen 0.9 beats 3, 0.7 beats 2, 0.4 beats 1 and ties 1:
        // (3 + 2 + 1 + 0.5) / 9.
        assert!((roc.auc() - 6.5 / 9.0).abs() < 1e-12);
        // FRR: 1, 2/3, 2/3, 1/3, 0, 0. First FAR ≥ FRR at j = 3 (1/3 = 1/3): EER = FAR_3.
        assert_eq!(roc.eer(), t);
        // N = 3: FAR 1/3 resolvable, 1e-3 is not.
        let r = roc.tar_at_far(t, FarMode::AtMost);
        assert!((r.tar - 2.0 * t).abs() < 1e-12 && r.resolvable);
        let r = roc.tar_at_far(1e-3, FarMode::AtMost);
        assert_eq!((r.tar, r.far, r.resolvable), (t, 0.0, false));
        assert_eq!(r.to_string(), "—");
        let r = roc.tar_at_far(0.5, FarMode::Closest);
        // |1/3 − 0.5| = |2/3 − 0.5|: tie goes to the larger TAR, the FAR 2/3 point.
        assert_eq!(r.tar, 1.0);
    }

    #[test]
    fn interpolated_eer() {
        // gen 0.9, 0.3, 0.2; imp 0.5 -> points (0,0) (0,1/3) (1,1/3) (1,2/3) (1,1).
        // j = 2 is the first with FAR 1 ≥ FRR 2/3, not equal, so interpolate from j = 1:
        // λ = (2/3 − 0) / (1 − 0 + 2/3 − 2/3) = 2/3, EER = 0 + 2/3 · (1 − 0) = 2/3.
        let roc = Roc::new(&[0.9, 0.3, 0.2, 0.5], &[true, true, true, false]).unwrap();
        assert!((roc.eer() - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn all_scores_tied() {
        let roc = Roc::new(&[0.5; 6], &[true, false, true, false, true, false]).unwrap();
        assert_eq!(roc.points.len(), 2);
        assert_eq!(roc.auc(), 0.5);
        assert_eq!(roc.eer(), 0.5);
    }

    #[test]
    fn perfect_separation() {
        let roc = Roc::new(&[3.0, 2.0, 1.0, 0.0], &[true, true, false, false]).unwrap();
        assert_eq!(roc.auc(), 1.0);
        assert_eq!(roc.eer(), 0.0);
        assert_eq!(roc.tar_at_far(0.5, FarMode::AtMost).tar, 1.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(Roc::new(&[f64::NAN, 1.0], &[true, false]).is_err());
        assert!(Roc::new(&[0.0, 1.0], &[true, true]).is_err());
        assert!(Roc::new(&[0.0, 1.0], &[false, false]).is_err());
        assert!(Roc::new(&[0.0], &[true, false]).is_err());
    }
}
