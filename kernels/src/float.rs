//! The element types kernels compute in.
//!
//! [`Float`] is implemented for `f32` and `f64`. It names exactly the operations the kernels
//! use, so a reader sees the whole numeric vocabulary of the engine in one place. (bf16/f16
//! storage arrives with the GPU backend; they compute in f32.)

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A real floating-point number that kernels can compute with (`f32` or `f64`).
pub trait Float:
    Copy
    + Send
    + Sync
    + Debug
    + Display
    + PartialOrd
    + PartialEq
    + Default
    + Sum
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    /// Machine epsilon (distance from 1.0 to the next representable number).
    const EPSILON: Self;
    const INFINITY: Self;
    const NEG_INFINITY: Self;
    /// Size of one element in bytes.
    const BYTES: usize;

    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn from_usize(v: usize) -> Self {
        Self::from_f64(v as f64)
    }

    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn acos(self) -> Self;
    fn tanh(self) -> Self;
    fn powf(self, e: Self) -> Self;
    fn exp_m1(self) -> Self;
    fn ln_1p(self) -> Self;
    fn is_nan(self) -> bool;
    fn is_finite(self) -> bool;
    /// Maximum; NaN in either argument gives NaN (unlike `f32::max`, which drops it): a NaN must
    /// never be hidden by a reduction.
    fn max_nan(self, other: Self) -> Self {
        if self.is_nan() || other.is_nan() {
            Self::from_f64(f64::NAN)
        } else if self >= other {
            self
        } else {
            other
        }
    }
    /// This slice seen as `f32`, when `Self` is `f32` (else `None`). Fast kernels exist per
    /// concrete type; generic entry points use these views to dispatch to them without `unsafe`.
    fn slice_f32(s: &[Self]) -> Option<&[f32]> {
        let _ = s;
        None
    }
    /// Mutable twin of [`Float::slice_f32`].
    fn slice_f32_mut(s: &mut [Self]) -> Option<&mut [f32]> {
        let _ = s;
        None
    }
    /// This slice seen as `f64`, when `Self` is `f64` (else `None`).
    fn slice_f64(s: &[Self]) -> Option<&[f64]> {
        let _ = s;
        None
    }
    /// Mutable twin of [`Float::slice_f64`].
    fn slice_f64_mut(s: &mut [Self]) -> Option<&mut [f64]> {
        let _ = s;
        None
    }
    /// Minimum with the same NaN rule as [`Float::max_nan`].
    fn min_nan(self, other: Self) -> Self {
        if self.is_nan() || other.is_nan() {
            Self::from_f64(f64::NAN)
        } else if self <= other {
            self
        } else {
            other
        }
    }
}

macro_rules! impl_float {
    ($t:ty, $view:ident, $view_mut:ident) => {
        impl Float for $t {
            #[inline(always)]
            fn $view(s: &[Self]) -> Option<&[$t]> {
                Some(s)
            }
            #[inline(always)]
            fn $view_mut(s: &mut [Self]) -> Option<&mut [$t]> {
                Some(s)
            }
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const EPSILON: Self = <$t>::EPSILON;
            const INFINITY: Self = <$t>::INFINITY;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            const BYTES: usize = std::mem::size_of::<$t>();

            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            #[inline(always)]
            fn acos(self) -> Self {
                <$t>::acos(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn powf(self, e: Self) -> Self {
                <$t>::powf(self, e)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                <$t>::exp_m1(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
        }
    };
}

impl_float!(f32, slice_f32, slice_f32_mut);
impl_float!(f64, slice_f64, slice_f64_mut);
