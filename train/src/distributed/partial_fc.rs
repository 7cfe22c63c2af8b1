//! Partial FC: each step, each rank computes logits for only a sample of its classes — every
//! class that appears in the (global) batch, plus random others — as insightface's
//! `recognition/arcface_torch/partial_fc_v2.py` (`PartialFC_V2.sample`) defines it:
//!
//! ```text
//! num_sample = int(sample_rate · num_local)
//! positive   = unique(local labels of the batch), sorted
//! if num_sample ≥ |positive|:
//!     perm = rand(num_local); perm[positive] = 2.0          (positives always win)
//!     index = sort(topk(perm, num_sample).indices)
//! else:
//!     index = positive                                       (more positives than the budget)
//! labels[owned] = searchsorted(index, labels[owned])         (remap into the sample)
//! ```
//!
//! So the negatives kept are a uniform random subset of the local non-positive classes, of
//! size ⌊rate·C_local⌋ − |positive|. The rows not sampled get a zero gradient for this step
//! (weight decay and momentum still move them, as for v2's full-size `weight` parameter).
//!
//! With rate = 1 every class is kept and the head is the exact softmax over all C classes.

use anglegrad_engine::{Error, Result, Rng};

/// The local classes (offsets into the rank's block, ascending) that take part in this step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassSample {
    pub index: Vec<usize>,
}

impl ClassSample {
    /// Position of local class `c` in the sample (`searchsorted`); `None` if not sampled.
    pub fn position(&self, c: usize) -> Option<usize> {
        self.index.binary_search(&c).ok()
    }
}

/// Checks a sample rate: (0, 1].
pub fn check_rate(rate: f64) -> Result<()> {
    if !(rate > 0.0 && rate <= 1.0) {
        return Err(Error::invalid(
            "partial fc",
            format!("sample rate must be in (0, 1], got {rate}"),
        ));
    }
    Ok(())
}

/// The classes a rank holding `num_local` classes keeps this step, given the local offsets of
/// the batch's labels that fall in its block (`positives`, any order, repeats allowed).
/// `rate` = 1 keeps all classes (no randomness used).
pub fn sample_classes(
    num_local: usize,
    positives: &[usize],
    rate: f64,
    rng: &mut Rng,
) -> Result<ClassSample> {
    check_rate(rate)?;
    if let Some(&bad) = positives.iter().find(|&&c| c >= num_local) {
        return Err(Error::IndexOutOfRange {
            op: "partial fc",
            index: bad,
            size: num_local,
        });
    }
    if rate >= 1.0 {
        return Ok(ClassSample {
            index: (0..num_local).collect(),
        });
    }
    let mut positive = positives.to_vec();
    positive.sort_unstable();
    positive.dedup();
    let num_sample = (rate * num_local as f64) as usize;
    if num_sample < positive.len() {
        return Ok(ClassSample { index: positive });
    }
    // perm = rand(num_local) in [0, 1); perm[positive] = 2; the top num_sample.
    let mut perm: Vec<(f64, usize)> = (0..num_local).map(|c| (rng.unit(), c)).collect();
    for &c in &positive {
        perm[c].0 = 2.0;
    }
    if num_sample < num_local {
        perm.select_nth_unstable_by(num_sample, |a, b| b.0.total_cmp(&a.0));
    }
    let mut index: Vec<usize> = perm[..num_sample].iter().map(|&(_, c)| c).collect();
    index.sort_unstable();
    Ok(ClassSample { index })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_positive_and_the_budget() {
        let mut rng = Rng::new(3);
        let s = sample_classes(100, &[5, 99, 5, 42], 0.1, &mut rng).unwrap();
        assert_eq!(s.index.len(), 10);
        assert!(s.index.windows(2).all(|w| w[0] < w[1]));
        for c in [5, 42, 99] {
            assert!(s.position(c).is_some());
        }
        // Different steps draw different negatives.
        let t = sample_classes(100, &[5, 99, 42], 0.1, &mut rng).unwrap();
        assert_ne!(s, t);
    }

    #[test]
    fn more_positives_than_the_budget_keeps_just_the_positives() {
        let s = sample_classes(20, &[3, 1, 2, 7], 0.1, &mut Rng::new(0)).unwrap();
        assert_eq!(s.index, vec![1, 2, 3, 7]);
        assert_eq!(s.position(7), Some(3));
    }

    #[test]
    fn rate_one_is_every_class_and_bad_rates_are_errors() {
        let s = sample_classes(4, &[2], 1.0, &mut Rng::new(0)).unwrap();
        assert_eq!(s.index, vec![0, 1, 2, 3]);
        assert!(sample_classes(4, &[], 0.0, &mut Rng::new(0)).is_err());
        assert!(sample_classes(4, &[], 1.5, &mut Rng::new(0)).is_err());
        assert!(sample_classes(4, &[4], 0.5, &mut Rng::new(0)).is_err());
    }

    #[test]
    fn negatives_are_uniform() {
        // 10 classes, class 0 positive, 5 kept: each of the 9 others is kept 4/9 of the time.
        let mut rng = Rng::new(11);
        let mut count = [0usize; 10];
        let trials = 9000;
        for _ in 0..trials {
            for c in sample_classes(10, &[0], 0.5, &mut rng).unwrap().index {
                count[c] += 1;
            }
        }
        assert_eq!(count[0], trials);
        for &n in &count[1..] {
            let p = n as f64 / trials as f64;
            assert!((p - 4.0 / 9.0).abs() < 0.03, "{count:?}");
        }
    }
}
