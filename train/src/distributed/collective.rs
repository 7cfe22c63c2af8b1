//! The [`Collective`] trait: the five collective operations data-parallel and model-parallel
//! training need, over the ranks 0..R of a process group, and nothing else.
//!
//! Shape legend: R ranks; every rank calls every operation in the same order with buffers of
//! the same length (n values per rank), as MPI and NCCL require. An operation is blocking: when
//! it returns, the result is in the caller's buffer.
//!
//! | operation | before (rank r holds) | after (every rank holds) |
//! |---|---|---|
//! | `all_reduce(buf, op)` | b_r [n] | op over r of b_r [n] (sum or max) |
//! | `all_gather(send, recv)` | s_r [n] | recv [R·n] = s_0 ‖ s_1 ‖ … ‖ s_{R−1} |
//! | `broadcast(buf, root)` | b_r [n] | b_root [n] |
//! | `reduce_scatter(send, recv, op)` | s_r [R·n] | rank r: block r of (op over r of s_r), [n] |
//! | `barrier()` | — | returns once every rank has called it |
//!
//! Backends: [`super::SingleProcess`] (R = 1, every operation a copy), [`super::Loopback`]
//! (R threads of one process: the tests' fake group), `Mpi` (feature `mpi`) and `Nccl`
//! (feature `nccl`). Buffers are f32, f64 or u64 (labels, counts) slices, passed through
//! [`Buf`] / [`BufMut`] so that the trait stays object safe (`Arc<dyn Collective>`); the
//! generic [`CollectiveExt`] methods take plain slices.
//!
//! The trait is `Send + Sync` because the sharded margin head calls it from a backward rule,
//! which the engine requires to be `Send + Sync`.

use anglegrad_engine::{Error, Result};

/// How `all_reduce` and `reduce_scatter` combine the ranks' values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Max,
}

/// A read-only buffer of one of the element types the collectives move.
#[derive(Debug)]
pub enum Buf<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
    U64(&'a [u64]),
}

