//! Winograd minimal filtering for 3x3 and 5x5 stride-1 convolutions (Lavin & Gray 2016, "Fast
//! algorithms for convolutional neural networks"): fewer multiplications than the direct sum,
//! for the forward pass, the backward-data pass (a forward pass with the flipped kernel) and the
//! backward-weight pass.
//!
//! Shape legend: x [N, Cin, H, W], w [Cout, Cin, r, r], y [N, Cout, Ho, Wo]; the output is cut
//! into m x m tiles, tile t = (image, ty, tx), reading an α x α input patch d_t (α = m + r − 1 = 6,
//! zeros outside the image); ξ = (i, j) runs over the α² = 36 points of the transformed domain.
//!
//! One 1-D F(m, r) computes m outputs of an r-tap correlation from α inputs with α products:
//!   y = Aᵀ [(G g) ⊙ (Bᵀ d)]           (Aᵀ m x α, G α x r, Bᵀ α x α)
//! and nesting it gives the 2-D tile: Y_t = Aᵀ [U ⊙ V_t] A with U = G g Gᵀ, V_t = Bᵀ d_t B.
//! Summing over input channels is then, for each of the 36 points ξ, a matrix product:
//!   M_ξ [Cout, T] = U_ξ [Cout, Cin] · V_ξ [Cin, T]     (T tiles at a time)
//! so a tile costs 36 products per (Cout, Cin) pair instead of m²·r² (144 for F(4x4, 3x3): 4x
//! fewer; 100 for F(2x2, 5x5): 2.8x fewer), plus the transforms, which are linear in the
//! channels and vectorise across tiles.
//!
//! Backward-weight is the adjoint of the same map: for a fixed V_t, Y_t is linear in g, so
//!   ∂L/∂g = Gᵀ [Σ_t (A ∂Y_t Aᵀ) ⊙ V_t] G,   Σ_t as 36 products  dU_ξ += Ŷ_ξ [Cout, T] · V_ξᵀ.
//!
//! The points are 0, ±1, ±2 and ∞ for both tile sizes (so Bᵀ is shared); the matrices below
//! were derived by the Toom-Cook construction and are checked by the tests against the direct
//! convolution. Rounding: the transforms multiply by at most 5 and 8, which costs a few bits
//! of f32 precision (relative errors around 1e-6 instead of 1e-7; see the tests' report). The
//! f64 path (gradient checks) never comes here.

mod dispatch;
#[cfg(test)]
mod tests;
mod tiles;
mod transforms;
mod weights;

use super::Conv2dParams;

use crate::cpu::gemm::{gemm_fast, ASource, BSource, Operand, Scratch, Threads};
use rayon::prelude::*;
use tiles::{grad_slab, input_slab};
use weights::{give_buffer, take_buffer, transform_weights};

/// α: the side of an input patch and of the transformed tile.
const A: usize = 6;
/// Points of the transformed domain.
const POINTS: usize = A * A;

/// Bᵀ for the points 0, 1, −1, 2, −2, ∞ (the same for every m and r with α = 6).
#[cfg_attr(not(test), allow(dead_code))] // the written-out transforms are checked against it
const BT: [[f32; A]; A] = [
    [4.0, 0.0, -5.0, 0.0, 1.0, 0.0],
    [0.0, -4.0, -4.0, 1.0, 1.0, 0.0],
    [0.0, 4.0, -4.0, -1.0, 1.0, 0.0],
    [0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
    [0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
    [0.0, 4.0, 0.0, -5.0, 0.0, 1.0],
];

/// Aᵀ (4 x 6) of F(4, 3).
#[cfg_attr(not(test), allow(dead_code))] // the written-out transforms are checked against it
const AT_4: [[f32; A]; 4] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, 1.0, -1.0, 2.0, -2.0, 0.0],
    [0.0, 1.0, 1.0, 4.0, 4.0, 0.0],
    [0.0, 1.0, -1.0, 8.0, -8.0, 1.0],
];

