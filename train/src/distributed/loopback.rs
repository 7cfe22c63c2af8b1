//! An in-process group: R threads of one process play the R ranks, exchanging values through
//! shared memory. It is the "fake" group the tests use to check the distributed math (the
//! sharded margin head, gradient averaging, checkpoint gathering) with plain `cargo test`, no
//! MPI installed.
//!
//! Every operation is one *exchange*: each rank puts its contribution in its slot, waits for
//! all R, copies all R contributions, and waits again (so no slot is overwritten by the next
//! operation before everyone has read it). Each rank then computes the result itself, always
//! combining the contributions in rank order 0, 1, …, R−1, so all ranks get bit-identical
//! results — as MPI and NCCL guarantee for their reductions.
//!
//! A rank that drops its handle (its thread ended or panicked) breaks the group: the others get
//! an error from their next wait instead of hanging.
//!
//! ```ignore
//! let results = Loopback::run(2, |comm| {
//!     let mut v = vec![comm.rank() as f64 + 1.0];
//!     comm.all_reduce_slice(&mut v, ReduceOp::Sum).unwrap();
//!     v[0]
//! });
//! assert_eq!(results, vec![3.0, 3.0]);
//! ```

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use anglegrad_engine::{Error, Result};

use super::collective::{check_gather, check_root, check_scatter, CommElement};
use super::{Buf, BufMut, Collective, ReduceOp};

/// One rank's contribution to an exchange.
#[derive(Clone, Debug)]
enum Owned {
    F32(Vec<f32>),
    F64(Vec<f64>),
    U64(Vec<u64>),
}

impl Owned {
    fn from_buf(b: &Buf<'_>) -> Owned {
        match b {
            Buf::F32(s) => Owned::F32(s.to_vec()),
            Buf::F64(s) => Owned::F64(s.to_vec()),
            Buf::U64(s) => Owned::U64(s.to_vec()),
        }
    }

    fn from_buf_mut(b: &BufMut<'_>) -> Owned {
        match b {
            BufMut::F32(s) => Owned::F32(s.to_vec()),
            BufMut::F64(s) => Owned::F64(s.to_vec()),
            BufMut::U64(s) => Owned::U64(s.to_vec()),
        }
    }
}

#[derive(Default)]
struct State {
    slots: Vec<Option<Owned>>,
    arrived: usize,
    generation: u64,
    broken: bool,
}

struct Group {
    world: usize,
    state: Mutex<State>,
    all_arrived: Condvar,
}

/// One rank of an in-process group.
pub struct Loopback {
    rank: usize,
    group: Arc<Group>,
}

impl Loopback {
    /// The R handles of a new group (give one to each thread).
    pub fn group(world: usize) -> Vec<Loopback> {
        let group = Arc::new(Group {
            world,
            state: Mutex::new(State {
                slots: vec![None; world],
                ..State::default()
            }),
            all_arrived: Condvar::new(),
        });
        (0..world)
            .map(|rank| Loopback {
                rank,
                group: group.clone(),
            })
            .collect()
    }

