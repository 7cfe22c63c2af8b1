//! Launchers of `metric.cu`: pairwise squared distances, l2-normalisation, top-k, and the
//! angular margins φ of the margin-softmax losses.
//!
//! Shape legend: a `[N, D]`, b `[M, D]`, distances `[N, M]`; l2-normalisation along `len` of
//! `[outer, len, inner]`; top-k along `len`, results `[outer, k, inner]`; margins elementwise.
//! The CPU references live in the ops crate (`ops/src/metric/`), which this crate cannot
//! name: [`Margin`] mirrors `ops::metric::MarginFn` variant for variant.

use cudarc::driver::DeviceRepr;

use super::{cfg1, check_len, entry, fits_i32, launch, row_blocks, row_threads, CudaFloat};
use crate::cuda::alloc::DeviceBuffer;
use crate::cuda::error::{CudaError, Result};
use crate::cuda::modules::METRIC;
use crate::cuda::CudaDevice;

const THREADS: u32 = 256;

/// D²[i, j] = Σ_k (a_ik − b_jk)², exactly 0 for identical rows
/// (`ops::metric::pairwise_sq_dist`). Grid: one 16 x 16 block per 16 x 16 tile of D².
pub fn pairwise_sq_dist<T: CudaFloat>(
    dev: &CudaDevice,
    a: &DeviceBuffer<T>,
    b: &DeviceBuffer<T>,
    n: usize,
    m: usize,
    d: usize,
    out: &mut DeviceBuffer<T>,
) -> Result<()> {
    const OP: &str = "pairwise_sq_dist";
    check_len(OP, "a", a, n * d)?;
    check_len(OP, "b", b, m * d)?;
    check_len(OP, "out", out, n * m)?;
    let (ni, mi, di) = (
        fits_i32(OP, "N", n)?,
        fits_i32(OP, "M", m)?,
        fits_i32(OP, "D", d)?,
    );
    let rows = n.div_ceil(16);
    if rows > 65_535 {
        return Err(CudaError::invalid(
            OP,
            format!("N = {n} needs more than 65535 block rows"),
        ));
    }
    let cfg = cudarc::driver::LaunchConfig {
        grid_dim: (m.div_ceil(16) as u32, rows as u32, 1),
        block_dim: (16, 16, 1),
        shared_mem_bytes: 0,
    };
    launch!(
        dev,
        METRIC,
        entry::<T>("pairwise_sq_dist_fwd"),
        cfg,
        [a.ptr(), b.ptr(), out.ptr(), ni, mi, di]
    )
}

/// The gradients of D² given G = ∂L/∂D² `[N, M]`: ∂L/∂a_ik = 2 Σ_j G_ij (a_ik − b_jk) and
/// ∂L/∂b_jk = 2 Σ_i G_ij (b_jk − a_ik) (equal to the ops crate's 2(rowsum(G) a − G b) and
/// 2(colsum(G) b − Gᵀ a)). Grid: one thread per output element, neighbours along D.
#[allow(clippy::too_many_arguments)]
pub fn pairwise_sq_dist_backward<T: CudaFloat>(
    dev: &CudaDevice,
    a: &DeviceBuffer<T>,
    b: &DeviceBuffer<T>,
    g: &DeviceBuffer<T>,
    n: usize,
    m: usize,
    d: usize,
    da: Option<&mut DeviceBuffer<T>>,
    db: Option<&mut DeviceBuffer<T>>,
) -> Result<()> {
    const OP: &str = "pairwise_sq_dist_backward";
    check_len(OP, "a", a, n * d)?;
    check_len(OP, "b", b, m * d)?;
    check_len(OP, "g", g, n * m)?;
    let (ni, mi, di) = (
        fits_i32(OP, "N", n)?,
        fits_i32(OP, "M", m)?,
        fits_i32(OP, "D", d)?,
    );
    if let Some(da) = da {
        check_len(OP, "da", da, n * d)?;
        let total = (n * d) as u64;
        launch!(
            dev,
            METRIC,
            entry::<T>("pairwise_sq_dist_bwd"),
            cfg1(dev.grid_for(total, THREADS), THREADS),
            [a.ptr(), b.ptr(), g.ptr(), da.ptr(), ni, mi, di, 0i32]
        )?;
    }
    if let Some(db) = db {
        check_len(OP, "db", db, m * d)?;
        let total = (m * d) as u64;
        launch!(
            dev,
            METRIC,
            entry::<T>("pairwise_sq_dist_bwd"),
            cfg1(dev.grid_for(total, THREADS), THREADS),
            [b.ptr(), a.ptr(), g.ptr(), db.ptr(), mi, ni, di, 1i32]
        )?;
    }
    Ok(())
}

/// One warp per vector: 8 vectors per 256-thread block.
fn warp_blocks(dev: &CudaDevice, vectors: usize) -> u32 {
    dev.grid_for(vectors as u64 * 32, THREADS)
}

/// y = x / sqrt(Σ x² + eps) along `len` of `[outer, len, inner]` (`ops::l2_normalize`).
pub fn l2_normalize<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
    eps: f64,
    y: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_len("l2_normalize", "x", x, outer * len * inner)?;
    check_len("l2_normalize", "y", y, outer * len * inner)?;
    launch!(
        dev,
        METRIC,
        entry::<T>("l2_normalize_fwd"),
        cfg1(warp_blocks(dev, outer * inner), THREADS),
        [
            x.ptr(),
            y.ptr(),
            outer as u64,
            len as u64,
            inner as u64,
            eps
        ]
    )
}

