//! Gradient checking by central differences, in f64.
//!
//! For a function f of some tensors, pick a fixed random cotangent v of f's output shape and
//! look at the scalar L(x) = Σ v ⊙ f(x). The tape gives ∂L/∂x (a vector-Jacobian product); the
//! central difference
//!
//!   ∂L/∂x_j ≈ (L(x + h e_j) − L(x − h e_j)) / 2h
//!
//! estimates the same number with error O(h²) from truncation plus O(ε·|L|/h) from rounding
//! (ε = 2.2e-16 in f64; h = 1e-6 balances them near 1e-10 relative). The check passes when for
//! every element |analytic − numeric| <= atol + rtol·max(|analytic|, |numeric|); the report
//! says how much of that budget the worst element used (1.0 = at the limit), as llm.c's tests
//! do, so a tolerance that is far too loose shows up as a tiny "budget used".
//!
//! Check away from kinks (relu at 0, ties in max, the ArcFace threshold switch): there the
//! function is not differentiable and the two sides of the difference disagree.

use anglegrad_engine::{DType, Result, Rng, Tape, Tensor};

/// Step and tolerances of one check.
#[derive(Clone, Copy, Debug)]
pub struct GradCheck {
    /// Finite-difference step h.
    pub step: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance (for gradients near 0).
    pub atol: f64,
    /// Seed of the random cotangent v.
    pub seed: u64,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            step: 1e-6,
            rtol: 1e-6,
            atol: 1e-9,
            seed: 0x5EED,
        }
    }
}

/// What a passing check measured.
#[derive(Clone, Debug)]
pub struct GradReport {
    /// Number of gradient elements compared.
    pub elements: usize,
    /// Largest |analytic − numeric| / (atol + rtol·max(|a|, |n|)) over all elements.
    pub budget_used: f64,
    /// Largest relative error |a − n| / max(|a|, |n|, 1e-300).
    pub worst_rel_err: f64,
    /// Largest |analytic gradient| element: a row whose gradient is all zeros checks nothing,
    /// and tables use this to reject such rows.
    pub max_abs_grad: f64,
    /// The ops the tape recorded while computing f (for coverage).
    pub ops: Vec<&'static str>,
}

/// Checks the tape's gradient of `f` with respect to every input.
pub fn check_gradients<F>(
    f: F,
    inputs: &[Tensor],
    cfg: &GradCheck,
) -> std::result::Result<GradReport, String>
where
    F: Fn(&[Tensor]) -> Result<Tensor>,
{
    let wrt = vec![true; inputs.len()];
    check_gradients_wrt(f, inputs, &wrt, cfg)
}

/// Checks the gradient with respect to the inputs where `wrt` is true; the others are
/// constants (masks, indices stored as floats, ...).
pub fn check_gradients_wrt<F>(
    f: F,
    inputs: &[Tensor],
    wrt: &[bool],
    cfg: &GradCheck,
) -> std::result::Result<GradReport, String>
where
    F: Fn(&[Tensor]) -> Result<Tensor>,
{
    let fail = |e: anglegrad_engine::Error| format!("f failed: {e}");
    if let Some(t) = inputs.iter().find(|t| t.dtype() != DType::F64) {
        return Err(format!(
            "gradient checks run in f64, got an input of dtype {}",
            t.dtype()
        ));
    }
    let plain: Vec<Tensor> = inputs.iter().map(|t| t.detach()).collect();
    let y0 = f(&plain).map_err(fail)?;
    let mut rng = Rng::new(cfg.seed);
    let v: Vec<f64> = (0..y0.numel()).map(|_| rng.normal()).collect();
    let cotangent = Tensor::from_vec(v.clone(), y0.shape().clone()).map_err(fail)?;
    let objective = |xs: &[Tensor]| -> std::result::Result<f64, String> {
        let y = f(xs).map_err(fail)?;
        Ok(y.to_vec_f64().iter().zip(&v).map(|(a, b)| a * b).sum())
    };

    // Analytic: one backward pass.
    let tape = Tape::new();
    let watched: Vec<Tensor> = plain
        .iter()
        .zip(wrt)
        .map(|(t, &w)| if w { tape.watch(t) } else { t.clone() })
        .collect();
    let y = f(&watched).map_err(fail)?;
    if y.to_vec_f64() != y0.to_vec_f64() {
        return Err("f gives different values with and without a tape".into());
    }
    let ops = tape.op_names();
    let grads = if y.is_tracked() {
        tape.backward_with_seed(&y, &cotangent).map_err(fail)?
    } else {
        anglegrad_engine::Grads::default()
    };

    // Numeric: two evaluations per element.
    let mut report = GradReport {
        elements: 0,
        budget_used: 0.0,
        worst_rel_err: 0.0,
        max_abs_grad: 0.0,
        ops,
    };
    for (i, input) in plain.iter().enumerate() {
        if !wrt[i] {
            continue;
        }
        let analytic = match grads.get(input) {
            Some(g) => g.to_vec_f64(),
            None => vec![0.0; input.numel()],
        };
        let base = input.to_vec_f64();
        for j in 0..base.len() {
            let at = |delta: f64| -> std::result::Result<f64, String> {
                let mut moved = base.clone();
                moved[j] += delta;
                let mut xs = plain.clone();
                xs[i] = Tensor::from_vec(moved, input.shape().clone()).map_err(fail)?;
                objective(&xs)
            };
            let numeric = (at(cfg.step)? - at(-cfg.step)?) / (2.0 * cfg.step);
            let a = analytic[j];
            report.max_abs_grad = report.max_abs_grad.max(a.abs());
            let err = (a - numeric).abs();
            let scale = a.abs().max(numeric.abs());
            let used = err / (cfg.atol + cfg.rtol * scale);
            report.elements += 1;
            report.worst_rel_err = report.worst_rel_err.max(err / scale.max(1e-300));
            if used > report.budget_used || used.is_nan() {
                report.budget_used = used;
            }
            if used.is_nan() || used > 1.0 {
                return Err(format!(
                    "input {i} element {j} (of shape {}): analytic {a:.12e} vs numeric \
                     {numeric:.12e} (abs err {err:.3e}, rel err {:.3e}, {used:.1}x the budget \
                     atol {:.0e} + rtol {:.0e}·max)",
                    input.shape(),
                    err / scale.max(1e-300),
                    cfg.atol,
                    cfg.rtol
                ));
            }
        }
    }
    Ok(report)
}
