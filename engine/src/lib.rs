//! # anglegrad-engine
//!
//! The core of the autodiff engine: [`Tensor`] (immutable, shared storage, row-major),
//! [`Shape`], [`DType`], [`Device`], the [`Tape`] that records ops on watched tensors, the
//! backward walk that turns the record into [`Grads`], and the [`Error`] type.
//!
//! The engine does not know any op: ops live in `anglegrad-ops`, each with its forward function
//! and its [`BackwardRule`] side by side. A typical step:
//!
//! ```ignore
//! let tape = Tape::new();
//! let w = tape.watch(&weights);          // follow w
//! let loss = model_loss(&x, &w)?;        // ops on w append nodes to the tape
//! let grads = tape.backward(&loss)?;     // reverse walk -> one gradient per watched tensor
//! let dw = grads.wrt(&w)?;
//! ```

pub mod backward;
mod device;
mod dtype;
mod error;
mod grads;
pub mod rng;
mod shape;
mod storage;
mod tape;
mod tensor;

pub use anglegrad_kernels::Float;
pub use device::Device;
pub use dtype::{DType, Element};
pub use error::{Error, Result};
pub use grads::Grads;
pub use rng::Rng;
pub use shape::Shape;
pub use storage::Storage;
pub use tape::{BackwardRule, Tape};
pub use tensor::{Tensor, TensorId};
