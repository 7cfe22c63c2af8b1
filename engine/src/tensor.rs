//! `Tensor`: an immutable n-dimensional array (shared storage + shape), optionally watched by
//! a [`Tape`].
//!
//! A tensor never changes after it is made; ops make new tensors. Cloning is cheap (the buffer
//! is reference-counted). Each tensor has an id; gradients are looked up by it, so a tensor and
//! its watched or detached handles (same id, same buffer) name the same gradient.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::storage::Storage;
use crate::tape::{BackwardRule, Tape};
use crate::{DType, Device, Element, Error, Result, Shape};

/// Identifies a tensor value; handles made by [`Tape::watch`] and [`Tensor::detach`] share it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    fn fresh() -> TensorId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TensorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for TensorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A dense, row-major, immutable tensor.
#[derive(Clone)]
pub struct Tensor {
    id: TensorId,
    shape: Shape,
    storage: Storage,
    /// The tape that records ops on this tensor, if it is watched (or computed from a watched
    /// tensor). `None`: ops on it record nothing.
    tape: Option<Tape>,
}

impl Tensor {
    // ----- construction -------------------------------------------------------------------

    /// A tensor over an existing storage; the storage must hold exactly `shape.numel()` values.
    pub fn from_storage(storage: Storage, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        match shape.checked_numel() {
            Some(n) if n == storage.len() => Ok(Tensor {
                id: TensorId::fresh(),
                shape,
                storage,
                tape: None,
            }),
            _ => Err(Error::invalid(
                "tensor",
                format!("{} values cannot fill shape {shape}", storage.len()),
            )),
        }
    }

    /// A tensor owning `data`, read in row-major order.
    pub fn from_vec<T: Element>(data: Vec<T>, shape: impl Into<Shape>) -> Result<Tensor> {
        Tensor::from_storage(T::into_storage(data), shape)
    }

    /// A tensor copying `data`.
    pub fn from_slice<T: Element>(data: &[T], shape: impl Into<Shape>) -> Result<Tensor> {
        Tensor::from_vec(data.to_vec(), shape)
    }

    /// A tensor of the given dtype from f64 values (converted; handy in tests and examples).
    pub fn from_f64s(data: &[f64], shape: impl Into<Shape>, dtype: DType) -> Result<Tensor> {
        match dtype {
            DType::F32 => Tensor::from_vec(data.iter().map(|&v| v as f32).collect(), shape),
            DType::F64 => Tensor::from_vec(data.to_vec(), shape),
            other => Err(Error::UnsupportedDType {
                op: "tensor",
                dtype: other,
            }),
        }
    }

    /// A 0-d tensor (shape `[]`) holding one value.
    pub fn scalar<T: Element>(value: T) -> Tensor {
        Tensor::from_storage(T::into_storage(vec![value]), Shape::scalar())
            .expect("one value fills a scalar shape")
    }

    /// A tensor with every element equal to `value`.
    pub fn full(shape: impl Into<Shape>, value: f64, dtype: DType) -> Result<Tensor> {
        let shape = shape.into();
        let n = shape
            .checked_numel()
            .ok_or_else(|| Error::invalid("full", format!("shape {shape} is too large")))?;
        let storage = match dtype {
            DType::F32 => f32::into_storage(vec![value as f32; n]),
            DType::F64 => f64::into_storage(vec![value; n]),
            other => {
                return Err(Error::UnsupportedDType {
                    op: "full",
                    dtype: other,
                })
            }
        };
        Tensor::from_storage(storage, shape)
    }

    pub fn zeros(shape: impl Into<Shape>, dtype: DType) -> Result<Tensor> {
        Tensor::full(shape, 0.0, dtype)
    }

    pub fn ones(shape: impl Into<Shape>, dtype: DType) -> Result<Tensor> {
        Tensor::full(shape, 1.0, dtype)
    }

