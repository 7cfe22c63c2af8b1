//! Which samples each rank reads: a disjoint shard of every global batch.
//!
//! The single-process samplers ([`crate::loader::ShuffledEpochs`], [`crate::loader::PkSampler`])
//! are deterministic functions of (seed, epoch). Every rank builds the same global batches from
//! the shared seed — reshuffled every epoch exactly as the single-process run — and rank r keeps
//! block r of each: samples [r·B/R, (r+1)·B/R) of the global batch of B. So
//! - the ranks' shards of a step are disjoint and together are the single-process batch of that
//!   step: an R-process run sees the same data in the same order as the 1-process run (only
//!   batch-norm statistics, computed per rank, and the summation order differ);
//! - a P×K batch split into blocks of whole identities (B/R a multiple of K) keeps every
//!   identity's K samples on one rank, so pair and triplet losses still find their positives;
//! - no rank reads (decodes, augments) samples another rank uses.
//!
//! PyTorch's `DistributedSampler` gives rank r the indices r, r+R, r+2R, … of the epoch order
//! and then batches them; the set of samples of step t over all ranks is the same as here.

use crate::error::{Error, Result};

/// Rank r's block of every global batch of a run with R ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchShard {
    pub rank: usize,
    pub world: usize,
}

impl BatchShard {
    pub fn new(rank: usize, world: usize) -> Result<BatchShard> {
        if world == 0 || rank >= world {
            return Err(Error::Invalid(format!("rank {rank} of {world} ranks")));
        }
        Ok(BatchShard { rank, world })
    }

    /// The per-rank batch size for a global batch of `batch` (an error unless R divides it,
    /// and, for P×K batches, unless each rank gets whole identities of `k` samples).
    pub fn local_batch(&self, batch: usize, k: Option<usize>) -> Result<usize> {
        if batch % self.world != 0 || batch < self.world {
            return Err(Error::Invalid(format!(
                "a global batch of {batch} does not split over {} ranks (choose a multiple of {})",
                self.world, self.world
            )));
        }
        let local = batch / self.world;
        if let Some(k) = k.filter(|&k| k > 0 && local % k != 0) {
            return Err(Error::Invalid(format!(
                "P×K batches of {batch} over {} ranks give {local} samples per rank, not whole identities of K = {k}",
                self.world
            )));
        }
        Ok(local)
    }

    /// This rank's block of one global batch (B/R samples; the batch must split evenly).
    pub fn take<'a>(&self, batch: &'a [usize]) -> &'a [usize] {
        let local = batch.len() / self.world;
        &batch[self.rank * local..(self.rank + 1) * local]
    }

    /// This rank's blocks of an epoch's global batches.
    pub fn epoch(&self, batches: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
        batches.iter().map(|b| self.take(b).to_vec()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::{PkSampler, ShuffledEpochs};

    #[test]
    fn shards_are_disjoint_and_cover_the_single_process_batches() {
        let sampler = ShuffledEpochs::new(103, 12, 5).unwrap();
        for epoch in 0..3 {
            let global = sampler.epoch(epoch);
            let shards: Vec<Vec<Vec<usize>>> = (0..3)
                .map(|r| BatchShard::new(r, 3).unwrap().epoch(global.clone()))
                .collect();
            for (step, batch) in global.iter().enumerate() {
                let mut union: Vec<usize> = shards.iter().flat_map(|s| s[step].clone()).collect();
                assert_eq!(&union, batch, "rank order is batch order");
                union.sort();
                union.dedup();
                assert_eq!(union.len(), 12, "disjoint");
            }
        }
        // Reshuffled per epoch, identically on every rank (the shared seed).
        let a = BatchShard::new(1, 3).unwrap();
        assert_ne!(a.epoch(sampler.epoch(0)), a.epoch(sampler.epoch(1)));
        assert_eq!(a.epoch(sampler.epoch(1)), a.epoch(sampler.epoch(1)));
    }

    #[test]
    fn pk_blocks_keep_identities_whole() {
        let labels: Vec<usize> = (0..40).map(|i| i / 5).collect();
        let s = PkSampler::new(&labels, 4, 2, 1).unwrap();
        let shard = BatchShard::new(1, 2).unwrap();
        assert_eq!(shard.local_batch(8, Some(2)).unwrap(), 4);
        for b in shard.epoch(s.epoch(0)) {
            let ids: Vec<usize> = b.iter().map(|&i| labels[i]).collect();
            assert_eq!(ids[0], ids[1]);
            assert_eq!(ids[2], ids[3]);
        }
        assert!(shard.local_batch(8, Some(3)).is_err());
        assert!(shard.local_batch(9, None).is_err());
        assert!(BatchShard::new(2, 2).is_err());
    }
}
