//! The BLIS loops around the micro-kernel, threading, and the small-problem path.
//!
//! Shape legend: as in [`super`]: op(A) [m, k], op(B) [k, n], C [m, n] (row stride ldc).
//! A thread's share of the work is a rectangle `rows x cols` of C; it runs loops 5..1 of the
//! module docs on that rectangle with its own packing buffers.

use super::microkernel::{MicroKernel, ScalarKernel};
use super::pack::{pack_a, pack_b, Operand};
use crate::Float;
use rayon::prelude::*;
use std::cell::RefCell;
use std::ops::Range;

/// Below this m·n·k a GEMM runs on one thread: a rayon fork/join costs a few microseconds,
/// which is the whole run time of an 80³ product at 100 GFLOP/s.
pub(crate) const PAR_MIN_MNK: usize = 80 * 80 * 80;

/// Below this m·n·k (or for a single row/column) packing costs more than it saves: plain
/// loops over the operands in place.
const SMALL_MNK: usize = 16 * 16 * 16;

/// Bytes of B~ kept in L2 when A is a single block (see `gemm_rectangle`).
const L2_B_PANEL_BYTES: usize = 192 * 1024;

/// Whether a call may fork rayon tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Threads {
    /// Use the current rayon pool (the pool the caller runs in, or the global one).
    Pool,
    /// Stay on the calling thread.
    One,
}

/// Element types with a packed GEMM path (f32, f64): picks the micro-kernel for this CPU.
pub(crate) trait GemmElem: Scratch {
    /// Calls `user.run(kernel)` with the best kernel this CPU supports.
    fn dispatch<U: KernelUser<Self>>(user: U) -> U::Out;
}

/// Code that is generic over the micro-kernel (a closure that takes a type parameter).
pub(crate) trait KernelUser<T: Float> {
    type Out;
    fn run<K: MicroKernel<T>>(self, kernel: K) -> Self::Out;
}

impl GemmElem for f32 {
    fn dispatch<U: KernelUser<f32>>(user: U) -> U::Out {
        #[cfg(target_arch = "x86_64")]
        if let Some(kernel) = super::microkernel::Avx2F32::detect() {
            return user.run(kernel);
        }
        user.run(ScalarKernel)
    }
}

impl GemmElem for f64 {
    fn dispatch<U: KernelUser<f64>>(user: U) -> U::Out {
        #[cfg(target_arch = "x86_64")]
        if let Some(kernel) = super::microkernel::Avx2F64::detect() {
            return user.run(kernel);
        }
        user.run(ScalarKernel)
    }
}

/// The A operand: a matrix to pack block by block, or one packed in advance (a convolution's
/// weights, packed once and reused for every image).
#[derive(Clone, Copy, Debug)]
pub(crate) enum ASource<'a, T> {
    Matrix(Operand<'a, T>),
    Packed(&'a PackedA<T>),
}

/// op(A) [m, k] packed whole, in the layout the driver would produce block by block: for each
/// KC-slice q of k, the ceil(m / MR) slivers of that slice, each `kc x MR`.
#[derive(Clone, Debug)]
pub(crate) struct PackedA<T> {
    data: Vec<T>,
    m: usize,
    k: usize,
    mr: usize,
    kc: usize,
}

impl<T: GemmElem> PackedA<T> {
    /// Packs op(A) [m, k] for the kernel this CPU will use.
    pub fn new(a: Operand<'_, T>, m: usize, k: usize) -> Self {
        struct Packer<'a, T>(Operand<'a, T>, usize, usize);
        impl<T: GemmElem> KernelUser<T> for Packer<'_, T> {
            type Out = PackedA<T>;
            fn run<K: MicroKernel<T>>(self, _kernel: K) -> PackedA<T> {
                let Packer(a, m, k) = self;
                let slivers = m.div_ceil(K::MR);
                let mut data = vec![T::ZERO; slivers * K::MR * k];
                for pc in (0..k).step_by(K::KC) {
                    let kc = K::KC.min(k - pc);
                    let block = &mut data[pc * slivers * K::MR..][..slivers * K::MR * kc];
                    pack_a(a, 0, m, pc, kc, block, K::MR);
                }
                PackedA {
                    data,
                    m,
                    k,
                    mr: K::MR,
                    kc: K::KC,
                }
            }
        }
        T::dispatch(Packer(a, m, k))
    }
}

