//! The strided half of packing: interleave up to `w` contiguous lines into a sliver.
//!
//! Shape legend: `lines` stored lines of the operand, line c holding `kc` contiguous values
//! starting at `starts[c]` in `data`; the sliver is `kc x w`, row-major:
//! `sliver[p·w + c] = data[starts[c] + p]` for c < lines, 0 for lines <= c < w.
//!
//! This is a transpose, which scalar code does one element at a time with strided stores. For
//! f32 on AVX2 it goes 8 x 8 blocks at a time: 8 loads, the classic unpack/shuffle/permute
//! network, 8 stores (w = 16: two blocks side by side; w = 6: 6 lines plus 2 zero rows, rows
//! stored with a 6-lane mask).

use crate::Float;

/// Interleaves `lines` lines into a `kc x w` sliver (see the module legend).
pub(super) fn interleave<T: Float>(
    data: &[T],
    starts: &[usize],
    kc: usize,
    sliver: &mut [T],
    w: usize,
) {
    let lines = starts.len();
    debug_assert!(lines <= w && sliver.len() >= kc * w);
    #[cfg(target_arch = "x86_64")]
    if let (Some(d), Some(s)) = (T::slice_f32(data), T::slice_f32_mut(sliver)) {
        if (w == 16 || w == 6) && is_x86_feature_detected!("avx2") {
            for &st in starts {
                assert!(st + kc <= d.len(), "pack: line out of bounds");
            }
            // SAFETY: avx2 detected; every line start + kc is inside `d` (checked above) and
            // the sliver holds kc·w values (asserted by the callers).
            let done = unsafe { avx2::interleave_f32(d, starts, kc, s, w) };
            scalar(data, starts, done, kc, sliver, w);
            return;
        }
    }
    scalar(data, starts, 0, kc, sliver, w);
}

/// Rows p0..kc of the sliver, one element at a time.
fn scalar<T: Float>(
    data: &[T],
    starts: &[usize],
    p0: usize,
    kc: usize,
    sliver: &mut [T],
    w: usize,
) {
    if p0 >= kc {
        return;
    }
    for (c, &st) in starts.iter().enumerate() {
        let src = &data[st + p0..st + kc];
        for (out, &v) in sliver[p0 * w + c..].iter_mut().step_by(w).zip(src) {
            *out = v;
        }
    }
    for c in starts.len()..w {
        for out in sliver[p0 * w + c..].iter_mut().step_by(w).take(kc - p0) {
            *out = T::ZERO;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Transposes the 8 x 8 block held in `r` (row i = r[i]) in place.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn transpose8(r: &mut [__m256; 8]) {
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        r[0] = _mm256_permute2f128_ps::<0x20>(u0, u4);
        r[1] = _mm256_permute2f128_ps::<0x20>(u1, u5);
        r[2] = _mm256_permute2f128_ps::<0x20>(u2, u6);
        r[3] = _mm256_permute2f128_ps::<0x20>(u3, u7);
        r[4] = _mm256_permute2f128_ps::<0x31>(u0, u4);
        r[5] = _mm256_permute2f128_ps::<0x31>(u1, u5);
        r[6] = _mm256_permute2f128_ps::<0x31>(u2, u6);
        r[7] = _mm256_permute2f128_ps::<0x31>(u3, u7);
    }

    /// Interleaves whole blocks of 8 rows (p); returns how many rows it did (kc rounded down
    /// to a multiple of 8), the rest is left to the scalar loop.
    ///
    /// # Safety
    /// avx2 available; `starts[c] + kc <= d.len()` for every line; `s.len() >= kc·w`;
    /// `starts.len() <= w`, w is 6 or 16.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn interleave_f32(
        d: &[f32],
        starts: &[usize],
        kc: usize,
        s: &mut [f32],
        w: usize,
    ) -> usize {
        let blocks = kc / 8;
        let groups = w.div_ceil(8);
        // Lanes 0..6 of a row when w = 6.
        let mask6 = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
        for g in 0..groups {
            for b in 0..blocks {
                let p = b * 8;
                let mut r = [_mm256_setzero_ps(); 8];
                for (i, row) in r.iter_mut().enumerate() {
                    if let Some(&st) = starts.get(g * 8 + i) {
                        // SAFETY: st + p + 8 <= st + kc <= d.len().
                        *row = unsafe { _mm256_loadu_ps(d.as_ptr().add(st + p)) };
                    }
                }
                transpose8(&mut r);
                for (q, row) in r.iter().enumerate() {
                    // SAFETY: (p + q)·w + g·8 + 8 <= kc·w for w = 16; for w = 6 a full store is used
                    // only when it ends inside `s`, else 6 lanes ending at (p + q)·6 + 6 <= kc·6.
                    unsafe {
                        let start = (p + q) * w + g * 8;
                        let at = s.as_mut_ptr().add(start);
                        if w == 16 || start + 8 <= s.len() {
                            // For w = 6 the two extra lanes spill into the next row, which
                            // the next store (or a later sliver) overwrites: a plain store is
                            // much cheaper than a masked one on AMD cores.
                            _mm256_storeu_ps(at, *row);
                        } else {
                            _mm256_maskstore_ps(at, mask6, *row);
                        }
                    }
                }
            }
        }
        blocks * 8
    }
}
