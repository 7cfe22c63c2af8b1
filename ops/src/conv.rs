//! 2-D convolution (cross-correlation, as PyTorch defines it) on NCHW tensors.
//!
//! Shape legend: x [N, Cin, H, W], w [Cout, Cin/G, KH, KW], b [Cout], y [N, Cout, Ho, Wo] with
//! Ho = (H + 2·ph − dh·(KH − 1) − 1)/sh + 1 (Wo likewise), G = groups (G = Cin = Cout is the
//! depthwise convolution of MobileFaceNet).
//!
//!   y[n, co, oh, ow] = b[co] + Σ_{ci, kh, kw} w[co, ci, kh, kw] · x[n, ci', oh·sh + kh·dh − ph, …]
//!
//! A convolution is a matrix product in disguise (see `kernels/src/cpu/conv/`): per image and
//! group, Y [Cout/G, Ho·Wo] = W [Cout/G, Cin/G·KH·KW] · cols [Cin/G·KH·KW, Ho·Wo], where each
//! column of `cols` is the receptive field of one output pixel. So the backward is two more
//! products: ∂L/∂W = ∂L/∂Y · colsᵀ (backward-weight) and ∂L/∂cols = Wᵀ · ∂L/∂Y, scattered
//! back onto the image (backward-data, "col2im"); ∂L/∂b sums ∂L/∂Y over n, oh, ow.

use anglegrad_engine::{with_float, BackwardRule, Error, Result, Shape, Tensor};
use anglegrad_kernels::cpu::conv::{self, Conv2dParams};
use anglegrad_kernels::Float;

use crate::util::same_dtype;

/// Stride, padding, dilation and groups of a convolution (PyTorch's defaults: 1, 0, 1, 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOptions {
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

impl Conv2dOptions {
    /// Square stride and padding, no dilation, one group.
    pub fn new(stride: usize, padding: usize) -> Self {
        Conv2dOptions {
            stride: (stride, stride),
            padding: (padding, padding),
            ..Self::default()
        }
    }

    pub fn groups(self, groups: usize) -> Self {
        Conv2dOptions { groups, ..self }
    }

    pub fn dilation(self, d: usize) -> Self {
        Conv2dOptions {
            dilation: (d, d),
            ..self
        }
    }
}

/// The kernel parameters after checking every shape and option (errors name both shapes).
fn params(x: &Tensor, w: &Tensor, o: &Conv2dOptions) -> Result<Conv2dParams> {
    const OP: &str = "conv2d";
    same_dtype(OP, x, w)?;
    let mismatch = || Error::ShapeMismatch {
        op: OP,
        lhs: x.shape().clone(),
        rhs: w.shape().clone(),
    };
    if x.rank() != 4 || w.rank() != 4 {
        return Err(Error::invalid(
            OP,
            format!(
                "x must be [N, C, H, W] and w [Cout, Cin/G, KH, KW], got {} and {}",
                x.shape(),
                w.shape()
            ),
        ));
    }
    let (xd, wd) = (x.dims(), w.dims());
    let g = o.groups;
    if g == 0 || xd[1] % g != 0 || wd[0] % g != 0 || wd[1] * g != xd[1] {
        return Err(mismatch());
    }
    let positive = [
        o.stride.0,
        o.stride.1,
        o.dilation.0,
        o.dilation.1,
        wd[2],
        wd[3],
    ];
    if positive.contains(&0) {
        return Err(Error::invalid(
            OP,
            format!(
                "stride, dilation and kernel sizes must be >= 1 ({o:?}, w {})",
                w.shape()
            ),
        ));
    }
    let p = Conv2dParams {
        n: xd[0],
        c_in: xd[1],
        h: xd[2],
        w: xd[3],
        c_out: wd[0],
        kh: wd[2],
        kw: wd[3],
        stride: o.stride,
        pad: o.padding,
        dilation: o.dilation,
        groups: g,
    };
    if p.h + 2 * p.pad.0 <= p.dilation.0 * (p.kh - 1)
        || p.w + 2 * p.pad.1 <= p.dilation.1 * (p.kw - 1)
    {
        return Err(Error::invalid(
            OP,
            format!(
                "kernel {} is larger than the padded input {}",
                w.shape(),
                x.shape()
            ),
        ));
    }
    Ok(p)
}

/// y = conv2d(x, w) + b.
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    options: Conv2dOptions,
) -> Result<Tensor> {
    let p = params(x, w, &options)?;
    if let Some(b) = b {
        same_dtype("conv2d", x, b)?;
        if b.dims() != [p.c_out] {
            return Err(Error::ShapeMismatch {
                op: "conv2d bias",
                lhs: Shape::new(&[p.c_out]),
                rhs: b.shape().clone(),
            });
        }
    }
    let dims = [p.n, p.c_out, p.out_h(), p.out_w()];
    let y = with_float!(x.dtype(), "conv2d", |T| {
        let mut y = vec![T::ZERO; p.y_len()];
        let bias = b.map(|b| b.as_slice::<T>()).transpose()?;
        conv::conv2d_forward(&p, x.as_slice::<T>()?, w.as_slice::<T>()?, bias, &mut y);
        Tensor::from_vec(y, dims)
    })?;
    let rule = Conv2dRule {
        p,
        x: x.detach(),
        w: w.detach(),
    };
    match b {
        Some(b) => y.record(&[x, w, b], rule),
        None => y.record(&[x, w], rule),
    }
}

struct Conv2dRule {
    p: Conv2dParams,
    x: Tensor,
    w: Tensor,
}

impl BackwardRule for Conv2dRule {
    fn name(&self) -> &'static str {
        "conv2d"
    }

    fn backward(&self, dy: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let p = &self.p;
        with_float!(dy.dtype(), "conv2d", |T| {
            let g = dy.as_slice::<T>()?;
            let dx = if needs[0] {
                let mut dx = vec![T::ZERO; p.x_len()];
                conv::conv2d_backward_data(p, g, self.w.as_slice::<T>()?, &mut dx);
                Some(Tensor::from_vec(dx, self.x.dims())?)
            } else {
                None
            };
            let dw = if needs[1] {
                let mut dw = vec![T::ZERO; p.w_len()];
                conv::conv2d_backward_weight(p, self.x.as_slice::<T>()?, g, &mut dw);
                Some(Tensor::from_vec(dw, self.w.dims())?)
            } else {
                None
            };
            let mut grads = vec![dx, dw];
            if needs.len() == 3 {
                let mut db = vec![T::ZERO; p.c_out];
                conv::conv2d_backward_bias(p, g, &mut db);
                grads.push(Some(Tensor::from_vec(db, [p.c_out])?));
            }
            Ok(grads)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.x, &self.w]
    }
}
