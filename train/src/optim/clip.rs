//! Gradient clipping by global norm, with `torch.nn.utils.clip_grad_norm_` semantics
//! (norm_type 2, `error_if_nonfinite=False`).
//!
//! ```text
//! total = ‖ (‖g₁‖₂, ‖g₂‖₂, …) ‖₂            the 2-norm of all gradients as one vector
//! c     = max_norm / (total + 1e-6)
//! gᵢ   ← gᵢ · c        when c < 1            (torch multiplies by min(c, 1))
//! ```
//!
//! The norm is accumulated in f64 whatever the gradients' dtype (torch accumulates f32
//! gradients in f32; the two agree to f32 rounding). A non-finite total is returned as is and,
//! as in torch, turns the gradients into NaN: check the returned norm to skip such a step.
//! insightface clips the backbone's gradients at 5 before each SGD step.

use anglegrad_engine::{with_float, Element, Error, Float, Grads, Result, Tensor};

use super::params::Params;

const OP: &str = "clip_grad_norm";

/// The parameters of `params` that have a gradient in `grads`, each tensor once.
fn with_grads(grads: &Grads, params: &mut dyn Params) -> Vec<Tensor> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    params.for_each_param(&mut |_, p| {
        if grads.get(p).is_some() && seen.insert(p.id()) {
            out.push(p.clone());
        }
    });
    out
}

fn sum_of_squares(t: &Tensor) -> Result<f64> {
    with_float!(t.dtype(), OP, |T| Ok(t
        .as_slice::<T>()?
        .iter()
        .map(|&x| {
            let x = x.to_f64();
            x * x
        })
        .sum::<f64>()))
}

/// The global 2-norm of the gradients of `params` (those that have one in `grads`).
pub fn grad_norm(grads: &Grads, params: &mut dyn Params) -> Result<f64> {
    let mut squares = 0.0;
    for p in with_grads(grads, params) {
        let g = grads.get(&p).expect("listed because present");
        // torch: the norm of the per-tensor norms.
        let n = sum_of_squares(g)?.sqrt();
        squares += n * n;
    }
    Ok(squares.sqrt())
}

/// Scales the gradients of `params` in `grads` so that their global 2-norm is at most
/// `max_norm`; returns the norm before clipping.
pub fn clip_grad_norm(grads: &mut Grads, params: &mut dyn Params, max_norm: f64) -> Result<f64> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(Error::invalid(
            OP,
            format!("max_norm must be ≥ 0, got {max_norm}"),
        ));
    }
    let total = grad_norm(grads, params)?;
    let coef = max_norm / (total + 1e-6);
    // A NaN coefficient (NaN norm) is scaled in too: torch's clamp keeps NaN.
    if coef < 1.0 || coef.is_nan() {
        for p in with_grads(grads, params) {
            let g = grads.get(&p).expect("listed because present");
            let scaled = with_float!(g.dtype(), OP, |T| scale::<T>(g, coef))?;
            grads.insert(p.id(), scaled);
        }
    }
    Ok(total)
}

fn scale<T: Element>(g: &Tensor, coef: f64) -> Result<Tensor> {
    let c = T::from_f64(coef);
    let v: Vec<T> = g.as_slice::<T>()?.iter().map(|&x| x * c).collect();
    Tensor::from_vec(v, g.dims())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::NamedTensors;
    use anglegrad_engine::Tape;

    /// Gradients (3, 4) → norm 5; clipping at 1 scales by 1/(5 + 1e-6).
    #[test]
    fn three_four_five() {
        let mut params: NamedTensors =
            [("a", Tensor::scalar(0.0f64)), ("b", Tensor::scalar(0.0f64))]
                .into_iter()
                .collect();
        let tape = Tape::new();
        let a = tape.watch(params.get("a").unwrap());
        let b = tape.watch(params.get("b").unwrap());
        let loss = anglegrad_ops::add(
            &anglegrad_ops::scale(&a, 3.0).unwrap(),
            &anglegrad_ops::scale(&b, 4.0).unwrap(),
        )
        .unwrap();
        let mut grads = tape.backward(&loss).unwrap();
        assert_eq!(clip_grad_norm(&mut grads, &mut params, 10.0).unwrap(), 5.0);
        assert_eq!(grads.wrt(&a).unwrap().to_scalar_f64().unwrap(), 3.0);
        assert_eq!(clip_grad_norm(&mut grads, &mut params, 1.0).unwrap(), 5.0);
        let ga = grads.wrt(&a).unwrap().to_scalar_f64().unwrap();
        assert_eq!(ga, 3.0 * (1.0 / (5.0 + 1e-6)));
        assert!((grad_norm(&grads, &mut params).unwrap() - 1.0).abs() < 1e-6);
    }
}
