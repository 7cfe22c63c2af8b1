//! Range loss (Zhang et al., ICCV 2017): long-tailed training data, LOSSES.md §10 and §16.
//!
//! Shape legend: x [B, D] raw features, labels [B]; identities q of the batch with samples
//! X_q (n_q of them) and batch centres x̄_q = mean(X_q).
//!
//!   L_intra = Σ_q k' / Σ_{j≤k'} 1/D_j     the harmonic mean of the k' = min(k, #pairs) largest
//!                                          distances inside identity q ("its range")
//!   L_inter = [m − min_{q≠r} D(x̄_q, x̄_r)]_+
//!   L_R = α L_intra + β L_inter
//!
//! Why: with a long tail, most identities have few images, and softmax pulls the rare ones
//! weakly. Range loss shrinks the largest intra-class distances (the harmonic mean is
//! dominated by the largest) and pushes apart the two closest class centres.
//!
//! D is squared Euclidean (`squared`, the paper and the Caffe port) or Euclidean (the PyTorch
//! port) for both terms, from the exact-zero distances of §0; 1/D uses max(D, 1e-12). Top-k
//! and the closest pair are selections: the gradient reaches only the selected pairs (and,
//! through the means, every sample of the two closest identities). An identity with one
//! sample has no pair (no intra term) but its centre still counts; a batch of one identity has
//! no inter term. Defaults are the Caffe port's literals as they evaluate: k = 2,
//! α = 1e-4, β = 1e-3, m = 2e4, squared.

use anglegrad_engine::{Error, Result, Tensor};
use anglegrad_ops::{self as ops, TensorOps};

use crate::check;
use crate::pairs::{connected_zero, entries};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub k: usize,
    pub alpha: f64,
    pub beta: f64,
    pub m: f64,
    pub squared: bool,
}

impl Default for Range {
    fn default() -> Self {
        Range {
            k: 2,
            alpha: 1e-4,
            beta: 1e-3,
            m: 2e4,
            squared: true,
        }
    }
}

/// Floor of a distance before 1/D.
const MIN_DISTANCE: f64 = 1e-12;

impl Range {
    pub fn loss(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        let (b, _) = check::embeddings("range", x)?;
        check::labels("range", labels, b, None)?;
        if self.k == 0 {
            return Err(Error::invalid("range", "k must be >= 1"));
        }
        let distance = |a: &Tensor| {
            if self.squared {
                ops::pairwise_sq_dist(a, a)
            } else {
                ops::pairwise_dist(a, a)
            }
        };
        // Identities in order of first appearance, and each sample's identity index.
        let mut ids: Vec<usize> = Vec::new();
        let segment: Vec<usize> = labels
            .iter()
            .map(|y| {
                ids.iter().position(|q| q == y).unwrap_or_else(|| {
                    ids.push(*y);
                    ids.len() - 1
                })
            })
            .collect();
        let d = distance(x)?;
        let values = d.to_vec_f64();
        let mut total = connected_zero(x)?;
        // Intra-class: harmonic mean of the k' largest pair distances of each identity.
        for q in 0..ids.len() {
            let members: Vec<usize> = (0..b).filter(|&i| segment[i] == q).collect();
            let mut pairs: Vec<(usize, usize)> = Vec::new();
            for (u, &i) in members.iter().enumerate() {
                for &j in &members[u + 1..] {
                    pairs.push((i, j));
                }
            }
            if pairs.is_empty() {
                continue;
            }
            // Largest first; ties keep pair order (stable sort).
            pairs.sort_by(|p, r| values[r.0 * b + r.1].total_cmp(&values[p.0 * b + p.1]));
            let k = self.k.min(pairs.len());
            let top = entries(&d, &pairs[..k])?.clamp(MIN_DISTANCE, f64::INFINITY)?;
            let harmonic = top.powf(-1.0)?.sum_all()?.powf(-1.0)?.scale(k as f64)?;
            total = total.add(&harmonic.scale(self.alpha)?)?;
        }
        // Inter-class: hinge on the closest pair of batch centres.
        if ids.len() >= 2 {
            let centres = ops::segment_mean(x, &segment, ids.len())?;
            let dc = distance(&centres)?;
            let dv = dc.to_vec_f64();
            let q = ids.len();
            let mut closest = (0, 1);
            for i in 0..q {
                for j in i + 1..q {
                    if dv[i * q + j] < dv[closest.0 * q + closest.1] {
                        closest = (i, j);
                    }
                }
            }
            let nearest = entries(&dc, &[closest])?;
            let hinge = nearest.neg()?.add_scalar(self.m)?.relu()?.sum_all()?;
            total = total.add(&hinge.scale(self.beta)?)?;
        }
        Ok(total)
    }
}
