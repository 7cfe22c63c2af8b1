//! # anglegrad
//!
//! A from-scratch tensor autodiff engine for deep metric learning and face recognition.
//! This facade crate re-exports the member crates; `use anglegrad::prelude::*` gives the API:
//!
//! ```
//! use anglegrad::prelude::*;
//!
//! # fn main() -> anglegrad::prelude::Result<()> {
//! let tape = Tape::new();
//! let w = tape.watch(&Tensor::from_vec(vec![1.0f32, 2.0], [2])?);
//! let loss = w.square()?.sum_all()?;           // L = Σ w²
//! let grads = tape.backward(&loss)?;           // ∂L/∂w = 2w
//! assert_eq!(grads.wrt(&w)?.to_vec::<f32>()?, vec![2.0, 4.0]);
//! # Ok(())
//! # }
//! ```

pub use anglegrad_engine as engine;
pub use anglegrad_kernels as kernels;
pub use anglegrad_losses as losses;
pub use anglegrad_models as models;
pub use anglegrad_ops as ops;
pub use anglegrad_train as train;

pub mod course;
pub mod loss_eval;

/// Everything a training script needs in scope.
pub mod prelude {
    pub use anglegrad_engine::{DType, Device, Error, Grads, Result, Rng, Shape, Tape, Tensor};
    pub use anglegrad_ops::{self as ops, TensorOps};
}
