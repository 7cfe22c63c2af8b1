//! Micro-kernels: C[MR x NR] = alpha·(A~ sliver · B~ sliver) + beta·C, the tile in registers.
//!
//! Shape legend: `a` points at one packed A~ sliver (`kc x MR`, MR values per step of k),
//! `b` at one packed B~ sliver (`kc x NR`, NR values per step), `c` at the top-left of an
//! MR x NR tile of C with row stride `ldc`.
//!
//! Each step of k is a rank-1 update of the tile: `C[r, :] += A~[p, r] · B~[p, :]`. The AVX2
//! kernels keep the whole tile in ymm registers (6 rows x 2 vectors = 12 accumulators), load
//! the B row as two vectors, broadcast each A value and issue 12 independent FMAs; C is touched
//! only once, after the k loop. `beta = 0` means C is written without being read.

use crate::Float;

/// A micro-kernel and the cache blocking that feeds it.
pub(crate) trait MicroKernel<T: Float>: Copy + Send + Sync {
    /// Rows of the register tile (height of an A~ sliver).
    const MR: usize;
    /// Columns of the register tile (width of a B~ sliver).
    const NR: usize;
    /// Rows of the A~ block (kept in L2): MC x KC.
    const MC: usize;
    /// Depth of one block of the k sum: a B~ sliver KC x NR must fit L1 with room to spare.
    const KC: usize;
    /// Columns of the B~ panel (kept in L3): KC x NC.
    const NC: usize;

    /// Computes one full MR x NR tile.
    ///
    /// # Safety
    /// `a` must be readable for `kc·MR` elements, `b` for `kc·NR`, and `c` must be valid for
    /// reads (unless `beta == 0`) and writes of rows `0..MR`, each of `NR` elements, at stride
    /// `ldc`; no other thread may access that tile during the call.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(
        self,
        kc: usize,
        a: *const T,
        b: *const T,
        c: *mut T,
        ldc: usize,
        alpha: T,
        beta: T,
    );
}

/// The portable kernel (any CPU, any `Float`): a 4 x 8 tile of scalars the compiler may
/// vectorise with whatever the baseline target offers.
#[derive(Clone, Copy, Debug)]
pub(super) struct ScalarKernel;

impl<T: Float> MicroKernel<T> for ScalarKernel {
    const MR: usize = 4;
    const NR: usize = 8;
    const MC: usize = 128;
    const KC: usize = 256;
    const NC: usize = 2048;