/// G (6 x 3) of F(4, 3), padded to 5 columns.
const G_3: [[f32; 5]; A] = [
    [1.0 / 4.0, 0.0, 0.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0, 0.0, 0.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0, 0.0, 0.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0, 0.0, 0.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0, 0.0],
];

/// Aᵀ (2 x 6) of F(2, 5).
#[cfg_attr(not(test), allow(dead_code))] // the written-out transforms are checked against it
const AT_2: [[f32; A]; 2] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, 1.0, -1.0, 2.0, -2.0, 1.0],
];

/// G (6 x 5) of F(2, 5).
const G_5: [[f32; 5]; A] = [
    [1.0 / 4.0, 0.0, 0.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0, 1.0 / 3.0, 2.0 / 3.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0, -1.0 / 3.0, 2.0 / 3.0],
    [0.0, 0.0, 0.0, 0.0, 1.0],
];

/// Fewer channels than this: the products are too thin for the transforms to pay off.
const MIN_CHANNELS: usize = 16;

/// Bytes of transformed tiles (V and M) one block keeps, so a block stays in the caches.
const BLOCK_BYTES: usize = 3 << 20;

/// Lanes of a channel block (the transforms work on 8 channels at once).
const L: usize = 8;

/// Whether this convolution takes the Winograd path (f32 callers only; see `fast`).
/// `ANGLEGRAD_NO_WINOGRAD=1` turns the path off (for comparisons and bisecting).
pub(super) fn supports(p: &Conv2dParams) -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let off =
        *OFF.get_or_init(|| std::env::var_os("ANGLEGRAD_NO_WINOGRAD").is_some_and(|v| v != "0"));
    !off && p.stride == (1, 1)
        && p.dilation == (1, 1)
        && p.groups == 1
        && p.kh == p.kw
        && matches!(p.kh, 3 | 5)
        && p.c_in >= MIN_CHANNELS
        && p.c_out >= MIN_CHANNELS
}

/// G of F(m x m, r x r) (α x r, padded to 5 columns) for kernel side r.
fn g_matrix(r: usize) -> &'static [[f32; 5]; A] {
    match r {
        3 => &G_3,
        5 => &G_5,
        _ => unreachable!("winograd: kernel {r} not supported"),
    }
}

/// How the convolution is cut into tiles and the tiles into blocks.
///
/// A block is a run of consecutive *tile rows* (image n, tile row ty), all `tw` tiles of each;
/// tile t of a block is (row t / tw, column t % tw). Per block (Cin8 = 8·⌈Cin/8⌉):
/// - xs [rows, Cin8/8, α, wp, 8]: the α input rows each tile row reads, channels in lanes,
///   padding built in (so a patch is 36 plain vector loads);
/// - V [T, 36, Cin8] and M [T, 36, Cout8]: each tile's transformed values together (written
///   and read as one contiguous run; the GEMM of point ξ reads every 36th row).
struct Geometry {
    m: usize,
    r: usize,
    th: usize,
    tw: usize,
    /// Tile rows in the batch (N·th) and per block.
    rows: usize,
    rows_per_block: usize,
    cin8: usize,
    cout8: usize,
    /// Width of an xs row: tw·m + α − m.
    wp: usize,
}

impl Geometry {
    fn new(p: &Conv2dParams) -> Geometry {
        let (r, m) = (p.kh, A + 1 - p.kh);
        let (th, tw) = (p.out_h().div_ceil(m), p.out_w().div_ceil(m));
        let rows = p.n * th;
        let (cin8, cout8) = (p.c_in.next_multiple_of(L), p.c_out.next_multiple_of(L));
        let by_cache = (BLOCK_BYTES / (POINTS * (cin8 + cout8) * 4)).max(16);
        // Enough blocks for every thread to get two (rebalancing), when there are tiles enough.
        let threads = rayon::current_num_threads();
        let tiles = if threads > 1 {
            by_cache.min((rows * tw).div_ceil(2 * threads).max(32))
        } else {
            by_cache
        };
        Geometry {
            m,
            r,
            th,
            tw,
            rows,
            rows_per_block: (tiles / tw).clamp(1, rows),
            cin8,
            cout8,
            wp: tw * m + A - m,
        }
    }

