//! The one error type of the engine and the ops built on it.
//!
//! Every variant names the op that failed, and shape errors name both shapes, so a message
//! read on its own says what went wrong: `add: cannot broadcast [2, 3] with [4]`.

use crate::{DType, Shape};

/// Shorthand for `Result<T, anglegrad_engine::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Two shapes that had to be equal (or compatible in an op-specific way) were not.
    #[error("{op}: shape mismatch: {lhs} vs {rhs}")]
    ShapeMismatch {
        op: &'static str,
        lhs: Shape,
        rhs: Shape,
    },
    /// Two shapes do not broadcast (numpy rules).
    #[error("{op}: cannot broadcast {lhs} with {rhs}")]
    Broadcast {
        op: &'static str,
        lhs: Shape,
        rhs: Shape,
    },
    /// Operands of different element types.
    #[error("{op}: dtype mismatch: {lhs} vs {rhs}")]
    DTypeMismatch {
        op: &'static str,
        lhs: DType,
        rhs: DType,
    },
    /// An element type the op (or this device) does not support yet.
    #[error("{op}: unsupported dtype {dtype}")]
    UnsupportedDType { op: &'static str, dtype: DType },
    /// An axis argument past the tensor's rank.
    #[error("{op}: axis {axis} out of range for a tensor of shape {shape}")]
    AxisOutOfRange {
        op: &'static str,
        axis: usize,
        shape: Shape,
    },
    /// An index (a label, a gather index, a slice bound) past the size it indexes.
    #[error("{op}: index {index} out of range for size {size}")]
    IndexOutOfRange {
        op: &'static str,
        index: usize,
        size: usize,
    },
    /// Any other invalid argument, with a message saying which and why.
    #[error("{op}: {msg}")]
    Invalid { op: &'static str, msg: String },
    /// A problem with how a tape is used (mixing tapes, a loss not on the tape, ...).
    #[error("tape: {0}")]
    Tape(String),
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(op: &'static str, msg: impl Into<String>) -> Error {
        Error::Invalid {
            op,
            msg: msg.into(),
        }
    }
}
