//! The NCCL backend (feature `nccl`): NVIDIA's collectives over NVLink / InfiniBand / PCIe,
//! through cudarc, one process per GPU.
//!
//! **Status: written and compiled, never run** — the machine this was written on has no GPU.
//! What is owed on a GPU machine is listed in `mod.rs` ("NCCL").
//!
//! | trait operation | NCCL call |
//! |---|---|
//! | `all_reduce` | `ncclAllReduce` in place (ncclSum / ncclMax) |
//! | `all_gather` | `ncclAllGather` |
//! | `broadcast` | `ncclBroadcast` in place |
//! | `reduce_scatter` | `ncclReduceScatter` |
//! | `barrier` | an all-reduce of one value (NCCL has no barrier) |
//!
//! The engine's tensors live in host memory today (the CUDA storage is still to come), so every
//! call stages the host slice through a device buffer: copy in, collective on the stream, copy
//! out, synchronise. Once tensors can live on the GPU the device buffers go to NCCL as they
//! are and these copies disappear; the trait does not change.
//!
//! Start-up: every rank needs the same 128-byte `ncclUniqueId`, made by rank 0. Either another
//! group carries it ([`Nccl::init`] with MPI as the bootstrap: `mpirun -np R train
//! --distributed nccl` with the `mpi` feature also on), or a file on a shared file system does
//! ([`Nccl::from_env`]: rank 0 writes `ANGLEGRAD_NCCL_ID_FILE`, the others wait for it; rank
//! and size from `RANK`/`WORLD_SIZE`, as torchrun sets them, or OpenMPI's
//! `OMPI_COMM_WORLD_RANK`/`OMPI_COMM_WORLD_SIZE`; the GPU from `LOCAL_RANK` or
//! `OMPI_COMM_WORLD_LOCAL_RANK`).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anglegrad_engine::{Error, Result};
use cudarc::driver::{CudaContext, CudaStream, DeviceRepr, ValidAsZeroBits};
use cudarc::nccl::{Comm, Id, NcclType, ReduceOp as NcclOp};

use super::collective::{check_gather, check_root, check_scatter};
use super::{Buf, BufMut, Collective, CollectiveExt, ReduceOp};

/// One rank of an NCCL communicator, on one GPU.
pub struct Nccl {
    comm: Mutex<Comm>,
    stream: Arc<CudaStream>,
    rank: usize,
    size: usize,
}

// SAFETY: an NCCL communicator may be used from any thread, but not from two at once; every use
// goes through the mutex. The stream is Send + Sync in cudarc.
unsafe impl Send for Nccl {}
// SAFETY: as above.
unsafe impl Sync for Nccl {}

fn err(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::invalid("nccl", format!("{what}: {e:?}"))
}

/// Whether the CUDA driver and NCCL libraries can be opened (cudarc panics on first use
/// otherwise, so check before touching them).
pub fn libraries_present() -> bool {
    // SAFETY: these only try to dlopen the libraries.
    unsafe { cudarc::driver::sys::is_culib_present() && cudarc::nccl::sys::is_culib_present() }
}

impl Nccl {
    /// Joins the communicator of `bootstrap`'s ranks on GPU `device`: rank 0 makes the unique
    /// id and `bootstrap` (MPI, say) broadcasts it.
    pub fn init(bootstrap: &dyn Collective, device: usize) -> Result<Nccl> {
        let id = if bootstrap.rank() == 0 {
            Some(Self::new_id()?)
        } else {
            None
        };
        let mut words = id.map_or([0u64; 16], |id| id_to_words(id.internal()));
        bootstrap.broadcast_slice(&mut words, 0)?;
        Self::join(
            bootstrap.rank(),
            bootstrap.world_size(),
            device,
            Id::uninit(words_to_id(&words)),
        )
    }

