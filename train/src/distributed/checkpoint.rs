//! Checkpoints of a sharded head: the file always holds the *whole* [C, D] class matrix (and
//! its whole optimiser buffers), never a rank's block, so that it reads like a single-process
//! checkpoint (`examples/eval.rs`, PyTorch) and a run can resume on any number of ranks.
//!
//! Saving: every rank calls [`gather_sharded`] (a collective) on its checkpoint, which swaps the
//! blocks for the gathered wholes; rank 0 writes the file. Resuming: every rank loads the file
//! and calls [`shard_checkpoint`], which cuts its block out of the wholes by the *current*
//! rank count — a run saved with 4 ranks resumes on 2, or on 1, unchanged.

use anglegrad_engine::{Error, Result, Tensor};

use super::shard::gather_rows;
use super::{ClassShard, Collective};
use crate::checkpoint::Checkpoint;

/// Applies `f` to each sharded tensor of `ck`: the parameters named in `names` and every
/// optimiser buffer of those parameters (momentum, Adam moments).
fn for_each_sharded(
    ck: &mut Checkpoint,
    names: &[&str],
    mut f: impl FnMut(&str, &Tensor) -> Result<Tensor>,
) -> Result<()> {
    for &name in names {
        let t = ck.tensors.get(name).ok_or_else(|| {
            Error::invalid(
                "sharded checkpoint",
                format!("the checkpoint has no tensor {name:?}"),
            )
        })?;
        let new = f(name, t)?;
        ck.tensors.insert(name.to_string(), new);
        if let Some((_, state)) = ck.optimizer.as_mut() {
            if let Some(ps) = state.params.get_mut(name) {
                for (slot, buf) in ps.buffers.iter_mut() {
                    *buf = f(&format!("optim.{name}.{slot}"), buf)?;
                }
            }
        }
    }
    Ok(())
}

/// Replaces this rank's blocks [C_r, …] of the sharded parameters `names` (and of their
/// optimiser buffers) in `ck` by the whole [C, …] matrices. Every rank must call it.
pub fn gather_sharded(
    ck: &mut Checkpoint,
    names: &[&str],
    shard: &ClassShard,
    comm: &dyn Collective,
) -> Result<()> {
    for_each_sharded(ck, names, |_, block| gather_rows(block, shard, comm))
}

/// Replaces the whole [C, …] matrices of the sharded parameters `names` (and of their optimiser
/// buffers) in `ck` by this rank's blocks: for resuming on any number of ranks.
pub fn shard_checkpoint(ck: &mut Checkpoint, names: &[&str], shard: &ClassShard) -> Result<()> {
    for_each_sharded(ck, names, |name, whole| {
        shard.slice_rows(whole).map_err(|e| {
            Error::invalid(
                "sharded checkpoint",
                format!("{name}: {e} (was it saved for {} classes?)", shard.classes),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::Loopback;
    use crate::optim::{OptimState, ParamState};

    fn whole_checkpoint() -> Checkpoint {
        let w = Tensor::from_vec((0..10 * 3).map(|v| v as f32).collect(), [10, 3]).unwrap();
        let m = Tensor::from_vec((0..10 * 3).map(|v| -(v as f32)).collect(), [10, 3]).unwrap();
        let mut ck = Checkpoint::new(7);
        ck.tensors.insert("head.weight".into(), w);
        ck.tensors.insert(
            "fc.bias".into(),
            Tensor::zeros([3], anglegrad_engine::DType::F32).unwrap(),
        );
        let mut state = OptimState::default();
        let mut ps = ParamState {
            step: 7,
            ..ParamState::default()
        };
        ps.buffers.insert("momentum_buffer".into(), m);
        state.params.insert("head.weight".into(), ps);
        ck.optimizer = Some(("sgd".into(), state));
        ck
    }

    #[test]
    fn shard_then_gather_is_the_identity_and_reshards_to_any_rank_count() {
        let whole = whole_checkpoint();
        // Save from 3 ranks …
        let saved = Loopback::run(3, |comm| {
            let shard = ClassShard::of(10, &comm).unwrap();
            let mut ck = whole.clone();
            shard_checkpoint(&mut ck, &["head.weight"], &shard).unwrap();
            assert_eq!(ck.tensors["head.weight"].dims(), &[shard.len(), 3]);
            gather_sharded(&mut ck, &["head.weight"], &shard, &comm).unwrap();
            ck
        });
        for ck in &saved {
            assert_eq!(
                ck.tensors["head.weight"].to_vec_f64(),
                whole.tensors["head.weight"].to_vec_f64()
            );
            let m =
                &ck.optimizer.as_ref().unwrap().1.params["head.weight"].buffers["momentum_buffer"];
            assert_eq!(m.dims(), &[10, 3]);
            assert_eq!(m.to_vec_f64()[29], -29.0);
        }
        // … resume on 2: rank 1 holds classes 5..10.
        let shard = ClassShard::new(10, 1, 2).unwrap();
        let mut ck = saved[0].clone();
        shard_checkpoint(&mut ck, &["head.weight"], &shard).unwrap();
        assert_eq!(ck.tensors["head.weight"].to_vec_f64()[0], 15.0);
        // A head of another size is an error naming the tensor.
        let wrong = ClassShard::new(12, 0, 2).unwrap();
        let err = shard_checkpoint(&mut saved[0].clone(), &["head.weight"], &wrong).unwrap_err();
        assert!(err.to_string().contains("head.weight"), "{err}");
    }
}
