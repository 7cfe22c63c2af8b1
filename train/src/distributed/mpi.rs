//! The MPI backend (feature `mpi`): `MPI_COMM_WORLD` through rsmpi, for processes started by
//! `mpirun -np R` (OpenMPI or MPICH), on one machine or many.
//!
//! | trait operation | MPI call |
//! |---|---|
//! | `all_reduce` | `MPI_Allreduce` (MPI_SUM / MPI_MAX), from a copy of the buffer (rsmpi has no `MPI_IN_PLACE`) |
//! | `all_gather` | `MPI_Allgather` |
//! | `broadcast` | `MPI_Bcast` |
//! | `reduce_scatter` | `MPI_Reduce_scatter_block` |
//! | `barrier` | `MPI_Barrier` |
//! | `abort` | `MPI_Abort` (after an error on one rank: mpirun ends them all) |
//!
//! Threads: MPI is initialised with `MPI_THREAD_SERIALIZED` — any thread may call MPI, one at a
//! time — and every call here holds a mutex, which is exactly that contract. This is what
//! makes the handle `Send + Sync` (the sharded head calls it from its backward rule). The
//! handle owns the MPI environment: dropping the last one calls `MPI_Finalize`, and MPI can be
//! initialised only once per process.
//!
//! OpenMPI refuses to run as root unless told (`--allow-run-as-root`, or
//! `OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1`), and on a machine with fewer
//! cores than ranks needs `--oversubscribe`.

use std::sync::Mutex;

use anglegrad_engine::{Error, Result};
use mpi::collective::{CommunicatorCollectives, Root, SystemOperation};
use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::Threading;

use super::collective::{check_gather, check_root, check_scatter};
use super::{Buf, BufMut, Collective, ReduceOp};

/// `MPI_COMM_WORLD` and the MPI environment it lives in.
pub struct Mpi {
    world: Mutex<SimpleCommunicator>,
    rank: usize,
    size: usize,
    // Dropped after `world`: MPI_Finalize runs last.
    _universe: Universe,
}

// SAFETY: MPI is initialised with MPI_THREAD_SERIALIZED (checked in `Mpi::init`) and every use
// of the communicator goes through the mutex, so no two threads call MPI at the same time —
// the contract of MPI_THREAD_SERIALIZED. The communicator handle itself is a plain value that
// any thread may pass to MPI.
unsafe impl Send for Mpi {}
// SAFETY: as above; `&Mpi` only reaches MPI through the mutex.
unsafe impl Sync for Mpi {}

impl Mpi {
    /// Initialises MPI (once per process) and returns `MPI_COMM_WORLD`.
    pub fn init() -> Result<Mpi> {
        let Some((universe, threading)) = mpi::initialize_with_threading(Threading::Serialized)
        else {
            return Err(Error::invalid(
                "mpi",
                "MPI is already initialised in this process (it can be only once)",
            ));
        };
        if threading < Threading::Serialized {
            return Err(Error::invalid(
                "mpi",
                format!("the MPI library offers only {threading:?} threading, not Serialized"),
            ));
        }
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        Ok(Mpi {
            world: Mutex::new(world),
            rank,
            size,
            _universe: universe,
        })
    }

    fn with_world<T>(&self, f: impl FnOnce(&SimpleCommunicator) -> T) -> T {
        let world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        f(&world)
    }
}

fn op(op: ReduceOp) -> SystemOperation {
    match op {
        ReduceOp::Sum => SystemOperation::sum(),
        ReduceOp::Max => SystemOperation::max(),
    }
}

fn mismatch(op: &'static str, a: &str, b: &str) -> Error {
    Error::invalid(op, format!("send buffer is {a}, receive buffer is {b}"))
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.size
    }

    fn backend(&self) -> &'static str {
        "mpi"
    }

    fn all_reduce(&self, buf: BufMut<'_>, how: ReduceOp) -> Result<()> {
        self.with_world(|w| match buf {
            BufMut::F32(b) => w.all_reduce_into(&b.to_vec()[..], b, op(how)),
            BufMut::F64(b) => w.all_reduce_into(&b.to_vec()[..], b, op(how)),
            BufMut::U64(b) => w.all_reduce_into(&b.to_vec()[..], b, op(how)),
        });
        Ok(())
    }

    fn all_gather(&self, send: Buf<'_>, recv: BufMut<'_>) -> Result<()> {
        check_gather(self.size, &send, &recv)?;
        self.with_world(|w| match (send, recv) {
            (Buf::F32(s), BufMut::F32(r)) => {
                w.all_gather_into(s, r);
                Ok(())
            }
            (Buf::F64(s), BufMut::F64(r)) => {
                w.all_gather_into(s, r);
                Ok(())
            }
            (Buf::U64(s), BufMut::U64(r)) => {
                w.all_gather_into(s, r);
                Ok(())
            }
            (s, r) => Err(mismatch("all_gather", s.type_name(), r.type_name())),
        })
    }

    fn broadcast(&self, buf: BufMut<'_>, root: usize) -> Result<()> {
        check_root("broadcast", root, self.size)?;
        self.with_world(|w| {
            let root = w.process_at_rank(root as i32);
            match buf {
                BufMut::F32(b) => root.broadcast_into(b),
                BufMut::F64(b) => root.broadcast_into(b),
                BufMut::U64(b) => root.broadcast_into(b),
            }
        });
        Ok(())
    }

    fn reduce_scatter(&self, send: Buf<'_>, recv: BufMut<'_>, how: ReduceOp) -> Result<()> {
        check_scatter(self.size, &send, &recv)?;
        self.with_world(|w| match (send, recv) {
            (Buf::F32(s), BufMut::F32(r)) => {
                w.reduce_scatter_block_into(s, r, op(how));
                Ok(())
            }
            (Buf::F64(s), BufMut::F64(r)) => {
                w.reduce_scatter_block_into(s, r, op(how));
                Ok(())
            }
            (Buf::U64(s), BufMut::U64(r)) => {
                w.reduce_scatter_block_into(s, r, op(how));
                Ok(())
            }
            (s, r) => Err(mismatch("reduce_scatter", s.type_name(), r.type_name())),
        })
    }

    fn barrier(&self) -> Result<()> {
        self.with_world(|w| w.barrier());
        Ok(())
    }

    /// `MPI_Abort` on the world: mpirun ends every rank with `code`.
    fn abort(&self, code: i32) {
        self.with_world(|w| w.abort(code))
    }
}