    fn blocks(&self) -> usize {
        self.rows.div_ceil(self.rows_per_block)
    }

    /// The tile rows of block `blk`.
    fn block_rows(&self, blk: usize) -> std::ops::Range<usize> {
        let r0 = blk * self.rows_per_block;
        r0..(r0 + self.rows_per_block).min(self.rows)
    }

    /// Most tiles in a block.
    fn max_tiles(&self) -> usize {
        self.rows_per_block * self.tw
    }

    /// Length of one tile row's input slab xs.
    fn slab_len(&self) -> usize {
        self.cin8 * A * self.wp
    }
}

/// Raw pointer to a buffer shared by parallel tasks that write disjoint parts of it.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
// SAFETY: every user writes only its own disjoint part (documented at each use).
unsafe impl Send for SharedMut {}
// SAFETY: as above; sharing the pointer does not by itself access anything.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// `len` elements from offset `at`.
    ///
    /// # Safety
    /// The range must lie inside the buffer, and no one else may access it meanwhile.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice(&self, at: usize, len: usize) -> &mut [f32] {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(at), len) }
    }
}

/// Gives `len` elements of scratch out of `buf` (grown when needed; contents unspecified).
fn scratch(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    &mut buf[..len]
}

/// Runs `block(index, work_vec, gemm_threads)` for every block: blocks in parallel when there
/// are enough of them to keep the threads busy, else one after the other with threaded GEMMs.
fn run_blocks(geo: &Geometry, block: impl Fn(usize, &mut Vec<f32>, Threads) + Sync) {
    let (blocks, threads) = (geo.blocks(), rayon::current_num_threads());
    if threads > 1 && blocks >= threads {
        (0..blocks)
            .into_par_iter()
            .for_each(|blk| f32::with_work_vec(|buf| block(blk, buf, Threads::One)));
    } else {
        f32::with_work_vec(|buf| (0..blocks).for_each(|blk| block(blk, buf, Threads::Pool)));
    }
}

/// y = conv2d(x, w) + b for a convolution that [`supports`] accepts.
pub(super) fn forward(p: &Conv2dParams, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    let geo = Geometry::new(p);
    let (cin, cout, cin8, cout8) = (p.c_in, p.c_out, geo.cin8, geo.cout8);
    let u = transform_weights(p, &geo, w);
    let y_ptr = SharedMut(y.as_mut_ptr());
    let (slabs, tiles) = (geo.rows_per_block * geo.slab_len(), geo.max_tiles());
    run_blocks(&geo, |blk, work, threads| {
        let rows = geo.block_rows(blk);
        let count = rows.len() * geo.tw;
        let buf = scratch(work, slabs + POINTS * tiles * (cin8 + cout8));
        let (xs, rest) = buf.split_at_mut(slabs);
        let (v, mm) = rest.split_at_mut(POINTS * tiles * cin8);
        for (j, row) in rows.clone().enumerate() {
            input_slab(
                p,
                &geo,
                x,
                row,
                &mut xs[j * geo.slab_len()..][..geo.slab_len()],
            );
        }
        // SAFETY: no requirement beyond the slices' own bounds.
        unsafe { dispatch::input(&geo, xs, rows.len(), v) };
        for xi in 0..POINTS {
            // M_ξ [T, Cout] = V_ξ [T, Cin] · U_ξ [Cin, Cout] (rows of V_ξ, M_ξ: every 36th).
            gemm_fast(
                (count, cout, cin),
                1.0,
                ASource::Matrix(Operand::dense(&v[xi * cin8..], POINTS * cin8, false)),
                BSource::Packed(&u[xi]),
                0.0,
                &mut mm[xi * cout8..],
                POINTS * cout8,
                threads,
            );
        }
        // SAFETY: y is the whole output and these tile rows belong to this block alone.
        unsafe {
            match geo.m {
                4 => dispatch::output4(p, &geo, mm, rows.start, rows.len(), b, y_ptr),
                _ => dispatch::output2(p, &geo, mm, rows.start, rows.len(), b, y_ptr),
            }
        }
    });
    u.into_iter().for_each(|b| give_buffer(b.into_buffer()));
}

