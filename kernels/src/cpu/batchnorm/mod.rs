//! Batch normalisation (Ioffe & Szegedy 2015) over the channel axis, training and eval modes.
//!
//! Shape legend: x, y, dy, dx are [N, C, S] (S = H·W for BatchNorm2d, 1 for BatchNorm1d);
//! gamma (weight), beta (bias), running_mean, running_var, save_mean, save_invstd, dgamma,
//! dbeta are [C]. M = N·S values per channel.
//!
//! Train:  mean_c = Σ x / M,  var_c = Σ (x - mean_c)² / M  (biased, used to normalise)
//!         x̂ = (x - mean_c) · invstd_c,  invstd_c = 1 / sqrt(var_c + eps),  y = gamma_c·x̂ + beta_c
//!         running_mean ← (1 - momentum)·running_mean + momentum·mean_c
//!         running_var  ← (1 - momentum)·running_var  + momentum·var_c·M/(M - 1)  (unbiased)
//!         (PyTorch's definition of momentum, default 0.1.)
//! Eval:   y = gamma_c·(x - running_mean_c)/sqrt(running_var_c + eps) + beta_c
//! Backward (train): dbeta_c = Σ dy, dgamma_c = Σ dy·x̂,
//!         dx = gamma_c·invstd_c/M · (M·dy - dbeta_c - x̂·dgamma_c)
//! Backward (eval, statistics frozen): dx = dy·gamma_c·invstd_c, same dgamma, dbeta with x̂
//! from the running statistics.
//!
//! The `*_ref` functions are these formulas as plain loops; the entry points compute the
//! per-channel sums in parallel over channels (eight-lane partial sums) and apply the per-channel
//! affine maps in parallel over [S]-planes. Missing gamma/beta mean 1 and 0 (affine = false).

use crate::cpu::reduce::sum_slice;
use crate::Float;
use rayon::prelude::*;

/// Sizes of a batch-norm call: x is [n, c, s].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchNormShape {
    pub n: usize,
    pub c: usize,
    pub s: usize,
}

impl BatchNormShape {
    pub fn len(&self) -> usize {
        self.n * self.c * self.s
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn check(&self, x: usize, y: usize, what: &str) {
        assert!(
            x == self.len() && y == self.len(),
            "{what}: buffer lengths do not match {self:?}"
        );
    }
    /// The [S] planes of channel `ch`, one per image.
    fn planes<'a, T>(&self, x: &'a [T], ch: usize) -> impl Iterator<Item = &'a [T]> + 'a {
        let (c, s) = (self.c, self.s);
        (0..self.n).map(move |i| &x[(i * c + ch) * s..][..s])
    }
}

fn param<T: Float>(v: Option<&[T]>, ch: usize, default: T) -> T {
    v.map_or(default, |v| v[ch])
}

/// Training-mode forward: normalises with the batch statistics, saves mean and invstd for the
/// backward, and updates the running statistics (when given).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_forward_train<T: Float>(
    sh: &BatchNormShape,
    x: &[T],
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
    eps: f64,
    momentum: f64,
    running: Option<(&mut [T], &mut [T])>,
    y: &mut [T],
    save_mean: &mut [T],
    save_invstd: &mut [T],
) {
    sh.check(x.len(), y.len(), "batch_norm_forward_train");
    assert!(
        save_mean.len() == sh.c && save_invstd.len() == sh.c,
        "batch_norm: stats length"
    );
    let m = sh.n * sh.s;
    assert!(m > 0, "batch_norm_forward_train: no values per channel");
    // Two passes per channel (mean, then squared deviations): no cancellation.
    let stats: Vec<(T, T)> = (0..sh.c)
        .into_par_iter()
        .map(|ch| {
            let mean =
                sh.planes(x, ch).map(sum_slice).fold(T::ZERO, |a, b| a + b) / T::from_usize(m);
            let ss = sh
                .planes(x, ch)
                .map(|pl| {
                    let mut acc = [T::ZERO; 8];
                    for (i, &v) in pl.iter().enumerate() {
                        let d = v - mean;
                        acc[i % 8] += d * d;
                    }
                    sum_slice(&acc)
                })
                .fold(T::ZERO, |a, b| a + b);
            (mean, ss / T::from_usize(m))
        })
        .collect();
    for (ch, &(mean, var)) in stats.iter().enumerate() {
        save_mean[ch] = mean;
        save_invstd[ch] = T::ONE / (var + T::from_f64(eps)).sqrt();
    }
    if let Some((rm, rv)) = running {
        update_running(&stats, m, momentum, rm, rv);
    }
    apply_affine(sh, x, y, |ch| {
        let scale = param(gamma, ch, T::ONE) * save_invstd[ch];
        (scale, param(beta, ch, T::ZERO) - save_mean[ch] * scale)
    });
}

