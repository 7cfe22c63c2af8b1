//! Method syntax for the ops: `x.matmul(&w)?.add(&b)?.relu()?`.
//!
//! Every method forwards to the free function of the same name; the docs live there.

use anglegrad_engine::{DType, Result, Tensor};

macro_rules! unary_methods {
    ($($name:ident),*) => {
        $(fn $name(&self) -> Result<Tensor>;)*
    };
}
macro_rules! unary_impls {
    ($($name:ident),*) => {
        $(fn $name(&self) -> Result<Tensor> { crate::$name(self) })*
    };
}
macro_rules! binary_methods {
    ($($name:ident),*) => {
        $(fn $name(&self, other: &Tensor) -> Result<Tensor>;)*
    };
}
macro_rules! binary_impls {
    ($($name:ident),*) => {
        $(fn $name(&self, other: &Tensor) -> Result<Tensor> { crate::$name(self, other) })*
    };
}

/// The ops as methods on [`Tensor`] (in the prelude).
pub trait TensorOps {
    unary_methods!(neg, exp, log, sqrt, abs, relu, sigmoid, tanh, sin, cos, acos, square);
    binary_methods!(add, sub, mul, div, maximum, minimum, pow, matmul, eq, ne, lt, le, gt, ge);
    fn powf(&self, p: f64) -> Result<Tensor>;
    fn affine(&self, mul: f64, add: f64) -> Result<Tensor>;
    fn scale(&self, s: f64) -> Result<Tensor>;
    fn add_scalar(&self, c: f64) -> Result<Tensor>;
    fn clamp(&self, lo: f64, hi: f64) -> Result<Tensor>;
    fn sum(&self, axes: &[usize], keepdim: bool) -> Result<Tensor>;
    fn sum_all(&self) -> Result<Tensor>;
    fn mean(&self, axes: &[usize], keepdim: bool) -> Result<Tensor>;
    fn mean_all(&self) -> Result<Tensor>;
    fn max(&self, axis: usize, keepdim: bool) -> Result<Tensor>;
    fn min(&self, axis: usize, keepdim: bool) -> Result<Tensor>;
    fn logsumexp(&self, axis: usize, keepdim: bool) -> Result<Tensor>;
    fn reshape(&self, dims: &[usize]) -> Result<Tensor>;
    fn permute(&self, perm: &[usize]) -> Result<Tensor>;
    fn transpose(&self, axis0: usize, axis1: usize) -> Result<Tensor>;
    fn broadcast_to(&self, dims: &[usize]) -> Result<Tensor>;
    fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Tensor>;
    fn index_select(&self, axis: usize, indices: &[usize]) -> Result<Tensor>;
    fn matmul_t(&self, other: &Tensor, trans_a: bool, trans_b: bool) -> Result<Tensor>;
    fn l2_normalize(&self, axis: usize, eps: f64) -> Result<Tensor>;
    fn softmax(&self, axis: usize) -> Result<Tensor>;
    fn log_softmax(&self, axis: usize) -> Result<Tensor>;
    fn to_dtype(&self, dtype: DType) -> Result<Tensor>;
}

impl TensorOps for Tensor {
    unary_impls!(neg, exp, log, sqrt, abs, relu, sigmoid, tanh, sin, cos, acos, square);
    binary_impls!(add, sub, mul, div, maximum, minimum, pow, matmul, eq, ne, lt, le, gt, ge);
    fn powf(&self, p: f64) -> Result<Tensor> {
        crate::powf(self, p)
    }
    fn affine(&self, mul: f64, add: f64) -> Result<Tensor> {
        crate::affine(self, mul, add)
    }
    fn scale(&self, s: f64) -> Result<Tensor> {
        crate::scale(self, s)
    }
    fn add_scalar(&self, c: f64) -> Result<Tensor> {
        crate::add_scalar(self, c)
    }
    fn clamp(&self, lo: f64, hi: f64) -> Result<Tensor> {
        crate::clamp(self, lo, hi)
    }
    fn sum(&self, axes: &[usize], keepdim: bool) -> Result<Tensor> {
        crate::sum(self, axes, keepdim)
    }
    fn sum_all(&self) -> Result<Tensor> {
        crate::sum_all(self)
    }
    fn mean(&self, axes: &[usize], keepdim: bool) -> Result<Tensor> {
        crate::mean(self, axes, keepdim)
    }
    fn mean_all(&self) -> Result<Tensor> {
        crate::mean_all(self)
    }
    fn max(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        crate::max(self, axis, keepdim)
    }
    fn min(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        crate::min(self, axis, keepdim)
    }
    fn logsumexp(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        crate::logsumexp(self, axis, keepdim)
    }
    fn reshape(&self, dims: &[usize]) -> Result<Tensor> {
        crate::reshape(self, dims)
    }
    fn permute(&self, perm: &[usize]) -> Result<Tensor> {
        crate::permute(self, perm)
    }
    fn transpose(&self, axis0: usize, axis1: usize) -> Result<Tensor> {
        crate::transpose(self, axis0, axis1)
    }
    fn broadcast_to(&self, dims: &[usize]) -> Result<Tensor> {
        crate::broadcast_to(self, dims)
    }
    fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Tensor> {
        crate::narrow(self, axis, start, len)
    }
    fn index_select(&self, axis: usize, indices: &[usize]) -> Result<Tensor> {
        crate::index_select(self, axis, indices)
    }
    fn matmul_t(&self, other: &Tensor, trans_a: bool, trans_b: bool) -> Result<Tensor> {
        crate::matmul_t(self, other, trans_a, trans_b)
    }
    fn l2_normalize(&self, axis: usize, eps: f64) -> Result<Tensor> {
        crate::l2_normalize(self, axis, eps)
    }
    fn softmax(&self, axis: usize) -> Result<Tensor> {
        crate::softmax(self, axis)
    }
    fn log_softmax(&self, axis: usize) -> Result<Tensor> {
        crate::log_softmax(self, axis)
    }
    fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        crate::to_dtype(self, dtype)
    }
}
