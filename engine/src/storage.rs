//! The buffer behind a tensor: a reference-counted, immutable, dense row-major vector.
//!
//! Tensors never change after creation, so sharing storage is always safe: `reshape` and
//! `detach` hand out a new tensor over the same buffer, and a rule's saved tensors cost no copy.

use std::sync::Arc;

use crate::{DType, Device};

/// A dense buffer of one element type on one device.
#[derive(Clone, Debug)]
pub enum Storage {
    F32(Arc<Vec<f32>>),
    F64(Arc<Vec<f64>>),
}

impl Storage {
    pub fn dtype(&self) -> DType {
        match self {
            Storage::F32(_) => DType::F32,
            Storage::F64(_) => DType::F64,
        }
    }

    pub fn device(&self) -> Device {
        Device::Cpu
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Storage::F32(v) => v.len(),
            Storage::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size of the buffer in bytes.
    pub fn size_in_bytes(&self) -> usize {
        self.len() * self.dtype().size_in_bytes()
    }

    /// True when both name the very same buffer (not merely equal contents).
    pub fn same_buffer(&self, other: &Storage) -> bool {
        match (self, other) {
            (Storage::F32(a), Storage::F32(b)) => Arc::ptr_eq(a, b),
            (Storage::F64(a), Storage::F64(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// Runs a generic body on the buffer of a storage, whatever its element type, and wraps the
/// `Vec` it returns back into a storage of the same type:
///
/// ```ignore
/// let doubled = map_storage!(x.storage(), |v| v.iter().map(|&e| e + e).collect::<Vec<_>>());
/// ```
///
/// Each arm instantiates the body for one element type, so the body is written once, generically.
#[macro_export]
macro_rules! map_storage {
    ($storage:expr, |$v:ident| $body:expr) => {
        match $storage {
            $crate::Storage::F32($v) => {
                let $v: &[f32] = &$v[..];
                $crate::Storage::F32(::std::sync::Arc::new($body))
            }
            $crate::Storage::F64($v) => {
                let $v: &[f64] = &$v[..];
                $crate::Storage::F64(::std::sync::Arc::new($body))
            }
        }
    };
}

/// Runs a body generic over the element type, choosing the type from a [`DType`](crate::DType):
/// inside the body, the given name is a type alias for `f32` or `f64`. Other dtypes give an
/// `Error::UnsupportedDType` naming the op. The body must evaluate to a `Result`.
///
/// ```ignore
/// with_float!(x.dtype(), "my_op", |T| my_generic_kernel::<T>(x.as_slice::<T>()?))
/// ```
#[macro_export]
macro_rules! with_float {
    ($dtype:expr, $op:expr, |$t:ident| $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                #[allow(non_camel_case_types, dead_code)]
                type $t = f32;
                $body
            }
            $crate::DType::F64 => {
                #[allow(non_camel_case_types, dead_code)]
                type $t = f64;
                $body
            }
            other => Err($crate::Error::UnsupportedDType {
                op: $op,
                dtype: other,
            }),
        }
    };
}