/// dx = (g − u (u·g)) / sqrt(Σ x² + eps), u = x / sqrt(Σ x² + eps): the gradient that the tape
/// derives for the composite `ops::l2_normalize`.
#[allow(clippy::too_many_arguments)]
pub fn l2_normalize_backward<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    g: &DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
    eps: f64,
    dx: &mut DeviceBuffer<T>,
) -> Result<()> {
    for (what, b) in [("x", x), ("g", g)] {
        check_len("l2_normalize_backward", what, b, outer * len * inner)?;
    }
    check_len("l2_normalize_backward", "dx", dx, outer * len * inner)?;
    launch!(
        dev,
        METRIC,
        entry::<T>("l2_normalize_bwd"),
        cfg1(warp_blocks(dev, outer * inner), THREADS),
        [
            x.ptr(),
            g.ptr(),
            dx.ptr(),
            outer as u64,
            len as u64,
            inner as u64,
            eps
        ]
    )
}

/// The k largest (or smallest) along `len`, in order, ties to the lower index, NaN as the
/// largest value (`ops::metric::topk`). Grid: one block per (outer, inner) column.
#[allow(clippy::too_many_arguments)]
pub fn topk<T: CudaFloat>(
    dev: &CudaDevice,
    x: &DeviceBuffer<T>,
    outer: usize,
    len: usize,
    inner: usize,
    k: usize,
    largest: bool,
    values: &mut DeviceBuffer<T>,
    indices: &mut DeviceBuffer<usize>,
) -> Result<()> {
    if k > len {
        return Err(CudaError::invalid(
            "topk",
            format!("k = {k} is larger than the axis ({len})"),
        ));
    }
    check_len("topk", "x", x, outer * len * inner)?;
    check_len("topk", "values", values, outer * k * inner)?;
    check_len("topk", "indices", indices, outer * k * inner)?;
    launch!(
        dev,
        METRIC,
        entry::<T>("topk_fwd"),
        cfg1(row_blocks(dev, outer * inner), row_threads(len)),
        [
            x.ptr(),
            values.ptr(),
            indices.ptr(),
            outer as u64,
            len as u64,
            inner as u64,
            k as u64,
            largest as i32
        ]
    )
}

/// What ArcFace uses where θ > π − m (mirror of `ops::metric::Fallback`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    Threshold,
    EasyMargin,
    None,
}

/// The target transform φ (mirror of `ops::metric::MarginFn`; LOSSES.md §0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Margin {
    Additive { m: f64 },
    Angular { m: f64, fallback: Fallback },
    AngularAcos { m: f64 },
    Combined { m1: f64, m2: f64, m3: f64 },
    Multiplicative { m: u32 },
}

/// `struct MarginArgs` of metric.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct MarginArgs {
    m: f64,
    m1: f64,
    m2: f64,
    m3: f64,
    kind: i32,
    fallback: i32,
    mi: i32,
    pad: i32,
}

// SAFETY: a plain #[repr(C)] struct of numbers, laid out as `struct MarginArgs`.
unsafe impl DeviceRepr for MarginArgs {}

impl Margin {
    fn args(self) -> Result<MarginArgs> {
        let mut a = MarginArgs::default();
        match self {
            Margin::Additive { m } => (a.kind, a.m) = (0, m),
            Margin::Angular { m, fallback } => {
                (a.kind, a.m) = (1, m);
                a.fallback = match fallback {
                    Fallback::Threshold => 0,
                    Fallback::EasyMargin => 1,
                    Fallback::None => 2,
                };
            }
            Margin::AngularAcos { m } => (a.kind, a.m) = (2, m),
            Margin::Combined { m1, m2, m3 } => (a.kind, a.m1, a.m2, a.m3) = (3, m1, m2, m3),
            Margin::Multiplicative { m } => {
                a.kind = 4;
                a.mi = fits_i32("margin", "m", m as usize)?;
            }
        }
        Ok(a)
    }
}

/// out = φ(c) elementwise, computed in f64 (`ops::metric::target_margin`, forward).
pub fn margin<T: CudaFloat>(
    dev: &CudaDevice,
    margin: Margin,
    c: &DeviceBuffer<T>,
    out: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_len("margin", "out", out, c.len())?;
    let n = c.len() as u64;
    launch!(
        dev,
        METRIC,
        entry::<T>("margin_fwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [c.ptr(), out.ptr(), n, margin.args()?]
    )
}

/// dc = g·dφ/dc (the exact gradient mode; the detached mode passes g through unchanged).
pub fn margin_backward<T: CudaFloat>(
    dev: &CudaDevice,
    margin: Margin,
    c: &DeviceBuffer<T>,
    g: &DeviceBuffer<T>,
    dc: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_len("margin_backward", "g", g, c.len())?;
    check_len("margin_backward", "dc", dc, c.len())?;
    let n = c.len() as u64;
    launch!(
        dev,
        METRIC,
        entry::<T>("margin_bwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [c.ptr(), g.ptr(), dc.ptr(), n, margin.args()?]
    )
}