/// dw = ∂L/∂w given x and dy, for a convolution that [`supports`] accepts (overwrites dw).
pub(super) fn backward_weight(p: &Conv2dParams, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    let geo = Geometry::new(p);
    let (cin, cout, cin8, cout8, m) = (p.c_in, p.c_out, geo.cin8, geo.cout8, geo.m);
    let du_len = POINTS * cout * cin8;
    let g_slab = cout8 * m * geo.tw * m;
    let (slabs, tiles) = (
        geo.rows_per_block * (geo.slab_len() + g_slab),
        geo.max_tiles(),
    );
    // dU_ξ [Cout, Cin] += Ŷ_ξᵀ [Cout, T] · V_ξ [T, Cin] over the tiles of a block.
    let accumulate = |blk: usize, du: &mut [f32], work: &mut Vec<f32>, threads: Threads| {
        let rows = geo.block_rows(blk);
        let count = rows.len() * geo.tw;
        let buf = scratch(work, slabs + POINTS * tiles * (cin8 + cout8));
        let (xs, rest) = buf.split_at_mut(geo.rows_per_block * geo.slab_len());
        let (dys, rest) = rest.split_at_mut(geo.rows_per_block * g_slab);
        let (v, g) = rest.split_at_mut(POINTS * tiles * cin8);
        for (j, row) in rows.clone().enumerate() {
            input_slab(
                p,
                &geo,
                x,
                row,
                &mut xs[j * geo.slab_len()..][..geo.slab_len()],
            );
            grad_slab(p, &geo, dy, row, &mut dys[j * g_slab..][..g_slab]);
        }
        // SAFETY: no requirement beyond the slices' own bounds.
        unsafe {
            dispatch::input(&geo, xs, rows.len(), v);
            match m {
                4 => dispatch::grad4(&geo, dys, rows.len(), g),
                _ => dispatch::grad2(&geo, dys, rows.len(), g),
            }
        }
        for xi in 0..POINTS {
            gemm_fast(
                (cout, cin, count),
                1.0,
                ASource::Matrix(Operand::dense(&g[xi * cout8..], POINTS * cout8, true)),
                Operand::dense(&v[xi * cin8..], POINTS * cin8, false),
                1.0,
                &mut du[xi * cout * cin8..][..cout * cin8],
                cin8,
                threads,
            );
        }
    };
    let (blocks, threads) = (geo.blocks(), rayon::current_num_threads());
    // One accumulator per task when they are small; otherwise blocks in order, GEMMs threaded.
    // (dU, whether its allocation came from this thread's pool and goes back to it).
    let (du, pooled) = if threads > 1 && blocks >= threads && du_len * 4 <= BLOCK_BYTES {
        let du = (0..blocks)
            .into_par_iter()
            .fold(
                || vec![0.0f32; du_len],
                |mut du, blk| {
                    f32::with_work_vec(|work| accumulate(blk, &mut du, work, Threads::One));
                    du
                },
            )
            .reduce_with(|mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            })
            .unwrap_or_else(|| vec![0.0; du_len]);
        (du, false)
    } else {
        let mut du = take_buffer();
        du.clear();
        du.resize(du_len, 0.0);
        f32::with_work_vec(|work| {
            (0..blocks).for_each(|blk| accumulate(blk, &mut du, work, Threads::Pool))
        });
        (du, true)
    };
    // dw[co, ci] = Gᵀ dU[co, ci] G.
    let (r, gm) = (geo.r, g_matrix(geo.r));
    dw.par_chunks_mut(cin * r * r)
        .enumerate()
        .for_each(|(co, dw_co)| {
            // SAFETY: no requirement beyond the slices' own bounds.
            unsafe { dispatch::kernel_grad(&du, (cin, cin8, cout), r, gm, co, dw_co) }
        });
    if pooled {
        give_buffer(du);
    }
}
