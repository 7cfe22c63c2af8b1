//! PReLU (He et al. 2015): a ReLU whose negative side has a learnable slope per channel.
//!
//! Shape legend: x [N, C, S…], slope [C] (or [1], shared by all channels, PyTorch's default).
//!   y = x (x > 0),  slope_c·x (x <= 0)
//!   ∂L/∂x = g (x > 0), slope_c·g (x <= 0);   ∂L/∂slope_c = Σ_{x <= 0} g·x

use anglegrad_engine::{with_float, BackwardRule, Error, Result, Tensor};
use anglegrad_kernels::cpu::prelu as kernel;
use anglegrad_kernels::Float;

use crate::util::same_dtype;

fn layout(x: &Tensor, slope: &Tensor) -> Result<(usize, usize, usize)> {
    same_dtype("prelu", x, slope)?;
    let c = if x.rank() >= 2 { x.dims()[1] } else { 1 };
    if x.rank() < 2 || slope.rank() != 1 || (slope.dims()[0] != c && slope.dims()[0] != 1) {
        return Err(Error::ShapeMismatch {
            op: "prelu",
            lhs: x.shape().clone(),
            rhs: slope.shape().clone(),
        });
    }
    Ok((x.dims()[0], c, x.dims()[2..].iter().product()))
}

/// prelu(x) with a slope per channel (or one shared slope).
pub fn prelu(x: &Tensor, slope: &Tensor) -> Result<Tensor> {
    let (n, c, s) = layout(x, slope)?;
    let y = with_float!(x.dtype(), "prelu", |T| {
        let mut y = vec![T::ZERO; x.numel()];
        kernel::prelu_forward(x.as_slice::<T>()?, n, c, s, slope.as_slice::<T>()?, &mut y);
        Tensor::from_vec(y, x.dims())
    })?;
    y.record(
        &[x, slope],
        PreluRule {
            x: x.detach(),
            slope: slope.detach(),
            layout: (n, c, s),
        },
    )
}

struct PreluRule {
    x: Tensor,
    slope: Tensor,
    layout: (usize, usize, usize),
}

impl BackwardRule for PreluRule {
    fn name(&self) -> &'static str {
        "prelu"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let (n, c, s) = self.layout;
        with_float!(dy.dtype(), "prelu", |T| {
            let mut dx = vec![T::ZERO; self.x.numel()];
            let mut dslope = vec![T::ZERO; self.slope.numel()];
            kernel::prelu_backward(
                self.x.as_slice::<T>()?,
                n,
                c,
                s,
                self.slope.as_slice::<T>()?,
                dy.as_slice::<T>()?,
                &mut dx,
                &mut dslope,
            );
            Ok(vec![
                Some(Tensor::from_vec(dx, self.x.dims())?),
                Some(Tensor::from_vec(dslope, self.slope.dims())?),
            ])
        })
    }
    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.x, &self.slope]
    }
}