fn update_running<T: Float>(stats: &[(T, T)], m: usize, momentum: f64, rm: &mut [T], rv: &mut [T]) {
    assert!(
        rm.len() == stats.len() && rv.len() == stats.len(),
        "batch_norm: running stats length"
    );
    let mo = T::from_f64(momentum);
    let unbias = if m > 1 {
        T::from_usize(m) / T::from_usize(m - 1)
    } else {
        T::ONE
    };
    for ((&(mean, var), rmv), rvv) in stats.iter().zip(rm.iter_mut()).zip(rv.iter_mut()) {
        *rmv = (T::ONE - mo) * *rmv + mo * mean;
        *rvv = (T::ONE - mo) * *rvv + mo * var * unbias;
    }
}

/// y = scale_c·x + shift_c over every [S]-plane, in parallel.
fn apply_affine<T: Float>(
    sh: &BatchNormShape,
    x: &[T],
    y: &mut [T],
    coef: impl Fn(usize) -> (T, T) + Sync,
) {
    if sh.s == 0 {
        return;
    }
    let coefs: Vec<(T, T)> = (0..sh.c).map(coef).collect();
    y.par_chunks_mut(sh.s)
        .zip(x.par_chunks(sh.s))
        .enumerate()
        .for_each(|(i, (yp, xp))| {
            let (a, b) = coefs[i % sh.c];
            for (yv, &xv) in yp.iter_mut().zip(xp) {
                *yv = a * xv + b;
            }
        });
}

/// Eval-mode forward with the running statistics.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_forward_eval<T: Float>(
    sh: &BatchNormShape,
    x: &[T],
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
    running_mean: &[T],
    running_var: &[T],
    eps: f64,
    y: &mut [T],
) {
    sh.check(x.len(), y.len(), "batch_norm_forward_eval");
    apply_affine(sh, x, y, |ch| {
        let scale = param(gamma, ch, T::ONE) / (running_var[ch] + T::from_f64(eps)).sqrt();
        (scale, param(beta, ch, T::ZERO) - running_mean[ch] * scale)
    });
}

/// Training-mode backward from the saved statistics: writes dx, dgamma, dbeta.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward<T: Float>(
    sh: &BatchNormShape,
    x: &[T],
    dy: &[T],
    gamma: Option<&[T]>,
    save_mean: &[T],
    save_invstd: &[T],
    dx: &mut [T],
    dgamma: &mut [T],
    dbeta: &mut [T],
) {
    sh.check(x.len(), dy.len(), "batch_norm_backward");
    sh.check(dx.len(), dy.len(), "batch_norm_backward");
    let m = T::from_usize(sh.n * sh.s);
    grad_params(sh, x, dy, save_mean, save_invstd, dgamma, dbeta);
    // dx = k·(dy - dbeta/M - x̂·dgamma/M), k = gamma·invstd, x̂ = (x - mean)·invstd.
    let coefs: Vec<[T; 4]> = (0..sh.c)
        .map(|ch| {
            let k = param(gamma, ch, T::ONE) * save_invstd[ch];
            let slope = save_invstd[ch] * dgamma[ch] / m;
            [k, slope, save_mean[ch], dbeta[ch] / m]
        })
        .collect();
    if sh.s == 0 {
        return;
    }
    dx.par_chunks_mut(sh.s).enumerate().for_each(|(i, dxp)| {
        let [k, slope, mean, db_m] = coefs[i % sh.c];
        let (xp, gp) = (&x[i * sh.s..][..sh.s], &dy[i * sh.s..][..sh.s]);
        for ((d, &xv), &g) in dxp.iter_mut().zip(xp).zip(gp) {
            *d = k * (g - db_m - (xv - mean) * slope);
        }
    });
}

/// dbeta_c = Σ dy, dgamma_c = Σ dy·(x - mean_c)·invstd_c, in parallel over channels.
fn grad_params<T: Float>(
    sh: &BatchNormShape,
    x: &[T],
    dy: &[T],
    mean: &[T],
    invstd: &[T],
    dgamma: &mut [T],
    dbeta: &mut [T],
) {
    assert!(
        dgamma.len() == sh.c && dbeta.len() == sh.c,
        "batch_norm: parameter grads length"
    );
    let sums: Vec<(T, T)> = (0..sh.c)
        .into_par_iter()
        .map(|ch| {
            let (mut sg, mut sgx) = (T::ZERO, T::ZERO);
            for (xp, gp) in sh.planes(x, ch).zip(sh.planes(dy, ch)) {
                let mut acc = [T::ZERO; 8];
                for (i, (&xv, &g)) in xp.iter().zip(gp).enumerate() {
                    acc[i % 8] += g * (xv - mean[ch]);
                }
                sg += sum_slice(gp);
                sgx += sum_slice(&acc);
            }
            (sg, sgx * invstd[ch])
        })
        .collect();
    for (ch, (sg, sgx)) in sums.into_iter().enumerate() {
        dbeta[ch] = sg;
        dgamma[ch] = sgx;
    }
}

