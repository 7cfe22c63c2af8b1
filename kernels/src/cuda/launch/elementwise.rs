//! Launchers of `elementwise.cu`: unary maps, broadcasting binary maps, comparisons, where.
//!
//! Grid: 256 threads per block (8 warps: enough to hide latency, small enough for many blocks
//! per SM), blocks from `CudaDevice::grid_for`; the kernels walk the elements grid-stride.
//!
//! Broadcasting: the strides of each input are those of the CPU
//! ([`crate::cpu::broadcast::broadcast_strides`]); then neighbouring axes that every operand
//! walks contiguously are merged (`[B, H, W] + [B, H, W]` is rank 1, `[B, C] + [C]` stays rank
//! 2), which keeps the kernel's per-element index arithmetic to one or two divisions.

use cudarc::driver::DeviceRepr;

use super::{cfg1, check_len, entry, launch, CudaFloat};
use crate::cpu::broadcast::broadcast_strides;
use crate::cpu::elementwise::{BinaryOp, CompareOp, UnaryOp};
use crate::cuda::alloc::DeviceBuffer;
use crate::cuda::error::{CudaError, Result};
use crate::cuda::modules::ELEMENTWISE;
use crate::cuda::CudaDevice;

/// The most axes a broadcast may have after merging (`AG_MAX_RANK` in common.cuh).
pub const MAX_RANK: usize = 8;

/// `struct Broadcast` of common.cuh: output dims and up to three inputs' strides.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BroadcastArgs {
    dims: [u64; MAX_RANK],
    strides: [[u64; MAX_RANK]; 3],
    rank: i32,
    same: [i32; 3],
}

// SAFETY: a plain #[repr(C)] struct of integers, laid out as `struct Broadcast`.
unsafe impl DeviceRepr for BroadcastArgs {}

impl BroadcastArgs {
    /// Reads each of `inputs` (dims) as broadcast to `out_dims`; fails when one does not
    /// broadcast or the merged rank exceeds [`MAX_RANK`].
    pub fn new(op: &'static str, inputs: &[&[usize]], out_dims: &[usize]) -> Result<Self> {
        let mut strides = Vec::new();
        for dims in inputs {
            let ok = dims.len() <= out_dims.len()
                && dims
                    .iter()
                    .rev()
                    .zip(out_dims.iter().rev())
                    .all(|(&d, &o)| d == o || d == 1);
            if !ok {
                return Err(CudaError::invalid(
                    op,
                    format!("input {dims:?} does not broadcast to {out_dims:?}"),
                ));
            }
            strides.push(broadcast_strides(dims, out_dims));
        }
        // Merge axis a into a + 1 when every operand steps over both as one axis; drop size-1.
        let mut dims: Vec<usize> = Vec::new();
        let mut st: Vec<Vec<usize>> = vec![Vec::new(); inputs.len()];
        for (a, &d) in out_dims.iter().enumerate() {
            if d == 1 {
                continue;
            }
            let mergeable = !dims.is_empty()
                && strides
                    .iter()
                    .zip(&st)
                    .all(|(s, m)| *m.last().expect("same length as dims") == s[a] * d);
            if mergeable {
                *dims.last_mut().expect("not empty") *= d;
                for (m, s) in st.iter_mut().zip(&strides) {
                    *m.last_mut().expect("not empty") = s[a];
                }
            } else {
                dims.push(d);
                for (m, s) in st.iter_mut().zip(&strides) {
                    m.push(s[a]);
                }
            }
        }
        if dims.len() > MAX_RANK {
            return Err(CudaError::invalid(
                op,
                format!(
                    "{out_dims:?} needs {} axes after merging; at most {MAX_RANK}",
                    dims.len()
                ),
            ));
        }
        let mut args = BroadcastArgs {
            rank: dims.len() as i32,
            ..Default::default()
        };
        for (i, &d) in dims.iter().enumerate() {
            args.dims[i] = d as u64;
        }
        for (k, s) in st.iter().enumerate() {
            for (i, &v) in s.iter().enumerate() {
                args.strides[k][i] = v as u64;
            }
            args.same[k] = (inputs[k] == out_dims) as i32;
        }
        Ok(args)
    }

