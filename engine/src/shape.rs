//! Tensor shapes: a list of dimension sizes, row-major (the last axis is contiguous).

use std::fmt;

use smallvec::SmallVec;

use crate::{Error, Result};

/// The dimensions of a tensor. A scalar has shape `[]` (rank 0, one element).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(SmallVec<[usize; 4]>);

impl Shape {
    pub fn new(dims: &[usize]) -> Shape {
        Shape(SmallVec::from_slice(dims))
    }

    /// The shape of a scalar: `[]`.
    pub fn scalar() -> Shape {
        Shape(SmallVec::new())
    }

    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements: the product of the dims (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// The number of elements, or an error when the product overflows `usize`.
    pub fn checked_numel(&self) -> Option<usize> {
        self.0.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
    }

    /// Size of one axis, or an error naming `op` when the axis is past the rank.
    pub fn dim(&self, op: &'static str, axis: usize) -> Result<usize> {
        self.0
            .get(axis)
            .copied()
            .ok_or_else(|| Error::AxisOutOfRange {
                op,
                axis,
                shape: self.clone(),
            })
    }

    /// Views the shape as `[outer, len, inner]` around `axis` (the layout every axis kernel
    /// takes): outer = product of the dims before it, inner = product after it.
    pub fn split_at_axis(&self, op: &'static str, axis: usize) -> Result<(usize, usize, usize)> {
        let len = self.dim(op, axis)?;
        let outer = self.0[..axis].iter().product();
        let inner = self.0[axis + 1..].iter().product();
        Ok((outer, len, inner))
    }

    /// The same shape with `axis` replaced by `size`.
    pub fn with_dim(&self, axis: usize, size: usize) -> Shape {
        let mut dims = self.0.clone();
        dims[axis] = size;
        Shape(dims)
    }

    /// The same shape with `axis` removed.
    pub fn without_dim(&self, axis: usize) -> Shape {
        let mut dims = self.0.clone();
        dims.remove(axis);
        Shape(dims)
    }

    /// The numpy broadcast of two shapes, or an error naming `op` and both shapes.
    pub fn broadcast(op: &'static str, lhs: &Shape, rhs: &Shape) -> Result<Shape> {
        anglegrad_kernels::cpu::broadcast::broadcast_dims(lhs.dims(), rhs.dims())
            .map(|d| Shape::new(&d))
            .ok_or_else(|| Error::Broadcast {
                op,
                lhs: lhs.clone(),
                rhs: rhs.clone(),
            })
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Shape {
        Shape::new(d)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Shape {
        Shape(SmallVec::from_vec(d))
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Shape {
        Shape::new(&d)
    }
}

impl From<&Shape> for Shape {
    fn from(s: &Shape) -> Shape {
        s.clone()
    }
}

impl From<()> for Shape {
    fn from(_: ()) -> Shape {
        Shape::scalar()
    }
}

impl From<usize> for Shape {
    fn from(d: usize) -> Shape {
        Shape::new(&[d])
    }
}