    unsafe fn tile(
        self,
        kc: usize,
        a: *const T,
        b: *const T,
        c: *mut T,
        ldc: usize,
        alpha: T,
        beta: T,
    ) {
        // SAFETY: the caller guarantees the packed slivers hold kc·MR and kc·NR elements.
        let (a, b) = unsafe {
            (
                std::slice::from_raw_parts(a, kc * 4),
                std::slice::from_raw_parts(b, kc * 8),
            )
        };
        let mut acc = [[T::ZERO; 8]; 4];
        for (ap, bp) in a.chunks_exact(4).zip(b.chunks_exact(8)) {
            for (row, &av) in acc.iter_mut().zip(ap) {
                for (x, &bv) in row.iter_mut().zip(bp) {
                    *x += av * bv;
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            // SAFETY: the caller guarantees rows 0..MR of NR elements at stride ldc are ours.
            let c_row = unsafe { std::slice::from_raw_parts_mut(c.add(r * ldc), 8) };
            for (cv, &x) in c_row.iter_mut().zip(row) {
                *cv = if beta == T::ZERO {
                    alpha * x
                } else {
                    alpha * x + beta * *cv
                };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{Avx2F32, Avx2F64};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::MicroKernel;
    use std::arch::x86_64::*;

    /// The AVX2+FMA f32 kernel, 6 x 16. Only constructed after `is_x86_feature_detected!`
    /// confirmed avx2 and fma (see `driver`), which is what makes calling it sound.
    #[derive(Clone, Copy, Debug)]
    pub(in crate::cpu::gemm) struct Avx2F32(());

    /// The AVX2+FMA f64 kernel, 6 x 8 (same register budget: 12 accumulators of 4 f64).
    #[derive(Clone, Copy, Debug)]
    pub(in crate::cpu::gemm) struct Avx2F64(());

    impl Avx2F32 {
        /// The kernel, if this CPU has AVX2 and FMA.
        pub fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
                .then_some(Avx2F32(()))
        }
    }

    impl Avx2F64 {
        /// The kernel, if this CPU has AVX2 and FMA.
        pub fn detect() -> Option<Self> {
            (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
                .then_some(Avx2F64(()))
        }
    }

    // Blocking for Zen3 (per core: 32 KiB L1d, 512 KiB L2; 32 MiB L3 shared):
    // f32: B~ sliver KC·NR·4 = 256·16·4 = 16 KiB (half of L1, the A~ sliver streams beside it),
    //      A~ block MC·KC·4 = 144·256·4 = 144 KiB (well inside L2, leaving room for C tiles and
    //      the B~ sliver), B~ panel KC·NC·4 = 256·4080·4 ≈ 4 MiB (a slice of L3 per core).
    // f64: same byte budgets with half the elements per vector: NR = 8, MC = 72 → 144 KiB.
    impl MicroKernel<f32> for Avx2F32 {
        const MR: usize = 6;
        const NR: usize = 16;
        const MC: usize = 144;
        const KC: usize = 256;
        const NC: usize = 4080;

        #[inline]
        unsafe fn tile(
            self,
            kc: usize,
            a: *const f32,
            b: *const f32,
            c: *mut f32,
            ldc: usize,
            alpha: f32,
            beta: f32,
        ) {
            // SAFETY: an `Avx2F32` exists only when the CPU has avx2 and fma (see `detect`);
            // the pointer contract is forwarded from our caller.
            unsafe { tile_f32_6x16(kc, a, b, c, ldc, alpha, beta) }
        }
    }

    impl MicroKernel<f64> for Avx2F64 {
        const MR: usize = 6;
        const NR: usize = 8;
        const MC: usize = 72;
        const KC: usize = 256;
        const NC: usize = 2040;

        #[inline]
        unsafe fn tile(
            self,
            kc: usize,
            a: *const f64,
            b: *const f64,
            c: *mut f64,
            ldc: usize,
            alpha: f64,
            beta: f64,
        ) {
            // SAFETY: as for `Avx2F32`: features checked at construction, pointers forwarded.
            unsafe { tile_f64_6x8(kc, a, b, c, ldc, alpha, beta) }
        }
    }

    /// Generates one AVX2 kernel. `$lanes` values per vector, two vectors per tile row,
    /// six rows; the body is written once for f32 and f64.
    macro_rules! avx2_tile {
        ($name:ident, $t:ty, $lanes:expr, $vec:ty, $zero:ident, $load:ident, $store:ident,
         $bcast:ident, $fma:ident, $mul:ident, $set1:ident) => {
            /// # Safety
            /// CPU has avx2+fma; `a`: kc·6 elements, `b`: kc·2·lanes elements; `c`: 6 rows of
            /// 2·lanes elements at stride `ldc`, readable unless beta == 0, writable.
            #[target_feature(enable = "avx2,fma")]
            unsafe fn $name(
                kc: usize,
                mut a: *const $t,
                mut b: *const $t,
                c: *mut $t,
                ldc: usize,
                alpha: $t,
                beta: $t,
            ) {
                const MR: usize = 6;
                const NR: usize = 2 * $lanes;
                let mut acc: [[$vec; 2]; MR] = [[$zero(); 2]; MR];
                // SAFETY (whole body): every pointer offset stays inside the regions the
                // caller guarantees: a advances MR per step and b NR per step, kc steps; C is
                // read/written at rows 0..MR, columns 0..NR.
                unsafe {
                    // Ask for the C tile early: its lines arrive while the k loop runs.
                    for r in 0..MR {
                        _mm_prefetch::<_MM_HINT_T0>(c.add(r * ldc) as *const i8);
                        _mm_prefetch::<_MM_HINT_T0>(c.add(r * ldc + NR - 1) as *const i8);
                    }
                    macro_rules! step {
                        ($off:expr) => {{
                            let b0 = $load(b.add($off * NR));
                            let b1 = $load(b.add($off * NR + $lanes));
                            for r in 0..MR {
                                let ar = $bcast(&*a.add($off * MR + r));
                                acc[r][0] = $fma(ar, b0, acc[r][0]);
                                acc[r][1] = $fma(ar, b1, acc[r][1]);
                            }
                        }};
                    }
                    // Unrolled by four: fewer loop-counter updates per FMA.
                    for _ in 0..kc / 4 {
                        step!(0);
                        step!(1);
                        step!(2);
                        step!(3);
                        a = a.add(4 * MR);
                        b = b.add(4 * NR);
                    }
                    for _ in 0..kc % 4 {
                        step!(0);
                        a = a.add(MR);
                        b = b.add(NR);
                    }
                    let va = $set1(alpha);
                    if beta == 0.0 {
                        for (r, row) in acc.iter().enumerate() {
                            let cr = c.add(r * ldc);
                            $store(cr, $mul(va, row[0]));
                            $store(cr.add($lanes), $mul(va, row[1]));
                        }
                    } else {
                        let vb = $set1(beta);
                        for (r, row) in acc.iter().enumerate() {
                            let cr = c.add(r * ldc);
                            let c0 = $mul(vb, $load(cr));
                            let c1 = $mul(vb, $load(cr.add($lanes)));
                            $store(cr, $fma(va, row[0], c0));
                            $store(cr.add($lanes), $fma(va, row[1], c1));
                        }
                    }
                }
            }
        };
    }

    avx2_tile!(
        tile_f32_6x16,
        f32,
        8,
        __m256,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_broadcast_ss,
        _mm256_fmadd_ps,
        _mm256_mul_ps,
        _mm256_set1_ps
    );
    avx2_tile!(
        tile_f64_6x8,
        f64,
        4,
        __m256d,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_broadcast_sd,
        _mm256_fmadd_pd,
        _mm256_mul_pd,
        _mm256_set1_pd
    );
}