    /// Joins the communicator described by the environment (see the module docs); the unique id
    /// travels through the file `ANGLEGRAD_NCCL_ID_FILE` (rank 0 writes it, waits up to 5 min).
    pub fn from_env() -> Result<Nccl> {
        let var = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok())
                .and_then(|v| v.parse::<usize>().ok())
        };
        let rank = var(&["RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK"])
            .ok_or_else(|| Error::invalid("nccl", "set RANK (or run under mpirun)"))?;
        let size = var(&["WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"])
            .ok_or_else(|| Error::invalid("nccl", "set WORLD_SIZE (or run under mpirun)"))?;
        let device = var(&["LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK"]).unwrap_or(0);
        let file = std::env::var("ANGLEGRAD_NCCL_ID_FILE").map_err(|_| {
            Error::invalid(
                "nccl",
                "set ANGLEGRAD_NCCL_ID_FILE to a path every rank can read (rank 0 writes the id)",
            )
        })?;
        let id = if rank == 0 {
            let id = Self::new_id()?;
            let bytes: Vec<u8> = id.internal().iter().map(|&c| c as u8).collect();
            let tmp = format!("{file}.tmp");
            std::fs::write(&tmp, &bytes)
                .and_then(|_| std::fs::rename(&tmp, &file))
                .map_err(|e| err(&format!("writing {file}"), e))?;
            id
        } else {
            Id::uninit(read_id_file(Path::new(&file), Duration::from_secs(300))?)
        };
        Self::join(rank, size, device, id)
    }

    fn new_id() -> Result<Id> {
        if !libraries_present() {
            return Err(Error::invalid(
                "nccl",
                "libcuda or libnccl cannot be opened (no GPU driver or NCCL on this machine)",
            ));
        }
        Id::new().map_err(|e| err("ncclGetUniqueId", e))
    }

    fn join(rank: usize, size: usize, device: usize, id: Id) -> Result<Nccl> {
        if !libraries_present() {
            return Err(Error::invalid(
                "nccl",
                "libcuda or libnccl cannot be opened (no GPU driver or NCCL on this machine)",
            ));
        }
        let ctx = CudaContext::new(device).map_err(|e| err("opening the GPU", e))?;
        let stream = ctx.default_stream();
        let comm = Comm::from_rank(stream.clone(), rank, size, id)
            .map_err(|e| err("ncclCommInitRank", e))?;
        Ok(Nccl {
            comm: Mutex::new(comm),
            stream,
            rank,
            size,
        })
    }

    fn op(how: ReduceOp) -> NcclOp {
        match how {
            ReduceOp::Sum => NcclOp::Sum,
            ReduceOp::Max => NcclOp::Max,
        }
    }

    /// Host slice -> device, `f` on the device buffers (the communicator locked), device -> host.
    fn staged<T: NcclType + DeviceRepr + ValidAsZeroBits + Copy>(
        &self,
        what: &str,
        send: &[T],
        recv: &mut [T],
        f: impl FnOnce(
            &Comm,
            &cudarc::driver::CudaSlice<T>,
            &mut cudarc::driver::CudaSlice<T>,
        ) -> std::result::Result<
            cudarc::nccl::result::NcclStatus,
            cudarc::nccl::result::NcclError,
        >,
    ) -> Result<()> {
        let s = &self.stream;
        let src = s.clone_htod(send).map_err(|e| err(what, e))?;
        let mut dst = s.alloc_zeros::<T>(recv.len()).map_err(|e| err(what, e))?;
        {
            let comm = self.comm.lock().unwrap_or_else(|e| e.into_inner());
            f(&comm, &src, &mut dst).map_err(|e| err(what, e))?;
        }
        s.memcpy_dtoh(&dst, recv).map_err(|e| err(what, e))?;
        s.synchronize().map_err(|e| err(what, e))
    }
}

/// The 128 id bytes as 16 words (to travel through a u64 broadcast), and back.
fn id_to_words(id: &[std::ffi::c_char; 128]) -> [u64; 16] {
    let mut words = [0u64; 16];
    for (w, chunk) in words.iter_mut().zip(id.chunks_exact(8)) {
        let bytes: Vec<u8> = chunk.iter().map(|&c| c as u8).collect();
        *w = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
    }
    words
}

fn words_to_id(words: &[u64; 16]) -> [std::ffi::c_char; 128] {
    let mut id = [0 as std::ffi::c_char; 128];
    for (chunk, w) in id.chunks_exact_mut(8).zip(words) {
        for (c, b) in chunk.iter_mut().zip(w.to_le_bytes()) {
            *c = b as std::ffi::c_char;
        }
    }
    id
}

