//! The tile transforms compiled with AVX2 when the CPU has it (each `V8` operation becomes one
//! ymm instruction), else as portable code. Same numbers either way (no FMA contraction).

use super::tiles::{grad_block, input_block, output_block};
use super::weights::{kernel_grad_row, kernel_row};
use super::{Geometry, SharedMut, A};
use crate::cpu::conv::Conv2dParams;
use crate::cpu::gemm::PackedB;

#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    is_x86_feature_detected!("avx2")
}

macro_rules! twin {
    ($(#[$doc:meta])* $name:ident / $avx:ident => $body:expr; ($($arg:ident: $ty:ty),*)) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        #[allow(unused_unsafe, clippy::too_many_arguments)]
        unsafe fn $avx($($arg: $ty),*) {
            // SAFETY: forwarded from the caller of the twin.
            unsafe { $body }
        }
        $(#[$doc])*
        #[allow(unused_unsafe, clippy::too_many_arguments)]
        pub(super) unsafe fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if avx2() {
                // SAFETY: AVX2 detected; the rest is the caller's contract.
                return unsafe { $avx($($arg),*) };
            }
            // SAFETY: the caller's contract.
            unsafe { $body }
        }
    };
}

twin!(
    /// [`input_block`] (no safety requirement beyond Rust's).
    input / input_avx2 => input_block(geo, xs, rows, v);
    (geo: &Geometry, xs: &[f32], rows: usize, v: &mut [f32])
);
twin!(
    /// [`output_block`] for F(4x4, 3x3); same contract.
    output4 / output4_avx2 => output_block::<4>(p, geo, mm, row0, rows, bias, y);
    (p: &Conv2dParams, geo: &Geometry, mm: &[f32], row0: usize, rows: usize,
     bias: Option<&[f32]>, y: SharedMut)
);
twin!(
    /// [`output_block`] for F(2x2, 5x5); same contract.
    output2 / output2_avx2 => output_block::<2>(p, geo, mm, row0, rows, bias, y);
    (p: &Conv2dParams, geo: &Geometry, mm: &[f32], row0: usize, rows: usize,
     bias: Option<&[f32]>, y: SharedMut)
);
twin!(
    /// [`grad_block`] for F(4x4, 3x3).
    grad4 / grad4_avx2 => grad_block::<4>(geo, dys, rows, g);
    (geo: &Geometry, dys: &[f32], rows: usize, g: &mut [f32])
);
twin!(
    /// [`kernel_row`]; same contract.
    kernels / kernels_avx2 => kernel_row(w, cin, cout, r, gm, ci, u, ptrs);
    (w: &[f32], cin: usize, cout: usize, r: usize, gm: &[[f32; 5]; A], ci: usize,
     u: &[PackedB<f32>], ptrs: &[SharedMut])
);
twin!(
    /// [`kernel_grad_row`] (no safety requirement beyond Rust's).
    kernel_grad / kernel_grad_avx2 => kernel_grad_row(du, dims, r, gm, co, dw_co);
    (du: &[f32], dims: (usize, usize, usize), r: usize, gm: &[[f32; 5]; A], co: usize,
     dw_co: &mut [f32])
);
twin!(
    /// [`grad_block`] for F(2x2, 5x5).
    grad2 / grad2_avx2 => grad_block::<2>(geo, dys, rows, g);
    (geo: &Geometry, dys: &[f32], rows: usize, g: &mut [f32])
);