impl<T> PackedA<T> {
    /// The packed slivers of rows `ic..` (a multiple of MR) in the k-slice starting at `pc`.
    fn block(&self, ic: usize, pc: usize, kc: usize) -> &[T] {
        let slivers = self.m.div_ceil(self.mr);
        &self.data[pc * slivers * self.mr + ic * kc..]
    }
}

/// The B operand: a matrix to pack block by block, or one packed in advance (weights used by
/// many GEMMs, such as the transformed kernels of a Winograd convolution).
#[derive(Clone, Copy, Debug)]
pub(crate) enum BSource<'a, T> {
    Matrix(Operand<'a, T>),
    Packed(&'a PackedB<T>),
}

impl<'a, T> From<Operand<'a, T>> for BSource<'a, T> {
    fn from(b: Operand<'a, T>) -> Self {
        BSource::Matrix(b)
    }
}

/// op(B) [k, n] packed whole, in the layout the driver would produce block by block: for each
/// KC-slice q of k, the ceil(n / NR) slivers of that slice, each `kc x NR` (row-major within
/// the sliver), columns past n zero.
#[derive(Clone, Debug)]
pub(crate) struct PackedB<T> {
    data: Vec<T>,
    k: usize,
    n: usize,
    nr: usize,
    kc: usize,
}

impl<T: GemmElem> PackedB<T> {
    /// A packed op(B) [k, n] for the kernel this CPU will use, to be filled element by element
    /// through [`PackedB::index`] and [`PackedB::data_mut`] (every op(B)[p, j] must be
    /// written; the padding columns are zeroed here). Reuses the allocation of `buf`.
    pub fn for_writing(k: usize, n: usize, buf: Vec<T>) -> Self {
        struct Layout;
        impl<T: Float> KernelUser<T> for Layout {
            type Out = (usize, usize);
            fn run<K: MicroKernel<T>>(self, _kernel: K) -> (usize, usize) {
                (K::NR, K::KC)
            }
        }
        let (nr, kc) = T::dispatch(Layout);
        let mut data = buf;
        data.resize(k * n.next_multiple_of(nr), T::ZERO);
        let mut b = PackedB { data, k, n, nr, kc };
        if n % nr != 0 {
            for p in 0..k {
                for j in n..n.next_multiple_of(nr) {
                    let at = b.index(p, j);
                    b.data[at] = T::ZERO;
                }
            }
        }
        b
    }
}

impl<T> PackedB<T> {
    /// Where op(B)[p, j] sits in [`PackedB::data_mut`]; NR consecutive columns j (starting at
    /// a multiple of NR) are contiguous.
    #[inline(always)]
    pub fn index(&self, p: usize, j: usize) -> usize {
        let n_pad = self.n.next_multiple_of(self.nr);
        let (q, pp) = (p / self.kc, p % self.kc);
        let kcq = self.kc.min(self.k - q * self.kc);
        q * self.kc * n_pad + (j / self.nr) * kcq * self.nr + pp * self.nr + j % self.nr
    }

    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Gives the allocation back (for reuse by the next call).
    pub fn into_buffer(self) -> Vec<T> {
        self.data
    }

    /// The packed slivers of columns `jc..` (a multiple of NR) in the k-slice starting at `pc`.
    fn block(&self, jc: usize, pc: usize, kc: usize) -> &[T] {
        &self.data[pc * self.n.next_multiple_of(self.nr) + jc * kc..]
    }
}

