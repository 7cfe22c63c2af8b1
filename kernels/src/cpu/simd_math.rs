//! Vectorised transcendental functions for the hot loops (softmax, log-sum-exp, exp).
//!
//! Shape legend: x, y are slices of the same length n.
//!
//! exp(x) = 2^n · e^r with n = round(x·log2 e) and r = x - n·ln 2 (ln 2 split in a high and a
//! low part so n·ln2_hi is exact), |r| <= ln2/2, e^r from the degree-6 minimax polynomial of
//! Cephes' expf (max error about 1 ulp). 2^n is built in the exponent bits, as 2^(n/2)·2^(n-n/2)
//! so that results near the overflow and subnormal edges are still right; x is clamped to
//! [-104, 89] first (outside, exp is 0 or inf in f32 anyway) and NaN is passed through.
//! AVX2+FMA is chosen at run time; otherwise the scalar `f32::exp` does the work.

/// y[i] = exp(x[i] - shift); returns Σ y[i] (summed in f32 lanes).
pub fn exp_shifted_sum_f32(x: &[f32], shift: f32, y: &mut [f32]) -> f32 {
    assert_eq!(x.len(), y.len(), "exp_shifted_sum_f32: lengths");
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the features this function needs were just detected.
        return unsafe { avx2::exp_shifted_sum(x, shift, y) };
    }
    let mut acc = [0.0f32; 8];
    for (i, (o, &v)) in y.iter_mut().zip(x).enumerate() {
        *o = (v - shift).exp();
        acc[i % 8] += *o;
    }
    crate::cpu::reduce::sum_slice(&acc)
}

/// Σ exp(x[i] - shift) without storing the terms.
pub fn exp_shifted_total_f32(x: &[f32], shift: f32) -> f32 {
    let mut buf = [0.0f32; 256];
    x.chunks(256)
        .map(|c| exp_shifted_sum_f32(c, shift, &mut buf[..c.len()]))
        .sum()
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// exp of 8 lanes (see the module docs for the method).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn exp8(x: __m256) -> __m256 {
        let clamped = _mm256_min_ps(
            _mm256_max_ps(x, _mm256_set1_ps(-104.0)),
            _mm256_set1_ps(89.0),
        );
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(clamped, _mm256_set1_ps(std::f32::consts::LOG2_E)),
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), clamped);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
        let mut p = _mm256_set1_ps(1.987_569_1e-4);
        for c in [
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            1.666_666_5e-1,
            0.5,
        ] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
        }
        let r2 = _mm256_mul_ps(r, r);
        let y = _mm256_add_ps(_mm256_fmadd_ps(p, r2, r), _mm256_set1_ps(1.0));
        // 2^n as 2^n1 · 2^n2, n1 = n >> 1, n2 = n - n1, each a normal float.
        let ni = _mm256_cvtps_epi32(n);
        let n1 = _mm256_srai_epi32::<1>(ni);
        let n2 = _mm256_sub_epi32(ni, n1);
        let bias = _mm256_set1_epi32(127);
        let p1 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n1, bias)));
        let p2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n2, bias)));
        let e = _mm256_mul_ps(_mm256_mul_ps(y, p1), p2);
        // NaN in, NaN out (max/min above would have replaced it).
        let is_nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x);
        _mm256_blendv_ps(e, x, is_nan)
    }

    /// # Safety
    /// The CPU must have avx2 and fma.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exp_shifted_sum(x: &[f32], shift: f32, y: &mut [f32]) -> f32 {
        let s = _mm256_set1_ps(shift);
        let mut acc = _mm256_setzero_ps();
        let (xc, yc) = (x.chunks_exact(8), y.chunks_exact_mut(8));
        let (xt, n_full) = (xc.remainder(), x.len() / 8 * 8);
        for (xs, ys) in xc.zip(yc) {
            // SAFETY: both chunks hold exactly 8 f32.
            unsafe {
                let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(xs.as_ptr()), s));
                _mm256_storeu_ps(ys.as_mut_ptr(), e);
                acc = _mm256_add_ps(acc, e);
            }
        }
        // The tail through one padded vector (NEG_INFINITY pads contribute exp = 0).
        let mut tail = [f32::NEG_INFINITY; 8];
        tail[..xt.len()].copy_from_slice(xt);
        let mut out = [0.0f32; 8];
        // SAFETY: tail and out are 8 f32 each.
        unsafe {
            let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(tail.as_ptr()), s));
            _mm256_storeu_ps(out.as_mut_ptr(), e);
            acc = _mm256_add_ps(acc, e);
        }
        y[n_full..].copy_from_slice(&out[..xt.len()]);
        let mut lanes = [0.0f32; 8];
        // SAFETY: lanes is 8 f32.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
        crate::cpu::reduce::sum_slice(&lanes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::testutil::{Report, Rng};

    #[test]
    fn exp_matches_f64() {
        let mut rng = Rng(77);
        let mut x: Vec<f32> = (0..1031).map(|_| (rng.uniform() * 90.0) as f32).collect();
        x.extend([
            0.0,
            -0.0,
            1e-30,
            -87.5,
            -103.0,
            -120.0,
            88.5,
            88.8,
            100.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ]);
        let mut y = vec![0.0f32; x.len()];
        let total = exp_shifted_sum_f32(&x, 0.0, &mut y);
        let mut rep = Report::new("exp f32 (AVX2) vs f64 exp", 3e-7);
        for (i, (&v, &e)) in x.iter().zip(&y).enumerate() {
            let want = (v as f64).exp();
            let err = if want > f32::MAX as f64 {
                if e == f32::INFINITY {
                    0.0
                } else {
                    1.0
                }
            } else if want < f32::MIN_POSITIVE as f64 {
                // Subnormal range: absolute error of a few subnormal steps.
                ((e as f64 - want).abs() / 1e-44).min(1.0) * 3e-7
            } else {
                (e as f64 - want).abs() / want
            };
            rep.note(&format!("x = {v}"), i, err);
        }
        rep.finish();
        let want_total: f64 = y.iter().map(|&v| v as f64).sum();
        assert!(total.is_infinite() && want_total.is_infinite());
        let mut nan = [0.0f32; 3];
        exp_shifted_sum_f32(&[f32::NAN, 1.0, 2.0], 0.0, &mut nan);
        assert!(nan[0].is_nan() && (nan[1] - 1f32.exp()).abs() < 1e-6);
        let t = exp_shifted_total_f32(&[0.5; 1000], 0.5);
        assert!((t - 1000.0).abs() < 1e-3);
    }
}
