//! Pooling on NCHW tensors: max-pool (gradient to the window's maximum), average-pool
//! (gradient shared evenly over the window) and global average pooling.
//!
//! Shape legend: x [N, C, H, W] -> y [N, C, Ho, Wo], Ho = (H + 2·ph − KH)/sh + 1 (floor mode,
//! as PyTorch); global_avg_pool: x [N, C, H, W] -> [N, C].
//! Max-pool ties go to the first element of the window in row-major order (PyTorch's); padding
//! never wins. Average-pool counts the padding zeros in the divisor when `count_include_pad`
//! (PyTorch's default).

use std::sync::Arc;

use anglegrad_engine::{with_float, BackwardRule, Error, Result, Tensor};
use anglegrad_kernels::cpu::pool::{self, Pool2dParams};
use anglegrad_kernels::Float;

/// Window size, stride and padding of a pooling layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dOptions {
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    pub padding: (usize, usize),
}

impl Pool2dOptions {
    /// A square window k with stride s and padding p.
    pub fn new(kernel: usize, stride: usize, padding: usize) -> Self {
        Pool2dOptions {
            kernel: (kernel, kernel),
            stride: (stride, stride),
            padding: (padding, padding),
        }
    }
}

fn params(op: &'static str, x: &Tensor, o: &Pool2dOptions) -> Result<Pool2dParams> {
    if x.rank() != 4 {
        return Err(Error::invalid(
            op,
            format!("x must be [N, C, H, W], got {}", x.shape()),
        ));
    }
    let d = x.dims();
    let p = Pool2dParams {
        n: d[0],
        c: d[1],
        h: d[2],
        w: d[3],
        kh: o.kernel.0,
        kw: o.kernel.1,
        stride: o.stride,
        pad: o.padding,
    };
    let valid = p.kh > 0
        && p.kw > 0
        && p.stride.0 > 0
        && p.stride.1 > 0
        && p.pad.0 * 2 <= p.kh
        && p.pad.1 * 2 <= p.kw
        && p.h + 2 * p.pad.0 >= p.kh
        && p.w + 2 * p.pad.1 >= p.kw;
    if !valid {
        return Err(Error::invalid(
            op,
            format!(
                "window {o:?} does not fit input {} (padding at most half the window)",
                x.shape()
            ),
        ));
    }
    Ok(p)
}

/// Max-pool.
pub fn max_pool2d(x: &Tensor, options: Pool2dOptions) -> Result<Tensor> {
    let p = params("max_pool2d", x, &options)?;
    let mut argmax = vec![0usize; p.y_len()];
    let y = with_float!(x.dtype(), "max_pool2d", |T| {
        let mut y = vec![T::ZERO; p.y_len()];
        pool::max_pool2d_forward(&p, x.as_slice::<T>()?, &mut y, &mut argmax);
        Tensor::from_vec(y, [p.n, p.c, p.out_h(), p.out_w()])
    })?;
    y.record(
        &[x],
        MaxPoolRule {
            p,
            argmax: Arc::new(argmax),
        },
    )
}

struct MaxPoolRule {
    p: Pool2dParams,
    argmax: Arc<Vec<usize>>,
}

impl BackwardRule for MaxPoolRule {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let p = &self.p;
        let dx = with_float!(dy.dtype(), "max_pool2d", |T| {
            let mut dx = vec![T::ZERO; p.x_len()];
            pool::max_pool2d_backward(p, dy.as_slice::<T>()?, &self.argmax, &mut dx);
            Tensor::from_vec(dx, [p.n, p.c, p.h, p.w])
        })?;
        Ok(vec![Some(dx)])
    }
}

/// Average-pool.
pub fn avg_pool2d(x: &Tensor, options: Pool2dOptions, count_include_pad: bool) -> Result<Tensor> {
    let p = params("avg_pool2d", x, &options)?;
    let y = with_float!(x.dtype(), "avg_pool2d", |T| {
        let mut y = vec![T::ZERO; p.y_len()];
        pool::avg_pool2d_forward(&p, x.as_slice::<T>()?, count_include_pad, &mut y);
        Tensor::from_vec(y, [p.n, p.c, p.out_h(), p.out_w()])
    })?;
    y.record(
        &[x],
        AvgPoolRule {
            p,
            count_include_pad,
        },
    )
}

struct AvgPoolRule {
    p: Pool2dParams,
    count_include_pad: bool,
}

impl BackwardRule for AvgPoolRule {
    fn name(&self) -> &'static str {
        "avg_pool2d"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let p = &self.p;
        let dx = with_float!(dy.dtype(), "avg_pool2d", |T| {
            let mut dx = vec![T::ZERO; p.x_len()];
            pool::avg_pool2d_backward(p, dy.as_slice::<T>()?, self.count_include_pad, &mut dx);
            Tensor::from_vec(dx, [p.n, p.c, p.h, p.w])
        })?;
        Ok(vec![Some(dx)])
    }
}

/// Mean over the spatial axes: [N, C, H, W] -> [N, C].
pub fn global_avg_pool(x: &Tensor) -> Result<Tensor> {
    if x.rank() != 4 {
        return Err(Error::invalid(
            "global_avg_pool",
            format!("x must be [N, C, H, W], got {}", x.shape()),
        ));
    }
    let d = x.dims().to_vec();
    let (planes, plane) = (d[0] * d[1], d[2] * d[3]);
    let y = with_float!(x.dtype(), "global_avg_pool", |T| {
        let mut y = vec![T::ZERO; planes];
        pool::global_avg_pool_forward(x.as_slice::<T>()?, planes, plane, &mut y);
        Tensor::from_vec(y, [d[0], d[1]])
    })?;
    y.record(&[x], GlobalAvgPoolRule { dims: d })
}

struct GlobalAvgPoolRule {
    dims: Vec<usize>,
}

impl BackwardRule for GlobalAvgPoolRule {
    fn name(&self) -> &'static str {
        "global_avg_pool"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let d = &self.dims;
        let (planes, plane) = (d[0] * d[1], d[2] * d[3]);
        let dx = with_float!(dy.dtype(), "global_avg_pool", |T| {
            let mut dx = vec![T::ZERO; planes * plane];
            pool::global_avg_pool_backward(dy.as_slice::<T>()?, planes, plane, &mut dx);
            Tensor::from_vec(dx, d.as_slice())
        })?;
        Ok(vec![Some(dx)])
    }
}