/// Eval-mode backward (frozen statistics): dx = dy·gamma·invstd; dgamma, dbeta as in training
/// but with x̂ from the running statistics.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward_eval<T: Float>(
    sh: &BatchNormShape,
    x: &[T],
    dy: &[T],
    gamma: Option<&[T]>,
    running_mean: &[T],
    running_var: &[T],
    eps: f64,
    dx: &mut [T],
    dgamma: &mut [T],
    dbeta: &mut [T],
) {
    sh.check(x.len(), dy.len(), "batch_norm_backward_eval");
    let invstd: Vec<T> = running_var
        .iter()
        .map(|&v| T::ONE / (v + T::from_f64(eps)).sqrt())
        .collect();
    grad_params(sh, x, dy, running_mean, &invstd, dgamma, dbeta);
    apply_affine(sh, dy, dx, |ch| {
        (param(gamma, ch, T::ONE) * invstd[ch], T::ZERO)
    });
}

/// Reference training forward (plain loops, same outputs as [`batch_norm_forward_train`]).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_forward_train_ref<T: Float>(
    sh: &BatchNormShape,
    x: &[T],
    gamma: Option<&[T]>,
    beta: Option<&[T]>,
    eps: f64,
    momentum: f64,
    running: Option<(&mut [T], &mut [T])>,
    y: &mut [T],
    save_mean: &mut [T],
    save_invstd: &mut [T],
) {
    let m = sh.n * sh.s;
    let at = |i: usize, ch: usize, j: usize| (i * sh.c + ch) * sh.s + j;
    let mut stats = Vec::new();
    for ch in 0..sh.c {
        let mut sum = T::ZERO;
        for i in 0..sh.n {
            for j in 0..sh.s {
                sum += x[at(i, ch, j)];
            }
        }
        let mean = sum / T::from_usize(m);
        let mut ss = T::ZERO;
        for i in 0..sh.n {
            for j in 0..sh.s {
                ss += (x[at(i, ch, j)] - mean) * (x[at(i, ch, j)] - mean);
            }
        }
        let var = ss / T::from_usize(m);
        let invstd = T::ONE / (var + T::from_f64(eps)).sqrt();
        for i in 0..sh.n {
            for j in 0..sh.s {
                let xhat = (x[at(i, ch, j)] - mean) * invstd;
                y[at(i, ch, j)] = param(gamma, ch, T::ONE) * xhat + param(beta, ch, T::ZERO);
            }
        }
        save_mean[ch] = mean;
        save_invstd[ch] = invstd;
        stats.push((mean, var));
    }
    if let Some((rm, rv)) = running {
        update_running(&stats, m, momentum, rm, rv);
    }
}

/// Reference training backward.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward_ref<T: Float>(
    sh: &BatchNormShape,
    x: &[T],
    dy: &[T],
    gamma: Option<&[T]>,
    save_mean: &[T],
    save_invstd: &[T],
    dx: &mut [T],
    dgamma: &mut [T],
    dbeta: &mut [T],
) {
    let m = T::from_usize(sh.n * sh.s);
    let at = |i: usize, ch: usize, j: usize| (i * sh.c + ch) * sh.s + j;
    for ch in 0..sh.c {
        let (mut sg, mut sgx) = (T::ZERO, T::ZERO);
        for i in 0..sh.n {
            for j in 0..sh.s {
                let xhat = (x[at(i, ch, j)] - save_mean[ch]) * save_invstd[ch];
                sg += dy[at(i, ch, j)];
                sgx += dy[at(i, ch, j)] * xhat;
            }
        }
        dbeta[ch] = sg;
        dgamma[ch] = sgx;
        for i in 0..sh.n {
            for j in 0..sh.s {
                let xhat = (x[at(i, ch, j)] - save_mean[ch]) * save_invstd[ch];
                dx[at(i, ch, j)] = param(gamma, ch, T::ONE) * save_invstd[ch] / m
                    * (m * dy[at(i, ch, j)] - sg - xhat * sgx);
            }
        }
    }
}

#[cfg(test)]
mod tests;
