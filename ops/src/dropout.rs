//! Dropout (Srivastava et al. 2014), inverted: in training each element is zeroed with
//! probability p and the survivors are scaled by 1/(1 − p), so evaluation is the identity.
//!
//! Shape legend: x, y, mask all have the same shape. The mask comes from the seeded
//! SplitMix64 stream `seed` (element i uses draw i), so a step is reproducible; the backward
//! multiplies by the same mask.

use anglegrad_engine::{with_float, BackwardRule, Error, Result, Tensor};
use anglegrad_kernels::cpu::dropout as kernel;
use anglegrad_kernels::Float;

/// y = x ⊙ mask / (1 − p) with a mask drawn from `seed`; the identity when p = 0.
pub fn dropout(x: &Tensor, p: f64, seed: u64) -> Result<Tensor> {
    if !(0.0..1.0).contains(&p) {
        return Err(Error::invalid(
            "dropout",
            format!("p must be in [0, 1), got {p}"),
        ));
    }
    if p == 0.0 {
        return Ok(x.clone());
    }
    let (y, mask) = with_float!(x.dtype(), "dropout", |T| {
        let (mut y, mut mask) = (vec![T::ZERO; x.numel()], vec![T::ZERO; x.numel()]);
        kernel::dropout_forward(x.as_slice::<T>()?, p, seed, &mut y, &mut mask);
        Ok((
            Tensor::from_vec(y, x.dims())?,
            Tensor::from_vec(mask, x.dims())?,
        ))
    })?;
    y.record(&[x], DropoutRule { mask })
}

struct DropoutRule {
    mask: Tensor,
}

impl BackwardRule for DropoutRule {
    fn name(&self) -> &'static str {
        "dropout"
    }
    fn backward(&self, dy: &Tensor, _needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        let dx = with_float!(dy.dtype(), "dropout", |T| {
            let mut dx = vec![T::ZERO; dy.numel()];
            kernel::dropout_backward(dy.as_slice::<T>()?, self.mask.as_slice::<T>()?, &mut dx);
            Tensor::from_vec(dx, dy.dims())
        })?;
        Ok(vec![Some(dx)])
    }
    fn saved_tensors(&self) -> Vec<&Tensor> {
        vec![&self.mask]
    }
}
