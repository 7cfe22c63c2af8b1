//! FaceNet's triplet loss (Schroff et al. 2015) with online mining, LOSSES.md §3 and §16.
//!
//! Shape legend: x [B, D], labels [B], f = nrm(x) [B, D], distances D [B, B]:
//! D_ab = ‖f_a − f_b‖² (`squared`, FaceNet) or ‖f_a − f_b‖ (PML), exact 0 at coincident points.
//!
//! Candidates are (a, p, n): every *ordered* anchor–positive pair (a ≠ p, same label; (a, p)
//! and (p, a) are two pairs) with every n of another label. A [`Mining`] keeps some of them —
//! a selection made on the values, carrying no gradient — and each kept triplet costs
//!
//!   ℓ = [D_ap − D_an + α]_+
//!
//! reduced by `sum` (FaceNet), `mean` over kept triplets, or `avg_nonzero` (PML). With active
//! ℓ and squared distances: ∂ℓ/∂f_a = 2(f_n − f_p), ∂ℓ/∂f_p = 2(f_p − f_a),
//! ∂ℓ/∂f_n = 2(f_a − f_n), then through nrm (the tape does this).
//!
//! Why semi-hard (FaceNet): the hardest negatives early in training collapse the embedding
//! (f → constant); semi-hard negatives are further than the positive but inside the margin.
//! A batch with no kept triplet gives 0 with a zero gradient. A class with one sample can only
//! be a negative. Sample batches as P identities × K images (see `check::every_class_has_a_pair`).

use anglegrad_engine::{Error, Result, Tensor};
use anglegrad_ops::{self as ops, TensorOps};

use crate::check;
use crate::pairs::{avg_nonzero, connected_zero, entries};

/// Which candidate triplets are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mining {
    /// Every candidate.
    All,
    /// 0 < D_an − D_ap <= α (PML `TripletMarginMiner(type="semihard")`).
    SemiHard,
    /// One triplet per anchor: p* = argmax D_ap, n* = argmin D_an (PML `BatchHardMiner`);
    /// anchors lacking a positive or a negative are dropped; ties go to the lowest index.
    BatchHard,
    /// One negative per (a, p): the n with the smallest D_an > D_ap (FaceNet's wording). With
    /// `fallback`, a pair with no such n takes the largest D_an (TensorFlow style); without,
    /// it is skipped.
    SemiHardPerPair { fallback: bool },
}

/// How kept triplets are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    Sum,
    Mean,
    AvgNonZero,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Triplet {
    pub alpha: f64,
    pub squared: bool,
    pub mining: Mining,
    pub reduction: Reduction,
    /// Normalise the embeddings first (FaceNet, §16: f = nrm(x)); `false` uses them as given.
    pub normalize: bool,
}

impl Default for Triplet {
    /// FaceNet: α = 0.2, squared distances, semi-hard mining, summed.
    fn default() -> Self {
        Triplet {
            alpha: 0.2,
            squared: true,
            mining: Mining::SemiHard,
            reduction: Reduction::Sum,
            normalize: true,
        }
    }
}

impl Triplet {
    pub fn loss(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        let (b, _) = check::embeddings("triplet", x)?;
        check::labels("triplet", labels, b, None)?;
        if self.alpha.is_nan() || self.alpha < 0.0 {
            return Err(Error::invalid(
                "triplet",
                format!("margin alpha must be >= 0, got {}", self.alpha),
            ));
        }
        let f = if self.normalize {
            x.l2_normalize(1, ops::DEFAULT_NORM_EPS)?
        } else {
            x.clone()
        };
        let dist = if self.squared {
            ops::pairwise_sq_dist(&f, &f)?
        } else {
            ops::pairwise_dist(&f, &f)?
        };
        let triplets = self.mine(&dist.to_vec_f64(), labels);
        if triplets.is_empty() {
            return connected_zero(x);
        }
        let ap: Vec<(usize, usize)> = triplets.iter().map(|&(a, p, _)| (a, p)).collect();
        let an: Vec<(usize, usize)> = triplets.iter().map(|&(a, _, n)| (a, n)).collect();
        let terms = entries(&dist, &ap)?
            .sub(&entries(&dist, &an)?)?
            .add_scalar(self.alpha)?
            .relu()?;
        match self.reduction {
            Reduction::Sum => terms.sum_all(),
            Reduction::Mean => terms.mean_all(),
            Reduction::AvgNonZero => avg_nonzero(&terms),
        }
    }

    /// The kept triplets (a, p, n), from the distance values of a B×B matrix.
    pub fn mine(&self, dist: &[f64], labels: &[usize]) -> Vec<(usize, usize, usize)> {
        let b = labels.len();
        let d = |i: usize, j: usize| dist[i * b + j];
        let positives = |a: usize| (0..b).filter(move |&p| p != a && labels[p] == labels[a]);
        let negatives = |a: usize| (0..b).filter(move |&n| labels[n] != labels[a]);
        let mut kept = Vec::new();
        match self.mining {
            Mining::All | Mining::SemiHard => {
                for a in 0..b {
                    for p in positives(a) {
                        for n in negatives(a) {
                            let gap = d(a, n) - d(a, p);
                            if self.mining == Mining::All || (gap > 0.0 && gap <= self.alpha) {
                                kept.push((a, p, n));
                            }
                        }
                    }
                }
            }
            Mining::BatchHard => {
                for a in 0..b {
                    let hardest_p = positives(a).fold(None, |best: Option<usize>, p| match best {
                        Some(q) if d(a, q) >= d(a, p) => Some(q),
                        _ => Some(p),
                    });
                    let hardest_n = negatives(a).fold(None, |best: Option<usize>, n| match best {
                        Some(q) if d(a, q) <= d(a, n) => Some(q),
                        _ => Some(n),
                    });
                    if let (Some(p), Some(n)) = (hardest_p, hardest_n) {
                        kept.push((a, p, n));
                    }
                }
            }
            Mining::SemiHardPerPair { fallback } => {
                for a in 0..b {
                    for p in positives(a) {
                        let further = negatives(a).filter(|&n| d(a, n) > d(a, p)).fold(
                            None,
                            |best: Option<usize>, n| match best {
                                Some(q) if d(a, q) <= d(a, n) => Some(q),
                                _ => Some(n),
                            },
                        );
                        let chosen = further.or_else(|| {
                            if !fallback {
                                return None;
                            }
                            negatives(a).fold(None, |best: Option<usize>, n| match best {
                                Some(q) if d(a, q) >= d(a, n) => Some(q),
                                _ => Some(n),
                            })
                        });
                        if let Some(n) = chosen {
                            kept.push((a, p, n));
                        }
                    }
                }
            }
        }
        kept
    }
}
