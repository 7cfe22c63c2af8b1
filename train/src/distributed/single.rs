//! The one-process group (R = 1): every collective is the identity (a copy where the output is
//! a separate buffer). The training loop runs the same code with it as with MPI or NCCL, so
//! the single-process run is the distributed run with R = 1, not a separate path.

use anglegrad_engine::Result;

use super::collective::{check_gather, check_root, check_scatter, copy_into};
use super::{Buf, BufMut, Collective, ReduceOp};

/// The group of one process.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Collective for SingleProcess {
    fn rank(&self) -> usize {
        0
    }

    fn world_size(&self) -> usize {
        1
    }

    fn backend(&self) -> &'static str {
        "single"
    }

    fn all_reduce(&self, _buf: BufMut<'_>, _op: ReduceOp) -> Result<()> {
        Ok(())
    }

    fn all_gather(&self, send: Buf<'_>, recv: BufMut<'_>) -> Result<()> {
        check_gather(1, &send, &recv)?;
        copy_into("all_gather", send, recv)
    }

    fn broadcast(&self, _buf: BufMut<'_>, root: usize) -> Result<()> {
        check_root("broadcast", root, 1)
    }

    fn reduce_scatter(&self, send: Buf<'_>, recv: BufMut<'_>, _op: ReduceOp) -> Result<()> {
        check_scatter(1, &send, &recv)?;
        copy_into("reduce_scatter", send, recv)
    }

    fn barrier(&self) -> Result<()> {
        Ok(())
    }
}
