//! Element types and the bridge from Rust number types to them.

use std::fmt;
use std::sync::Arc;

use anglegrad_kernels::Float;

use crate::storage::Storage;

/// The element type of a tensor.
///
/// `F32` is the working type everywhere; `F64` runs on the CPU for gradient checks and as a
/// reference. `BF16` and `F16` are reserved for GPU mixed precision (storage only, computing in
/// f32): no kernel accepts them yet and creating such a tensor is an
/// [`Error::UnsupportedDType`](crate::Error::UnsupportedDType).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F64,
    BF16,
    F16,
}

impl DType {
    /// Bytes per element.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
            DType::BF16 | DType::F16 => 2,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::BF16 => "bf16",
            DType::F16 => "f16",
        };
        f.write_str(name)
    }
}

/// A Rust number type that a tensor can hold (`f32`, `f64`): it knows its [`DType`] and how
/// to put a buffer into, and find it in, a [`Storage`].
pub trait Element: Float {
    const DTYPE: DType;
    fn into_storage(data: Vec<Self>) -> Storage;
    fn slice_of(storage: &Storage) -> Option<&[Self]>;
    fn arc_of(storage: &Storage) -> Option<&Arc<Vec<Self>>>;
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
    fn into_storage(data: Vec<Self>) -> Storage {
        Storage::F32(Arc::new(data))
    }
    fn slice_of(storage: &Storage) -> Option<&[Self]> {
        match storage {
            Storage::F32(v) => Some(v),
            _ => None,
        }
    }
    fn arc_of(storage: &Storage) -> Option<&Arc<Vec<Self>>> {
        match storage {
            Storage::F32(v) => Some(v),
            _ => None,
        }
    }
}

impl Element for f64 {
    const DTYPE: DType = DType::F64;
    fn into_storage(data: Vec<Self>) -> Storage {
        Storage::F64(Arc::new(data))
    }
    fn slice_of(storage: &Storage) -> Option<&[Self]> {
        match storage {
            Storage::F64(v) => Some(v),
            _ => None,
        }
    }
    fn arc_of(storage: &Storage) -> Option<&Arc<Vec<Self>>> {
        match storage {
            Storage::F64(v) => Some(v),
            _ => None,
        }
    }
}