/// C[m, n] (row stride ldc) = alpha·op(A)·op(B) + beta·C on the packed path of this CPU's
/// kernel (tiny problems with a plain A and B go to the loops of [`gemm_small`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_fast<'b, T: GemmElem>(
    (m, n, k): (usize, usize, usize),
    alpha: T,
    a: ASource<'_, T>,
    b: impl Into<BSource<'b, T>>,
    beta: T,
    c: &mut [T],
    ldc: usize,
    threads: Threads,
) {
    let b = b.into();
    if m == 0 || n == 0 {
        return;
    }
    if alpha == T::ZERO || k == 0 {
        for i in 0..m {
            scale_row(&mut c[i * ldc..i * ldc + n], beta);
        }
        return;
    }
    if let (ASource::Matrix(a), BSource::Matrix(b)) = (a, b) {
        if m * n * k < SMALL_MNK || m == 1 || n == 1 {
            return gemm_small((m, n, k), alpha, a, b, beta, c, ldc);
        }
    }
    struct Run<'a, 'c, T> {
        dims: (usize, usize, usize),
        alpha: T,
        a: ASource<'a, T>,
        b: BSource<'a, T>,
        beta: T,
        c: &'c mut [T],
        ldc: usize,
        threads: Threads,
    }
    impl<T: GemmElem> KernelUser<T> for Run<'_, '_, T> {
        type Out = ();
        fn run<K: MicroKernel<T>>(self, kernel: K) {
            gemm_packed(
                kernel,
                self.dims,
                self.alpha,
                self.a,
                self.b,
                self.beta,
                self.c,
                self.ldc,
                self.threads,
            );
        }
    }
    T::dispatch(Run {
        dims: (m, n, k),
        alpha,
        a,
        b,
        beta,
        c,
        ldc,
        threads,
    });
}

/// row = beta·row, with beta = 0 writing zeros without reading (BLAS semantics).
fn scale_row<T: Float>(row: &mut [T], beta: T) {
    if beta == T::ZERO {
        row.fill(T::ZERO);
    } else if beta != T::ONE {
        row.iter_mut().for_each(|v| *v *= beta);
    }
}

/// Tiny products: loops on the operands in place, no packing and no threads.
fn gemm_small<T: Float>(
    (m, n, k): (usize, usize, usize),
    alpha: T,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    beta: T,
    c: &mut [T],
    ldc: usize,
) {
    let a_at = |i: usize, p: usize| {
        if a.trans {
            a.data[a.start(p) + i]
        } else {
            a.data[a.start(i) + p]
        }
    };
    for i in 0..m {
        let c_row = &mut c[i * ldc..i * ldc + n];
        scale_row(c_row, beta);
        if b.trans {
            // C[i, j] += alpha · Σ_p A(i, p) · B[j, p]: dot products over stored lines of B.
            for (j, cv) in c_row.iter_mut().enumerate() {
                let b_line = &b.data[b.start(j)..][..k];
                let mut acc = T::ZERO;
                for (p, &bv) in b_line.iter().enumerate() {
                    acc += a_at(i, p) * bv;
                }
                *cv += alpha * acc;
            }
        } else {
            // C[i, :] += alpha · A(i, p) · B[p, :]: row updates the compiler vectorises.
            for p in 0..k {
                let av = alpha * a_at(i, p);
                let b_line = &b.data[b.start(p)..][..n];
                for (cv, &bv) in c_row.iter_mut().zip(b_line) {
                    *cv += av * bv;
                }
            }
        }
    }
}