    /// Runs `f` on R threads, one rank each, and returns their results in rank order.
    pub fn run<T: Send>(world: usize, f: impl Fn(Loopback) -> T + Sync) -> Vec<T> {
        let f = &f;
        std::thread::scope(|s| {
            let handles: Vec<_> = Loopback::group(world)
                .into_iter()
                .map(|comm| s.spawn(move || f(comm)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.group.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until all R ranks have arrived (a reusable barrier that fails, rather than hangs,
    /// once a rank has left the group).
    fn wait_all<'a>(&'a self, mut st: MutexGuard<'a, State>) -> Result<MutexGuard<'a, State>> {
        let generation = st.generation;
        st.arrived += 1;
        if st.arrived == self.group.world {
            st.arrived = 0;
            st.generation += 1;
            self.group.all_arrived.notify_all();
            return Ok(st);
        }
        while st.generation == generation && !st.broken {
            st = self
                .group
                .all_arrived
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        }
        if st.generation == generation {
            return Err(Error::invalid(
                "loopback collective",
                format!(
                    "rank {} waits for a rank that has left the group",
                    self.rank
                ),
            ));
        }
        Ok(st)
    }

    /// Every rank's contribution, in rank order.
    fn exchange(&self, mine: Owned) -> Result<Vec<Owned>> {
        let mut st = self.lock();
        st.slots[self.rank] = Some(mine);
        let mut st = self.wait_all(st)?;
        let all: Vec<Owned> = st.slots.iter().flatten().cloned().collect();
        st = self.wait_all(st)?;
        drop(st);
        if all.len() != self.group.world {
            return Err(Error::invalid("loopback collective", "a slot was empty"));
        }
        Ok(all)
    }
}

impl Loopback {
    /// Marks the group broken: every rank waiting, or arriving later, gets an error.
    fn break_group(&self) {
        let mut st = self.lock();
        st.broken = true;
        self.group.all_arrived.notify_all();
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.break_group();
    }
}

/// The ranks' vectors of one element type, checked to have equal lengths.
fn same_kind<'a, T>(
    op: &'static str,
    all: &'a [Owned],
    pick: impl Fn(&'a Owned) -> Option<&'a Vec<T>>,
) -> Result<Vec<&'a [T]>> {
    let parts: Vec<&[T]> = all.iter().filter_map(|o| pick(o).map(|v| &v[..])).collect();
    if parts.len() != all.len() {
        return Err(Error::invalid(
            op,
            "the ranks passed different element types",
        ));
    }
    if parts.iter().any(|p| p.len() != parts[0].len()) {
        let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        return Err(Error::invalid(
            op,
            format!("the ranks passed buffers of different lengths {lens:?}"),
        ));
    }
    Ok(parts)
}

/// op over ranks, element by element, in rank order.
fn reduce<T: CommElement>(parts: &[&[T]], op: ReduceOp) -> Vec<T> {
    let mut out = parts[0].to_vec();
    for p in &parts[1..] {
        for (o, &v) in out.iter_mut().zip(p.iter()) {
            *o = o.combine(v, op);
        }
    }
    out
}

/// Applies `f` to the ranks' vectors and the output buffer of the same element type.
macro_rules! dispatch {
    ($op:expr, $all:expr, $out:expr, |$parts:ident, $dst:ident| $body:expr) => {
        match $out {
            BufMut::F32($dst) => {
                let $parts = same_kind($op, $all, |o| match o {
                    Owned::F32(v) => Some(v),
                    _ => None,
                })?;
                $body
            }
            BufMut::F64($dst) => {
                let $parts = same_kind($op, $all, |o| match o {
                    Owned::F64(v) => Some(v),
                    _ => None,
                })?;
                $body
            }
            BufMut::U64($dst) => {
                let $parts = same_kind($op, $all, |o| match o {
                    Owned::U64(v) => Some(v),
                    _ => None,
                })?;
                $body
            }
        }
    };
}

impl Collective for Loopback {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.group.world
    }

    fn backend(&self) -> &'static str {
        "loopback"
    }

    fn all_reduce(&self, buf: BufMut<'_>, op: ReduceOp) -> Result<()> {
        let all = self.exchange(Owned::from_buf_mut(&buf))?;
        dispatch!("all_reduce", &all, buf, |parts, dst| {
            dst.copy_from_slice(&reduce(&parts, op))
        });
        Ok(())
    }

    fn all_gather(&self, send: Buf<'_>, recv: BufMut<'_>) -> Result<()> {
        check_gather(self.group.world, &send, &recv)?;
        let all = self.exchange(Owned::from_buf(&send))?;
        dispatch!("all_gather", &all, recv, |parts, dst| {
            for (block, part) in dst.chunks_mut(parts[0].len().max(1)).zip(&parts) {
                block.copy_from_slice(part);
            }
        });
        Ok(())
    }

    fn broadcast(&self, buf: BufMut<'_>, root: usize) -> Result<()> {
        check_root("broadcast", root, self.group.world)?;
        let all = self.exchange(Owned::from_buf_mut(&buf))?;
        dispatch!("broadcast", &all, buf, |parts, dst| {
            dst.copy_from_slice(parts[root])
        });
        Ok(())
    }

    fn reduce_scatter(&self, send: Buf<'_>, recv: BufMut<'_>, op: ReduceOp) -> Result<()> {
        check_scatter(self.group.world, &send, &recv)?;
        let all = self.exchange(Owned::from_buf(&send))?;
        let rank = self.rank;
        dispatch!("reduce_scatter", &all, recv, |parts, dst| {
            let n = dst.len();
            let block: Vec<&[_]> = parts.iter().map(|p| &p[rank * n..(rank + 1) * n]).collect();
            dst.copy_from_slice(&reduce(&block, op))
        });
        Ok(())
    }

    fn barrier(&self) -> Result<()> {
        self.exchange(Owned::U64(Vec::new())).map(|_| ())
    }

    fn abort(&self, _code: i32) {
        self.break_group();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::CollectiveExt;

    #[test]
    fn the_five_operations_on_three_ranks() {
        let out = Loopback::run(3, |c| {
            let r = c.rank() as f64;
            let mut sum = vec![r, 10.0 * r];
            c.all_reduce_slice(&mut sum, ReduceOp::Sum).unwrap();
            let mut max = vec![r, -r];
            c.all_reduce_slice(&mut max, ReduceOp::Max).unwrap();
            let gathered = c.all_gather_vec(&[r as u64, 7]).unwrap();
            let mut b = vec![r as f32; 2];
            c.broadcast_slice(&mut b, 2).unwrap();
            // rank r sends [r, r, r, r, r, r]: block i of the sum is 0 + 1 + 2 = 3 everywhere.
            let scattered = c.reduce_scatter_vec(&[r; 6], ReduceOp::Sum).unwrap();
            c.barrier().unwrap();
            (sum, max, gathered, b, scattered)
        });
        for (sum, max, gathered, b, scattered) in out {
            assert_eq!(sum, vec![3.0, 30.0]);
            assert_eq!(max, vec![2.0, 0.0]);
            assert_eq!(gathered, vec![0, 7, 1, 7, 2, 7]);
            assert_eq!(b, vec![2.0, 2.0]);
            assert_eq!(scattered, vec![3.0, 3.0]);
        }
    }

    #[test]
    fn mismatched_buffers_and_a_missing_rank_are_errors() {
        let out = Loopback::run(2, |c| {
            let mut v = vec![0.0f32; 1 + c.rank()];
            let different = c.all_reduce_slice(&mut v, ReduceOp::Sum).is_err();
            let wrong_recv = c
                .all_gather(Buf::F32(&[1.0]), BufMut::F32(&mut [0.0; 3]))
                .is_err();
            let bad_root = c.broadcast_slice(&mut [0.0f64], 5).is_err();
            (different, wrong_recv, bad_root)
        });
        assert!(out.iter().all(|&(a, b, c)| a && b && c));
        // Rank 1 leaves at once: rank 0's barrier fails instead of hanging.
        let out = Loopback::run(2, |c| {
            if c.rank() == 0 {
                c.barrier().is_err()
            } else {
                true
            }
        });
        assert!(out[0]);
    }
}