    /// A permutation as a gather: output axis a walks input axis `perm[a]`.
    pub fn permute(op: &'static str, dims: &[usize], perm: &[usize]) -> Result<Self> {
        let mut seen = vec![false; dims.len()];
        if perm.len() != dims.len()
            || perm
                .iter()
                .any(|&p| p >= dims.len() || std::mem::replace(&mut seen[p], true))
        {
            return Err(CudaError::invalid(
                op,
                format!("{perm:?} is not a permutation of {} axes", dims.len()),
            ));
        }
        if dims.len() > MAX_RANK {
            return Err(CudaError::invalid(
                op,
                format!("rank {} exceeds {MAX_RANK}", dims.len()),
            ));
        }
        let own = crate::cpu::broadcast::contiguous_strides(dims);
        let mut args = BroadcastArgs {
            rank: dims.len() as i32,
            ..Default::default()
        };
        for (a, &p) in perm.iter().enumerate() {
            args.dims[a] = dims[p] as u64;
            args.strides[0][a] = own[p] as u64;
        }
        Ok(args)
    }
}

const THREADS: u32 = 256;

fn unary_code(op: UnaryOp) -> (i32, f64, f64) {
    match op {
        UnaryOp::Neg => (0, 0.0, 0.0),
        UnaryOp::Exp => (1, 0.0, 0.0),
        UnaryOp::Log => (2, 0.0, 0.0),
        UnaryOp::Sqrt => (3, 0.0, 0.0),
        UnaryOp::Abs => (4, 0.0, 0.0),
        UnaryOp::Relu => (5, 0.0, 0.0),
        UnaryOp::Sigmoid => (6, 0.0, 0.0),
        UnaryOp::Tanh => (7, 0.0, 0.0),
        UnaryOp::Sin => (8, 0.0, 0.0),
        UnaryOp::Cos => (9, 0.0, 0.0),
        UnaryOp::Acos => (10, 0.0, 0.0),
        // The backward needs p and p - 1 (computed in f64, as the CPU does).
        UnaryOp::Powf(p) => (11, p, p - 1.0),
        UnaryOp::Affine { mul, add } => (12, mul, add),
        UnaryOp::Clamp { lo, hi } => (13, lo, hi),
    }
}

fn binary_code(op: BinaryOp) -> i32 {
    match op {
        BinaryOp::Add => 0,
        BinaryOp::Sub => 1,
        BinaryOp::Mul => 2,
        BinaryOp::Div => 3,
        BinaryOp::Maximum => 4,
        BinaryOp::Minimum => 5,
        BinaryOp::Pow => 6,
    }
}

fn compare_code(op: CompareOp) -> i32 {
    match op {
        CompareOp::Eq => 0,
        CompareOp::Ne => 1,
        CompareOp::Lt => 2,
        CompareOp::Le => 3,
        CompareOp::Gt => 4,
        CompareOp::Ge => 5,
    }
}