/// A writable buffer of one of the element types the collectives move.
#[derive(Debug)]
pub enum BufMut<'a> {
    F32(&'a mut [f32]),
    F64(&'a mut [f64]),
    U64(&'a mut [u64]),
}

impl Buf<'_> {
    pub fn len(&self) -> usize {
        match self {
            Buf::F32(s) => s.len(),
            Buf::F64(s) => s.len(),
            Buf::U64(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Buf::F32(_) => "f32",
            Buf::F64(_) => "f64",
            Buf::U64(_) => "u64",
        }
    }
}

impl BufMut<'_> {
    pub fn len(&self) -> usize {
        match self {
            BufMut::F32(s) => s.len(),
            BufMut::F64(s) => s.len(),
            BufMut::U64(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            BufMut::F32(_) => "f32",
            BufMut::F64(_) => "f64",
            BufMut::U64(_) => "u64",
        }
    }
}

/// The collective operations of a group of R processes (or threads).
pub trait Collective: Send + Sync {
    /// This participant's rank, 0..world_size.
    fn rank(&self) -> usize;

    /// The number of participants R.
    fn world_size(&self) -> usize;

    /// A short name of the backend (`single`, `loopback`, `mpi`, `nccl`), for logs.
    fn backend(&self) -> &'static str;

    /// In place: `buf` ← op over ranks of `buf`.
    fn all_reduce(&self, buf: BufMut<'_>, op: ReduceOp) -> Result<()>;

    /// `recv` [R·n] ← the ranks' `send` [n], in rank order.
    fn all_gather(&self, send: Buf<'_>, recv: BufMut<'_>) -> Result<()>;

    /// In place: `buf` ← rank `root`'s `buf`.
    fn broadcast(&self, buf: BufMut<'_>, root: usize) -> Result<()>;

    /// `recv` [n] ← block `rank` of op over ranks of `send` [R·n].
    fn reduce_scatter(&self, send: Buf<'_>, recv: BufMut<'_>, op: ReduceOp) -> Result<()>;

    /// Returns once every rank has called it.
    fn barrier(&self) -> Result<()>;

    /// Ends the group after an error on this rank, so that the other ranks do not wait forever
    /// in their next operation. Process groups (MPI) end every process (`MPI_Abort`: this call
    /// does not return); in-process groups mark the group broken, so the others' next
    /// operation fails, and return. The default, for R = 1, has no other rank to warn.
    fn abort(&self, _code: i32) {}
}

/// The element types a collective moves: how generic code turns a slice into a [`Buf`], and
/// how two values combine under a [`ReduceOp`] (used by the in-process backends).
pub trait CommElement: Copy + Default + Send + Sync + 'static {
    fn buf(s: &[Self]) -> Buf<'_>;
    fn buf_mut(s: &mut [Self]) -> BufMut<'_>;
    fn combine(self, other: Self, op: ReduceOp) -> Self;
}

macro_rules! comm_element {
    ($t:ty, $variant:ident) => {
        impl CommElement for $t {
            fn buf(s: &[Self]) -> Buf<'_> {
                Buf::$variant(s)
            }
            fn buf_mut(s: &mut [Self]) -> BufMut<'_> {
                BufMut::$variant(s)
            }
            fn combine(self, other: Self, op: ReduceOp) -> Self {
                match op {
                    ReduceOp::Sum => self + other,
                    // A NaN on any rank must stay visible: NaN wins the max.
                    #[allow(clippy::eq_op)]
                    ReduceOp::Max if self != self => self,
                    ReduceOp::Max => {
                        if other > self || other != other {
                            other
                        } else {
                            self
                        }
                    }
                }
            }
        }
    };
}

comm_element!(f32, F32);
comm_element!(f64, F64);
comm_element!(u64, U64);

/// Slice-typed forms of the trait's operations (for any `Collective`, `dyn` included).
pub trait CollectiveExt: Collective {
    /// In place: `v` ← op over ranks of `v`.
    fn all_reduce_slice<T: CommElement>(&self, v: &mut [T], op: ReduceOp) -> Result<()> {
        self.all_reduce(T::buf_mut(v), op)
    }

    /// The ranks' `v` [n], concatenated in rank order: [R·n].
    fn all_gather_vec<T: CommElement>(&self, v: &[T]) -> Result<Vec<T>> {
        let mut out = vec![T::default(); v.len() * self.world_size()];
        self.all_gather(T::buf(v), T::buf_mut(&mut out))?;
        Ok(out)
    }

    /// In place: `v` ← rank `root`'s `v`.
    fn broadcast_slice<T: CommElement>(&self, v: &mut [T], root: usize) -> Result<()> {
        self.broadcast(T::buf_mut(v), root)
    }

    /// Block `rank` [n] of op over ranks of `v` [R·n].
    fn reduce_scatter_vec<T: CommElement>(&self, v: &[T], op: ReduceOp) -> Result<Vec<T>> {
        let world = self.world_size();
        let mut out = vec![T::default(); v.len() / world.max(1)];
        self.reduce_scatter(T::buf(v), T::buf_mut(&mut out), op)?;
        Ok(out)
    }
}

impl<C: Collective + ?Sized> CollectiveExt for C {}

// ----- checks shared by the backends (a wrong length is an error, never a crash in C) -----

/// `all_gather`: recv must hold R × send, of the same element type.
pub(crate) fn check_gather(world: usize, send: &Buf<'_>, recv: &BufMut<'_>) -> Result<()> {
    same_type("all_gather", send.type_name(), recv.type_name())?;
    if recv.len() != world * send.len() {
        return Err(Error::invalid(
            "all_gather",
            format!(
                "receive buffer holds {} values, expected {world} ranks × {} = {}",
                recv.len(),
                send.len(),
                world * send.len()
            ),
        ));
    }
    Ok(())
}

/// `reduce_scatter`: send must hold R × recv, of the same element type.
pub(crate) fn check_scatter(world: usize, send: &Buf<'_>, recv: &BufMut<'_>) -> Result<()> {
    same_type("reduce_scatter", send.type_name(), recv.type_name())?;
    if send.len() != world * recv.len() {
        return Err(Error::invalid(
            "reduce_scatter",
            format!(
                "send buffer holds {} values, expected {world} ranks × {} = {}",
                send.len(),
                recv.len(),
                world * recv.len()
            ),
        ));
    }
    Ok(())
}

pub(crate) fn check_root(op: &'static str, root: usize, world: usize) -> Result<()> {
    if root >= world {
        return Err(Error::IndexOutOfRange {
            op,
            index: root,
            size: world,
        });
    }
    Ok(())
}

fn same_type(op: &'static str, a: &str, b: &str) -> Result<()> {
    if a != b {
        return Err(Error::invalid(
            op,
            format!("send buffer is {a}, receive buffer is {b}"),
        ));
    }
    Ok(())
}

/// Copies a [`Buf`] into a [`BufMut`] of the same type and length (the one-rank case of
/// every operation).
pub(crate) fn copy_into(op: &'static str, src: Buf<'_>, dst: BufMut<'_>) -> Result<()> {
    match (src, dst) {
        (Buf::F32(s), BufMut::F32(d)) if s.len() == d.len() => d.copy_from_slice(s),
        (Buf::F64(s), BufMut::F64(d)) if s.len() == d.len() => d.copy_from_slice(s),
        (Buf::U64(s), BufMut::U64(d)) if s.len() == d.len() => d.copy_from_slice(s),
        (s, d) => {
            return Err(Error::invalid(
                op,
                format!(
                    "cannot copy {} {} values into {} {} values",
                    s.len(),
                    s.type_name(),
                    d.len(),
                    d.type_name()
                ),
            ))
        }
    }
    Ok(())
}
