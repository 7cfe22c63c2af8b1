//! Input-shape checks shared by the layers: an error names the layer (with its settings, as
//! PyTorch prints it) and both the shape it expects and the shape it got, e.g.
//! `Conv2d(3, 64, kernel_size=(7, 7), …) expects input [N, 3, H, W], got [2, 1, 28, 28]`.

use std::fmt::{self, Display};

use anglegrad_engine::{Error, Result, Tensor};

/// One axis of an expected shape: any size (printed by its name) or exactly this size.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Dim {
    Any(&'static str),
    Is(usize),
}

struct Pattern<'a>(&'a [Dim]);

impl Display for Pattern<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            match d {
                Dim::Any(name) => write!(f, "{name}")?,
                Dim::Is(n) => write!(f, "{n}")?,
            }
        }
        write!(f, "]")
    }
}

fn matches(x: &Tensor, pattern: &[Dim]) -> bool {
    x.rank() == pattern.len()
        && x.dims().iter().zip(pattern).all(|(&d, p)| match p {
            Dim::Any(_) => d > 0,
            Dim::Is(n) => d == *n,
        })
}

/// Ok when `x` matches one of the `patterns`; otherwise [`mismatch`]'s error.
pub(crate) fn input(
    op: &'static str,
    layer: &dyn Display,
    x: &Tensor,
    patterns: &[&[Dim]],
) -> Result<()> {
    if patterns.iter().any(|p| matches(x, p)) {
        Ok(())
    } else {
        Err(mismatch(op, layer, x, patterns))
    }
}

/// The error naming `layer`, the shapes it accepts and `x`'s shape. `op` is the layer's type.
pub(crate) fn mismatch(
    op: &'static str,
    layer: &dyn Display,
    x: &Tensor,
    patterns: &[&[Dim]],
) -> Error {
    let expected: Vec<String> = patterns.iter().map(|p| Pattern(p).to_string()).collect();
    Error::invalid(
        op,
        format!(
            "{layer} expects input {}, got {}",
            expected.join(" or "),
            x.shape()
        ),
    )
}

/// An error for a layer or model built with settings that cannot work.
pub(crate) fn config(op: &'static str, msg: impl Into<String>) -> Error {
    Error::invalid(op, msg)
}