/// `y[i] = f(x[i])` ([`crate::cpu::elementwise::unary`]).
pub fn unary<T: CudaFloat>(
    dev: &CudaDevice,
    op: UnaryOp,
    x: &DeviceBuffer<T>,
    y: &mut DeviceBuffer<T>,
) -> Result<()> {
    check_len("unary", "y", y, x.len())?;
    let (code, p0, p1) = unary_code(op);
    let n = x.len() as u64;
    launch!(
        dev,
        ELEMENTWISE,
        entry::<T>("unary_fwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [x.ptr(), y.ptr(), n, code, p0, p1]
    )
}

/// `dx[i] = g[i]·f'(x[i])` given y = f(x) ([`crate::cpu::elementwise::unary_backward`]).
pub fn unary_backward<T: CudaFloat>(
    dev: &CudaDevice,
    op: UnaryOp,
    x: &DeviceBuffer<T>,
    y: &DeviceBuffer<T>,
    g: &DeviceBuffer<T>,
    dx: &mut DeviceBuffer<T>,
) -> Result<()> {
    let n = x.len();
    check_len("unary_backward", "y", y, n)?;
    check_len("unary_backward", "g", g, n)?;
    check_len("unary_backward", "dx", dx, n)?;
    let (code, p0, p1) = unary_code(op);
    let n = n as u64;
    launch!(
        dev,
        ELEMENTWISE,
        entry::<T>("unary_bwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [x.ptr(), y.ptr(), g.ptr(), dx.ptr(), n, code, p0, p1]
    )
}

fn out_len(out_dims: &[usize]) -> usize {
    out_dims.iter().product()
}

/// out = f(a, b) broadcast to `out_dims` ([`crate::cpu::elementwise::binary`]).
#[allow(clippy::too_many_arguments)]
pub fn binary<T: CudaFloat>(
    dev: &CudaDevice,
    op: BinaryOp,
    a: &DeviceBuffer<T>,
    a_dims: &[usize],
    b: &DeviceBuffer<T>,
    b_dims: &[usize],
    out: &mut DeviceBuffer<T>,
    out_dims: &[usize],
) -> Result<()> {
    check_len("binary", "a", a, out_len(a_dims))?;
    check_len("binary", "b", b, out_len(b_dims))?;
    check_len("binary", "out", out, out_len(out_dims))?;
    let bc = BroadcastArgs::new("binary", &[a_dims, b_dims], out_dims)?;
    let n = out.len() as u64;
    launch!(
        dev,
        ELEMENTWISE,
        entry::<T>("binary_fwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [a.ptr(), b.ptr(), out.ptr(), n, binary_code(op), bc]
    )
}

/// ga = g·∂z/∂a, gb = g·∂z/∂b in the output's shape; either may be skipped
/// ([`crate::cpu::elementwise::binary_backward`]).
#[allow(clippy::too_many_arguments)]
pub fn binary_backward<T: CudaFloat>(
    dev: &CudaDevice,
    op: BinaryOp,
    a: &DeviceBuffer<T>,
    a_dims: &[usize],
    b: &DeviceBuffer<T>,
    b_dims: &[usize],
    g: &DeviceBuffer<T>,
    out_dims: &[usize],
    ga: Option<&mut DeviceBuffer<T>>,
    gb: Option<&mut DeviceBuffer<T>>,
) -> Result<()> {
    let n = out_len(out_dims);
    check_len("binary_backward", "a", a, out_len(a_dims))?;
    check_len("binary_backward", "b", b, out_len(b_dims))?;
    check_len("binary_backward", "g", g, n)?;
    for grad in [&ga, &gb].into_iter().flatten() {
        check_len("binary_backward", "gradient", grad, n)?;
    }
    let bc = BroadcastArgs::new("binary_backward", &[a_dims, b_dims], out_dims)?;
    let (pa, pb) = (
        super::ptr_or_null(ga.as_deref()),
        super::ptr_or_null(gb.as_deref()),
    );
    let n = n as u64;
    launch!(
        dev,
        ELEMENTWISE,
        entry::<T>("binary_bwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [a.ptr(), b.ptr(), g.ptr(), pa, pb, n, binary_code(op), bc]
    )
}

/// out = [a op b] as 1 or 0, broadcast ([`crate::cpu::elementwise::compare`]).
#[allow(clippy::too_many_arguments)]
pub fn compare<T: CudaFloat>(
    dev: &CudaDevice,
    op: CompareOp,
    a: &DeviceBuffer<T>,
    a_dims: &[usize],
    b: &DeviceBuffer<T>,
    b_dims: &[usize],
    out: &mut DeviceBuffer<T>,
    out_dims: &[usize],
) -> Result<()> {
    check_len("compare", "a", a, out_len(a_dims))?;
    check_len("compare", "b", b, out_len(b_dims))?;
    check_len("compare", "out", out, out_len(out_dims))?;
    let bc = BroadcastArgs::new("compare", &[a_dims, b_dims], out_dims)?;
    let n = out.len() as u64;
    launch!(
        dev,
        ELEMENTWISE,
        entry::<T>("compare_fwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [a.ptr(), b.ptr(), out.ptr(), n, compare_code(op), bc]
    )
}

/// out = cond != 0 ? a : b, all broadcast ([`crate::cpu::elementwise::where_select`]).
#[allow(clippy::too_many_arguments)]
pub fn where_select<T: CudaFloat>(
    dev: &CudaDevice,
    cond: &DeviceBuffer<T>,
    cond_dims: &[usize],
    a: &DeviceBuffer<T>,
    a_dims: &[usize],
    b: &DeviceBuffer<T>,
    b_dims: &[usize],
    out: &mut DeviceBuffer<T>,
    out_dims: &[usize],
) -> Result<()> {
    check_len("where", "cond", cond, out_len(cond_dims))?;
    check_len("where", "a", a, out_len(a_dims))?;
    check_len("where", "b", b, out_len(b_dims))?;
    check_len("where", "out", out, out_len(out_dims))?;
    let bc = BroadcastArgs::new("where", &[cond_dims, a_dims, b_dims], out_dims)?;
    let n = out.len() as u64;
    launch!(
        dev,
        ELEMENTWISE,
        entry::<T>("where_fwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [cond.ptr(), a.ptr(), b.ptr(), out.ptr(), n, bc]
    )
}

/// ga = g where cond, gb = g elsewhere, in the output's shape
/// ([`crate::cpu::elementwise::where_backward`]).
pub fn where_backward<T: CudaFloat>(
    dev: &CudaDevice,
    cond: &DeviceBuffer<T>,
    cond_dims: &[usize],
    g: &DeviceBuffer<T>,
    out_dims: &[usize],
    ga: &mut DeviceBuffer<T>,
    gb: &mut DeviceBuffer<T>,
) -> Result<()> {
    let n = out_len(out_dims);
    check_len("where_backward", "cond", cond, out_len(cond_dims))?;
    check_len("where_backward", "g", g, n)?;
    check_len("where_backward", "ga", ga, n)?;
    check_len("where_backward", "gb", gb, n)?;
    let bc = BroadcastArgs::new("where_backward", &[cond_dims], out_dims)?;
    let n = n as u64;
    launch!(
        dev,
        ELEMENTWISE,
        entry::<T>("where_bwd"),
        cfg1(dev.grid_for(n, THREADS), THREADS),
        [cond.ptr(), g.ptr(), ga.ptr(), gb.ptr(), n, bc]
    )
}

#[cfg(test)]
mod tests {
    use super::BroadcastArgs;

    #[test]
    fn merges_contiguous_axes() {
        let same = BroadcastArgs::new("t", &[&[2, 3, 4], &[2, 3, 4]], &[2, 3, 4]).unwrap();
        assert_eq!((same.rank, same.dims[0], same.same), (1, 24, [1, 1, 0]));
        let bias = BroadcastArgs::new("t", &[&[5, 7], &[7]], &[5, 7]).unwrap();
        assert_eq!((bias.rank, &bias.dims[..2]), (2, &[5u64, 7][..]));
        assert_eq!(
            (&bias.strides[0][..2], &bias.strides[1][..2]),
            (&[7u64, 1][..], &[0u64, 1][..])
        );
        // [3, 1, 1031] with [3, 2, 1]: nothing merges across the broadcast axes.
        let mixed = BroadcastArgs::new("t", &[&[3, 1, 1031], &[3, 2, 1]], &[3, 2, 1031]).unwrap();
        assert_eq!(mixed.rank, 3);
        assert!(BroadcastArgs::new("t", &[&[2, 3]], &[3, 2]).is_err());
        let scalar = BroadcastArgs::new("t", &[&[], &[3]], &[3]).unwrap();
        assert_eq!(
            (scalar.rank, scalar.strides[0][0], scalar.strides[1][0]),
            (1, 0, 1)
        );
    }
}
