//! Small helpers shared by the op files: dtype checks and running a kernel on the buffers of
//! one or two tensors whatever their element type.

use anglegrad_engine::{Error, Result, Storage, Tensor};

/// Errors unless `a` and `b` have the same dtype.
pub(crate) fn same_dtype(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.dtype() == b.dtype() {
        Ok(())
    } else {
        Err(Error::DTypeMismatch {
            op,
            lhs: a.dtype(),
            rhs: b.dtype(),
        })
    }
}

/// Runs a generic body on the buffers of two storages of the same element type and wraps the
/// `Vec` it returns; a dtype mismatch is an error naming `op`.
macro_rules! map2_storage {
    ($op:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        match ($a.storage(), $b.storage()) {
            (anglegrad_engine::Storage::F32($x), anglegrad_engine::Storage::F32($y)) => {
                let ($x, $y): (&[f32], &[f32]) = (&$x[..], &$y[..]);
                Ok(anglegrad_engine::Storage::F32(::std::sync::Arc::new($body)))
            }
            (anglegrad_engine::Storage::F64($x), anglegrad_engine::Storage::F64($y)) => {
                let ($x, $y): (&[f64], &[f64]) = (&$x[..], &$y[..]);
                Ok(anglegrad_engine::Storage::F64(::std::sync::Arc::new($body)))
            }
            _ => Err(anglegrad_engine::Error::DTypeMismatch {
                op: $op,
                lhs: $a.dtype(),
                rhs: $b.dtype(),
            }),
        }
    };
}
pub(crate) use map2_storage;

/// Like `map2_storage!` for three storages (the upstream gradient and two saved values).
macro_rules! map3_storage {
    ($op:expr, $a:expr, $b:expr, $c:expr, |$x:ident, $y:ident, $z:ident| $body:expr) => {
        match ($a.storage(), $b.storage(), $c.storage()) {
            (
                anglegrad_engine::Storage::F32($x),
                anglegrad_engine::Storage::F32($y),
                anglegrad_engine::Storage::F32($z),
            ) => {
                let ($x, $y, $z): (&[f32], &[f32], &[f32]) = (&$x[..], &$y[..], &$z[..]);
                Ok(anglegrad_engine::Storage::F32(::std::sync::Arc::new($body)))
            }
            (
                anglegrad_engine::Storage::F64($x),
                anglegrad_engine::Storage::F64($y),
                anglegrad_engine::Storage::F64($z),
            ) => {
                let ($x, $y, $z): (&[f64], &[f64], &[f64]) = (&$x[..], &$y[..], &$z[..]);
                Ok(anglegrad_engine::Storage::F64(::std::sync::Arc::new($body)))
            }
            _ => Err(anglegrad_engine::Error::DTypeMismatch {
                op: $op,
                lhs: $a.dtype(),
                rhs: $c.dtype(),
            }),
        }
    };
}
pub(crate) use map3_storage;

/// A zero-filled `Vec` of the element type of the slice `like` (type inference helper).
pub(crate) fn zeros_for<T: Default + Clone>(_like: &[T], n: usize) -> Vec<T> {
    vec![T::default(); n]
}

/// A tensor over `storage` with the given dims.
pub(crate) fn tensor(storage: Storage, dims: &[usize]) -> Result<Tensor> {
    Tensor::from_storage(storage, dims)
}