fn read_id_file(path: &Path, timeout: Duration) -> Result<[std::ffi::c_char; 128]> {
    let started = Instant::now();
    loop {
        if let Ok(bytes) = std::fs::read(path) {
            if bytes.len() == 128 {
                let mut id = [0 as std::ffi::c_char; 128];
                for (c, b) in id.iter_mut().zip(bytes) {
                    *c = b as std::ffi::c_char;
                }
                return Ok(id);
            }
        }
        if started.elapsed() > timeout {
            return Err(Error::invalid(
                "nccl",
                format!(
                    "{}: no 128-byte NCCL id from rank 0 after {timeout:?}",
                    path.display()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs one staged collective for whichever element type the buffers hold.
macro_rules! typed {
    ($self:ident, $what:expr, $send:expr, $recv:expr, |$c:ident, $s:ident, $r:ident| $call:expr) => {
        match ($send, $recv) {
            (Buf::F32(a), BufMut::F32(b)) => $self.staged($what, a, b, |$c, $s, $r| $call),
            (Buf::F64(a), BufMut::F64(b)) => $self.staged($what, a, b, |$c, $s, $r| $call),
            (Buf::U64(a), BufMut::U64(b)) => $self.staged($what, a, b, |$c, $s, $r| $call),
            (a, b) => Err(Error::invalid(
                $what,
                format!(
                    "send buffer is {}, receive buffer is {}",
                    a.type_name(),
                    b.type_name()
                ),
            )),
        }
    };
}

impl Collective for Nccl {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.size
    }

    fn backend(&self) -> &'static str {
        "nccl"
    }

    fn all_reduce(&self, buf: BufMut<'_>, how: ReduceOp) -> Result<()> {
        let op = Self::op(how);
        match buf {
            BufMut::F32(b) => {
                let copy = b.to_vec();
                self.staged("all_reduce", &copy, b, |c, s, r| c.all_reduce(s, r, &op))
            }
            BufMut::F64(b) => {
                let copy = b.to_vec();
                self.staged("all_reduce", &copy, b, |c, s, r| c.all_reduce(s, r, &op))
            }
            BufMut::U64(b) => {
                let copy = b.to_vec();
                self.staged("all_reduce", &copy, b, |c, s, r| c.all_reduce(s, r, &op))
            }
        }
    }

    fn all_gather(&self, send: Buf<'_>, recv: BufMut<'_>) -> Result<()> {
        check_gather(self.size, &send, &recv)?;
        typed!(self, "all_gather", send, recv, |c, s, r| c.all_gather(s, r))
    }

    fn broadcast(&self, buf: BufMut<'_>, root: usize) -> Result<()> {
        check_root("broadcast", root, self.size)?;
        let root = root as i32;
        match buf {
            BufMut::F32(b) => {
                let copy = b.to_vec();
                self.staged("broadcast", &copy, b, |c, s, r| {
                    c.broadcast(Some(s), r, root)
                })
            }
            BufMut::F64(b) => {
                let copy = b.to_vec();
                self.staged("broadcast", &copy, b, |c, s, r| {
                    c.broadcast(Some(s), r, root)
                })
            }
            BufMut::U64(b) => {
                let copy = b.to_vec();
                self.staged("broadcast", &copy, b, |c, s, r| {
                    c.broadcast(Some(s), r, root)
                })
            }
        }
    }

    fn reduce_scatter(&self, send: Buf<'_>, recv: BufMut<'_>, how: ReduceOp) -> Result<()> {
        check_scatter(self.size, &send, &recv)?;
        let op = Self::op(how);
        typed!(self, "reduce_scatter", send, recv, |c, s, r| c
            .reduce_scatter(s, r, &op))
    }

    fn barrier(&self) -> Result<()> {
        let mut one = [0u64];
        self.all_reduce(BufMut::U64(&mut one), ReduceOp::Sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unique_id_survives_the_u64_broadcast_encoding() {
        let mut id = [0 as std::ffi::c_char; 128];
        for (i, c) in id.iter_mut().enumerate() {
            *c = (i as u8).wrapping_mul(37) as std::ffi::c_char;
        }
        assert_eq!(words_to_id(&id_to_words(&id)), id);
    }

    /// Runs only where a GPU and NCCL are present: a one-rank communicator's collectives.
    #[test]
    fn one_rank_collectives_on_a_gpu() {
        if !libraries_present() {
            println!("skipped: no CUDA driver / NCCL on this machine");
            return;
        }
        let id = Nccl::new_id().unwrap();
        let comm = Nccl::join(0, 1, 0, id).unwrap();
        let mut v = vec![1.0f32, 2.0];
        comm.all_reduce_slice(&mut v, ReduceOp::Sum).unwrap();
        assert_eq!(v, vec![1.0, 2.0]);
        assert_eq!(comm.all_gather_vec(&[3.0f64]).unwrap(), vec![3.0]);
    }
}