    /// Zeros with this tensor's shape and dtype (not watched).
    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros(self.shape.clone(), self.dtype()).expect("own shape and dtype are valid")
    }

    // ----- what it is ---------------------------------------------------------------------

    pub fn id(&self) -> TensorId {
        self.id
    }

    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    pub fn rank(&self) -> usize {
        self.shape.rank()
    }

    pub fn numel(&self) -> usize {
        self.storage.len()
    }

    pub fn dtype(&self) -> DType {
        self.storage.dtype()
    }

    pub fn device(&self) -> Device {
        self.storage.device()
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Size of the data in bytes.
    pub fn size_in_bytes(&self) -> usize {
        self.storage.size_in_bytes()
    }

    // ----- reading values -----------------------------------------------------------------

    /// The elements as a slice of `T`; an error when the dtype is not `T`.
    pub fn as_slice<T: Element>(&self) -> Result<&[T]> {
        T::slice_of(&self.storage).ok_or(Error::DTypeMismatch {
            op: "as_slice",
            lhs: self.dtype(),
            rhs: T::DTYPE,
        })
    }

    /// The elements copied into a `Vec<T>`; an error when the dtype is not `T`.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        self.as_slice::<T>().map(|s| s.to_vec())
    }

    /// The elements converted to f64, whatever the dtype.
    pub fn to_vec_f64(&self) -> Vec<f64> {
        match &self.storage {
            Storage::F32(v) => v.iter().map(|&x| x as f64).collect(),
            Storage::F64(v) => v.to_vec(),
        }
    }

    /// The single value of a one-element tensor, converted to f64.
    pub fn to_scalar_f64(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(Error::invalid(
                "to_scalar",
                format!(
                    "tensor of shape {} has {} elements, not 1",
                    self.shape,
                    self.numel()
                ),
            ));
        }
        Ok(self.to_vec_f64()[0])
    }

    // ----- the tape -----------------------------------------------------------------------

    /// The tape recording ops on this tensor, if any and if it has not run backward yet.
    pub fn tape(&self) -> Option<&Tape> {
        self.tape.as_ref().filter(|t| !t.is_finished())
    }

    /// True when ops on this tensor are recorded.
    pub fn is_tracked(&self) -> bool {
        self.tape().is_some()
    }

    /// The same value (same id and buffer) with no tape: ops on it record nothing, so no
    /// gradient flows back through it (stop-gradient).
    pub fn detach(&self) -> Tensor {
        Tensor {
            tape: None,
            ..self.clone()
        }
    }

    pub(crate) fn attached_to(&self, tape: &Tape) -> Tensor {
        Tensor {
            tape: Some(tape.clone()),
            ..self.clone()
        }
    }

    /// Used by ops after computing `self` (a fresh, untracked result) from `inputs`: when any
    /// input is tracked, appends a node with `rule` to their tape and returns the result
    /// attached to it; otherwise returns the result unchanged and drops the rule.
    ///
    /// Inputs watched by two different live tapes are an error: a value can only flow back
    /// along one tape.
    pub fn record(self, inputs: &[&Tensor], rule: impl BackwardRule) -> Result<Tensor> {
        let mut tape: Option<&Tape> = None;
        for input in inputs {
            if let Some(t) = input.tape() {
                match tape {
                    None => tape = Some(t),
                    Some(prev) if prev.same_as(t) => {}
                    Some(_) => {
                        return Err(Error::Tape(format!(
                            "{}: inputs are watched by two different tapes",
                            rule.name()
                        )))
                    }
                }
            }
        }
        let Some(tape) = tape else { return Ok(self) };
        // A fresh id keeps the graph acyclic even if an op hands back one of its inputs' ids.
        let out = Tensor {
            id: TensorId::fresh(),
            tape: Some(tape.clone()),
            ..self
        };
        tape.push_node(inputs, &out, Box::new(rule));
        Ok(out)
    }

    /// True when any of `inputs` is tracked: ops use it to skip saving values for backward
    /// when nothing will be recorded.
    pub fn any_tracked(inputs: &[&Tensor]) -> bool {
        inputs.iter().any(|t| t.is_tracked())
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOW: usize = 8;
        let values = self.to_vec_f64();
        write!(f, "Tensor{} {} {} [", self.id, self.shape, self.dtype())?;
        for (i, v) in values.iter().take(SHOW).enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{v:.6}")?;
        }
        if values.len() > SHOW {
            write!(f, ", … {} more", values.len() - SHOW)?;
        }
        write!(f, "]{}", if self.is_tracked() { " (tracked)" } else { "" })
    }
}