/// The packed BLIS path for kernel `K`, threaded by cutting C into rectangles.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_packed<T: Scratch, K: MicroKernel<T>>(
    kernel: K,
    (m, n, k): (usize, usize, usize),
    alpha: T,
    a: ASource<'_, T>,
    b: BSource<'_, T>,
    beta: T,
    c: &mut [T],
    ldc: usize,
    threads: Threads,
) {
    if let ASource::Packed(p) = a {
        assert!(
            p.mr == K::MR && p.kc == K::KC && p.m == m && p.k == k,
            "gemm: A was packed for another kernel or shape"
        );
    }
    if let BSource::Packed(p) = b {
        assert!(
            p.nr == K::NR && p.kc == K::KC && p.n == n && p.k == k,
            "gemm: B was packed for another kernel or shape"
        );
    }
    let c_ptr = CPtr(c.as_mut_ptr());
    let want = match threads {
        Threads::One => 1,
        Threads::Pool if m * n * k < PAR_MIN_MNK => 1,
        Threads::Pool => rayon::current_num_threads().min(m * n * k / (PAR_MIN_MNK / 2)),
    };
    let (tm, tn) = task_grid(m, n, k, K::MR, K::NR, K::NC, want.max(1));
    let run = |t: usize| {
        let (rows, cols) = (part(m, K::MR, tm, t / tn), part(n, K::NR, tn, t % tn));
        // SAFETY: the rectangles rows x cols of the tasks are disjoint and inside C (the entry
        // points checked c.len() against m, n, ldc), and `c` stays borrowed for the whole call.
        unsafe { gemm_rectangle(kernel, ldc, alpha, a, b, beta, c_ptr, rows, cols, k) };
    };
    if tm * tn == 1 {
        run(0);
    } else {
        (0..tm * tn).into_par_iter().for_each(run);
    }
}

/// Raw pointer to C shared by the tasks of one call; each task writes only its own rectangle.
#[derive(Clone, Copy)]
struct CPtr<T>(*mut T);
// SAFETY: tasks write disjoint rectangles of C (see `gemm_packed`); T: Send.
unsafe impl<T: Send> Send for CPtr<T> {}
// SAFETY: as above; sharing the pointer does not by itself access anything.
unsafe impl<T: Send> Sync for CPtr<T> {}

