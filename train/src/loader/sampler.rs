//! Which samples go into each batch.
//!
//! - [`ShuffledEpochs`]: every sample once per epoch, in a fresh seeded order (the classifier
//!   losses: softmax, ArcFace, CosFace, …).
//! - [`PkSampler`]: P identities × K samples per batch, the contract of the pair, triplet and
//!   range losses (FaceNet: "around 40 faces per identity"; range loss: identity-balanced
//!   batches), so every anchor has positives in the batch.
//!
//! Both are deterministic functions of (seed, epoch): the same run gives the same batches, and
//! a resumed run can rebuild epoch e without replaying the ones before it.

use anglegrad_engine::Rng;

use crate::error::{Error, Result};

/// Shuffled epochs of fixed-size batches (the last, short batch is dropped so every step sees
/// the same batch size, as `drop_last=True` in PyTorch).
#[derive(Clone, Debug)]
pub struct ShuffledEpochs {
    pub samples: usize,
    pub batch: usize,
    pub seed: u64,
}

impl ShuffledEpochs {
    pub fn new(samples: usize, batch: usize, seed: u64) -> Result<Self> {
        if batch == 0 || samples < batch {
            return Err(Error::Invalid(format!(
                "batch size {batch} needs 1..={samples} samples"
            )));
        }
        Ok(ShuffledEpochs {
            samples,
            batch,
            seed,
        })
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.samples / self.batch
    }

    /// The batches of epoch `e`.
    pub fn epoch(&self, e: usize) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.samples).collect();
        Rng::keyed(self.seed, 0x5A4D_504C, e as u64, 0).shuffle(&mut order);
        order.chunks_exact(self.batch).map(|c| c.to_vec()).collect()
    }
}

/// P identities × K samples per batch. Identities with fewer than two samples cannot form a
/// positive pair and are never drawn. An identity with fewer than K samples is drawn with
/// replacement (as pytorch-metric-learning's `MPerClassSampler`); others without.
#[derive(Clone, Debug)]
pub struct PkSampler {
    /// The sample indices of each usable identity.
    by_identity: Vec<Vec<usize>>,
    pub p: usize,
    pub k: usize,
    pub seed: u64,
    samples: usize,
}

impl PkSampler {
    pub fn new(labels: &[usize], p: usize, k: usize, seed: u64) -> Result<Self> {
        let classes = labels.iter().max().map_or(0, |m| m + 1);
        let mut groups = vec![Vec::new(); classes];
        for (i, &y) in labels.iter().enumerate() {
            groups[y].push(i);
        }
        let by_identity: Vec<Vec<usize>> = groups.into_iter().filter(|g| g.len() >= 2).collect();
        if p == 0 || k < 2 {
            return Err(Error::Invalid(format!(
                "P x K sampling needs P >= 1 and K >= 2, got {p} x {k}"
            )));
        }
        if by_identity.len() < p {
            return Err(Error::Invalid(format!(
                "P x K sampling needs {p} identities with >= 2 samples, the data has {}",
                by_identity.len()
            )));
        }
        Ok(PkSampler {
            by_identity,
            p,
            k,
            seed,
            samples: labels.len(),
        })
    }

    /// Batches per epoch: as many P·K batches as the data has samples.
    pub fn batches_per_epoch(&self) -> usize {
        (self.samples / (self.p * self.k)).max(1)
    }

    /// The batches of epoch `e`: identities visited in a shuffled cycle, P per batch.
    pub fn epoch(&self, e: usize) -> Vec<Vec<usize>> {
        let mut rng = Rng::keyed(self.seed, 0x504B_5341, e as u64, 0);
        let mut order: Vec<usize> = (0..self.by_identity.len()).collect();
        let mut next = order.len(); // forces a shuffle on first use
        (0..self.batches_per_epoch())
            .map(|_| {
                let mut batch = Vec::with_capacity(self.p * self.k);
                let mut chosen: Vec<usize> = Vec::with_capacity(self.p);
                for _ in 0..self.p {
                    if next == order.len() {
                        // A new cycle; identities already in this batch go last, so the P
                        // identities of a batch are always distinct.
                        rng.shuffle(&mut order);
                        order.sort_by_key(|id| chosen.contains(id));
                        next = 0;
                    }
                    chosen.push(order[next]);
                    let members = &self.by_identity[order[next]];
                    next += 1;
                    if members.len() >= self.k {
                        let mut pool = members.clone();
                        rng.shuffle(&mut pool);
                        batch.extend_from_slice(&pool[..self.k]);
                    } else {
                        batch.extend((0..self.k).map(|_| members[rng.below(members.len())]));
                    }
                }
                batch
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffled_epochs_cover_every_sample_once() {
        let s = ShuffledEpochs::new(10, 3, 1).unwrap();
        let e0 = s.epoch(0);
        assert_eq!(e0.len(), 3);
        let mut seen: Vec<usize> = e0.concat();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 9);
        assert_ne!(s.epoch(0), s.epoch(1));
        assert_eq!(s.epoch(1), s.epoch(1));
        assert!(ShuffledEpochs::new(2, 3, 0).is_err());
    }

    #[test]
    fn pk_batches_have_p_identities_of_k_samples() {
        // Identity 3 has a single sample and must never be drawn.
        let labels = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3];
        let s = PkSampler::new(&labels, 2, 2, 9).unwrap();
        for batch in s.epoch(0).iter().chain(s.epoch(5).iter()) {
            assert_eq!(batch.len(), 4);
            let ids: Vec<usize> = batch.iter().map(|&i| labels[i]).collect();
            assert_eq!(ids[0], ids[1]);
            assert_eq!(ids[2], ids[3]);
            assert_ne!(ids[0], ids[2]);
            assert!(!ids.contains(&3));
        }
        assert!(PkSampler::new(&labels, 4, 2, 0).is_err());
        assert!(PkSampler::new(&labels, 2, 1, 0).is_err());
    }
}
