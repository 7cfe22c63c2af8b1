//! Which rank holds which classes of a sharded head, and moving a [C, D] matrix between its
//! whole form (checkpoints) and its R row blocks (training).
//!
//! Rank r of R holds the classes [start(r), start(r+1)) with start(r) = ⌊r·C/R⌋: blocks differ
//! in size by at most one, and `owner(c)` is found by the same formula. (insightface's
//! partial_fc_v2 gives the first C mod R ranks one class more; any contiguous split works, since
//! checkpoints store the gathered matrix and a resume re-shards it.)

use anglegrad_engine::{with_float, Element, Error, Result, Tensor};

use super::{Collective, CollectiveExt, CommElement};

/// The classes of one rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassShard {
    /// C, all classes.
    pub classes: usize,
    pub rank: usize,
    pub world: usize,
    /// This rank's classes: [start, end).
    pub start: usize,
    pub end: usize,
}

impl ClassShard {
    /// Rank `rank`'s block of C classes split over `world` ranks. Needs C ≥ R (no empty block).
    pub fn new(classes: usize, rank: usize, world: usize) -> Result<ClassShard> {
        if world == 0 || rank >= world || classes < world {
            return Err(Error::invalid(
                "class shard",
                format!("cannot give rank {rank} of {world} a share of {classes} classes (need classes >= ranks)"),
            ));
        }
        Ok(ClassShard {
            classes,
            rank,
            world,
            start: Self::start_of(classes, world, rank),
            end: Self::start_of(classes, world, rank + 1),
        })
    }

    /// This process's block in `comm`'s group.
    pub fn of(classes: usize, comm: &dyn Collective) -> Result<ClassShard> {
        ClassShard::new(classes, comm.rank(), comm.world_size())
    }

    fn start_of(classes: usize, world: usize, rank: usize) -> usize {
        // u128: C·R overflows u64 only beyond 10^9 classes × 10^10 ranks, but costs nothing.
        (rank as u128 * classes as u128 / world as u128) as usize
    }

    /// Number of classes held here.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether class `c` (a global id) is held here.
    pub fn holds(&self, c: usize) -> bool {
        (self.start..self.end).contains(&c)
    }

    /// The rank holding class `c`.
    pub fn owner(&self, c: usize) -> usize {
        // start(r) ≤ c < start(r + 1) ⇔ r = ⌊((c + 1)·R − 1) / C⌋.
        (((c as u128 + 1) * self.world as u128 - 1) / self.classes as u128) as usize
    }

    /// The largest block over all ranks (the padding of [`gather_rows`]).
    pub fn max_len(&self) -> usize {
        self.classes.div_ceil(self.world)
    }

    /// Rows [start, end) of a whole [C, …] matrix: this rank's block.
    pub fn slice_rows(&self, whole: &Tensor) -> Result<Tensor> {
        let dims = whole.dims();
        if dims.first() != Some(&self.classes) {
            return Err(Error::invalid(
                "class shard",
                format!(
                    "a matrix of shape {} is not a {}-class head",
                    whole.shape(),
                    self.classes
                ),
            ));
        }
        let row: usize = dims[1..].iter().product();
        let mut shape = dims.to_vec();
        shape[0] = self.len();
        with_float!(whole.dtype(), "class shard", |T| {
            let v = &whole.as_slice::<T>()?[self.start * row..self.end * row];
            Tensor::from_vec(v.to_vec(), shape)
        })
    }
}

/// All ranks' blocks [C_r, …] put back together as the whole [C, …] matrix, on every rank.
/// Blocks are padded to the largest one so that the all-gather moves equal counts.
pub fn gather_rows(block: &Tensor, shard: &ClassShard, comm: &dyn Collective) -> Result<Tensor> {
    if block.dims().first() != Some(&shard.len()) {
        return Err(Error::invalid(
            "gather rows",
            format!(
                "rank {} holds {} classes, the block has shape {}",
                shard.rank,
                shard.len(),
                block.shape()
            ),
        ));
    }
    let row: usize = block.dims()[1..].iter().product();
    let mut shape = block.dims().to_vec();
    shape[0] = shard.classes;
    with_float!(block.dtype(), "gather rows", |T| {
        let whole = gather_padded::<T>(block.as_slice::<T>()?, row, shard, comm)?;
        Tensor::from_vec(whole, shape.clone())
    })
}

fn gather_padded<T: Element + CommElement>(
    block: &[T],
    row: usize,
    shard: &ClassShard,
    comm: &dyn Collective,
) -> Result<Vec<T>> {
    let pad = shard.max_len() * row;
    let mut mine = block.to_vec();
    mine.resize(pad, T::ZERO);
    let all = comm.all_gather_vec(&mine)?;
    let mut whole = Vec::with_capacity(shard.classes * row);
    for r in 0..shard.world {
        let other = ClassShard::new(shard.classes, r, shard.world)?;
        whole.extend_from_slice(&all[r * pad..r * pad + other.len() * row]);
    }
    Ok(whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::Loopback;

    #[test]
    fn blocks_tile_the_classes_and_owner_inverts_them() {
        for (c, r) in [(10, 3), (7, 7), (1000, 8), (5, 2), (2_000_003, 64)] {
            let mut next = 0;
            for rank in 0..r {
                let s = ClassShard::new(c, rank, r).unwrap();
                assert_eq!(s.start, next);
                assert!(s.len() == c / r || s.len() == c / r + 1);
                next = s.end;
                for class in [s.start, s.end - 1] {
                    assert_eq!(s.owner(class), rank, "C={c} R={r} class {class}");
                }
            }
            assert_eq!(next, c);
        }
        assert!(ClassShard::new(2, 0, 3).is_err());
        assert!(ClassShard::new(9, 3, 3).is_err());
    }

    #[test]
    fn gathering_the_blocks_gives_back_the_matrix() {
        let whole = Tensor::from_vec((0..7 * 2).map(|v| v as f64).collect(), [7, 2]).unwrap();
        let out = Loopback::run(3, |comm| {
            let shard = ClassShard::of(7, &comm).unwrap();
            let block = shard.slice_rows(&whole).unwrap();
            gather_rows(&block, &shard, &comm).unwrap().to_vec_f64()
        });
        for got in out {
            assert_eq!(got, whole.to_vec_f64());
        }
    }
}