/// Loops 5..1 on one rectangle of C.
///
/// # Safety
/// `c` must point to C with row stride `ldc`, valid for the rectangle `rows x cols`, and no
/// other thread may touch that rectangle during the call.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_rectangle<T: Scratch, K: MicroKernel<T>>(
    kernel: K,
    ldc: usize,
    alpha: T,
    a: ASource<'_, T>,
    b: BSource<'_, T>,
    beta: T,
    c: CPtr<T>,
    rows: Range<usize>,
    cols: Range<usize>,
    k: usize,
) {
    let (mr, nr) = (K::MR, K::NR);
    // Equal MC blocks (multiples of MR) rather than full ones plus a ragged last one.
    let m_len = rows.len();
    let mc_max = m_len.div_ceil(m_len.div_ceil(K::MC)).next_multiple_of(mr);
    // With a single, pre-packed block of A (a convolution's weights with few output channels),
    // B~ is used only mc/MR times per sliver: keep the panel small enough to stay in L2
    // between packing and use instead of a trip through L3 (re-reading A~ costs nothing).
    let nc_blk = if m_len <= K::MC && matches!(a, ASource::Packed(_)) {
        (L2_B_PANEL_BYTES / (K::KC * T::BYTES)).max(nr) / nr * nr
    } else {
        K::NC
    };
    let nc_max = nc_blk.min(cols.len().next_multiple_of(nr));
    let kc_max = K::KC.min(k);
    let b_len = nc_max.div_ceil(nr) * nr * kc_max;
    let a_len = if matches!(a, ASource::Packed(_)) {
        0
    } else {
        mc_max * kc_max
    };
    T::with_scratch(b_len.next_multiple_of(16) + a_len, |buf| {
        let (b_packed, a_packed) = buf.split_at_mut(b_len.next_multiple_of(16));
        for jc in cols.clone().step_by(nc_blk) {
            let nc = nc_blk.min(cols.end - jc);
            for pc in (0..k).step_by(K::KC) {
                let kc = K::KC.min(k - pc);
                let b_block: &[T] = match b {
                    BSource::Matrix(b) => {
                        pack_b(b, pc, kc, jc, nc, b_packed, nr);
                        b_packed
                    }
                    BSource::Packed(p) => p.block(jc, pc, kc),
                };
                // Later slices of the k sum add onto what the first one wrote.
                let beta_pc = if pc == 0 { beta } else { T::ONE };
                for ic in rows.clone().step_by(mc_max) {
                    let mc = mc_max.min(rows.end - ic);
                    let a_block: &[T] = match a {
                        ASource::Matrix(a) => {
                            pack_a(a, ic, mc, pc, kc, a_packed, mr);
                            a_packed
                        }
                        ASource::Packed(p) => p.block(ic, pc, kc),
                    };
                    for jr in (0..nc).step_by(nr) {
                        let b_sliver = b_block[jr * kc..].as_ptr();
                        for ir in (0..mc).step_by(mr) {
                            let a_sliver = a_block[ir * kc..].as_ptr();
                            // SAFETY: the tile starts inside this task's rectangle.
                            let c_tile = unsafe { c.0.add((ic + ir) * ldc + jc + jr) };
                            let (h, w) = (mr.min(mc - ir), nr.min(nc - jr));
                            // SAFETY: slivers hold kc·MR / kc·NR packed values; a full tile
                            // lies inside the rectangle, an edge tile goes through `edge_tile`.
                            unsafe {
                                if h == mr && w == nr {
                                    kernel
                                        .tile(kc, a_sliver, b_sliver, c_tile, ldc, alpha, beta_pc);
                                } else {
                                    edge_tile(
                                        kernel, kc, a_sliver, b_sliver, c_tile, ldc, h, w, alpha,
                                        beta_pc,
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    });
}

/// A tile that sticks out of C: the kernel writes the full MR x NR tile into a local buffer,
/// then only its valid `h x w` corner is merged into C.
///
/// # Safety
/// As for [`MicroKernel::tile`], but C needs to be valid only for `h` rows of `w` elements.
#[allow(clippy::too_many_arguments)]
unsafe fn edge_tile<T: Float, K: MicroKernel<T>>(
    kernel: K,
    kc: usize,
    a: *const T,
    b: *const T,
    c: *mut T,
    ldc: usize,
    h: usize,
    w: usize,
    alpha: T,
    beta: T,
) {
    const MAX_TILE: usize = 128;
    assert!(
        K::MR * K::NR <= MAX_TILE,
        "micro-tile larger than the edge buffer"
    );
    let mut tmp = [T::ZERO; MAX_TILE];
    // SAFETY: tmp holds MR rows of NR at stride NR; beta = 0 so it is not read.
    unsafe { kernel.tile(kc, a, b, tmp.as_mut_ptr(), K::NR, alpha, T::ZERO) };
    for r in 0..h {
        // SAFETY: row r < h of the valid corner, w elements, inside the caller's rectangle.
        let c_row = unsafe { std::slice::from_raw_parts_mut(c.add(r * ldc), w) };
        for (cv, &t) in c_row.iter_mut().zip(&tmp[r * K::NR..]) {
            *cv = if beta == T::ZERO { t } else { t + beta * *cv };
        }
    }
}

/// The grid of tasks for `threads` threads: one task per thread, or two when that costs
/// almost no extra packing. Two per thread let rayon rebalance when a core is busy with
/// something else (one slow task no longer holds up the whole call).
fn task_grid(
    m: usize,
    n: usize,
    k: usize,
    mr: usize,
    nr: usize,
    nc: usize,
    threads: usize,
) -> (usize, usize) {
    let one = thread_grid(m, n, k, mr, nr, nc, threads);
    if threads == 1 {
        return one;
    }
    let two = thread_grid(m, n, k, mr, nr, nc, 2 * threads);
    // Elements packed by all tasks together; packing one costs about as much as 30 flops.
    let total = |(tm, tn): (usize, usize)| {
        let (rows, cols) = (m.div_ceil(tm), n.div_ceil(tn));
        (tm * tn * k * (rows * cols.div_ceil(nc) + cols)) as f64
    };
    let extra = (total(two) - total(one)) * 30.0;
    if two.0 * two.1 == 2 * threads && extra < 0.01 * 2.0 * (m * n * k) as f64 {
        two
    } else {
        one
    }
}

/// Chooses how many row and column pieces (tm x tn = threads) to cut C into. Each task packs
/// its own rows of A (once per NC columns) and its own columns of B, so pick the grid that
/// packs least, among grids that give every task at least one sliver.
fn thread_grid(
    m: usize,
    n: usize,
    k: usize,
    mr: usize,
    nr: usize,
    nc: usize,
    threads: usize,
) -> (usize, usize) {
    let mut best = (1, 1);
    let mut best_cost = usize::MAX;
    for tm in 1..=threads {
        if threads % tm != 0 {
            continue;
        }
        let tn = threads / tm;
        if m.div_ceil(mr) < tm || n.div_ceil(nr) < tn {
            continue;
        }
        let (rows, cols) = (m.div_ceil(tm), n.div_ceil(tn));
        let cost = k * (rows * cols.div_ceil(nc) + cols);
        if cost < best_cost {
            best_cost = cost;
            best = (tm, tn);
        }
    }
    best
}

/// Piece `p` of 0..len cut into `parts` ranges whose boundaries are multiples of `unit`, as
/// equal as the unit allows (the first `units % parts` pieces get one unit more).
fn part(len: usize, unit: usize, parts: usize, p: usize) -> Range<usize> {
    let units = len.div_ceil(unit);
    let (base, extra) = (units / parts, units % parts);
    let start_units = p * base + p.min(extra);
    let count = base + usize::from(p < extra);
    (start_units * unit).min(len)..((start_units + count) * unit).min(len)
}

/// Element types with per-thread packing buffers, reused across calls (a fresh 4 MiB buffer
/// per call would cost page faults on every GEMM).
pub(crate) trait Scratch: Float {
    /// Runs `f` on a 64-byte aligned buffer of `len` elements (contents unspecified).
    fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;

    /// Runs `f` on this thread's work vector for callers above the GEMM (a convolution's
    /// padded image or im2col matrix), kept between calls so it is not re-faulted each time.
    /// A nested call gets an empty vector of its own.
    fn with_work_vec<R>(f: impl FnOnce(&mut Vec<Self>) -> R) -> R;
}

macro_rules! impl_scratch {
    ($t:ty, $key:ident, $work:ident) => {
        thread_local! {
            static $key: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) };
            static $work: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) };
        }
        impl Scratch for $t {
            fn with_work_vec<R>(f: impl FnOnce(&mut Vec<Self>) -> R) -> R {
                let mut v = $work.with(|cell| cell.take());
                let r = f(&mut v);
                $work.with(|cell| cell.replace(v));
                r
            }

            fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
                let aligned = |v: &mut Vec<$t>| {
                    if v.len() < len + 16 {
                        v.resize(len + 16, 0.0);
                    }
                    let off = v.as_ptr().align_offset(64).min(16);
                    off
                };
                $key.with(|cell| match cell.try_borrow_mut() {
                    Ok(mut v) => {
                        let off = aligned(&mut v);
                        f(&mut v[off..off + len])
                    }
                    // Re-entered on this thread (a GEMM inside a task of another GEMM's
                    // caller): use a private buffer.
                    Err(_) => {
                        let mut v = Vec::new();
                        let off = aligned(&mut v);
                        f(&mut v[off..off + len])
                    }
                })
            }
        }
    };
}

impl_scratch!(f32, SCRATCH_F32, WORK_F32);
impl_scratch!(f64, SCRATCH_F64, WORK_F64);
