//! # anglegrad
//!
//! A from-scratch tensor autodiff engine for deep metric learning and face recognition.
//! This facade crate re-exports the member crates; `use anglegrad::prelude::*` gives the API.

pub use anglegrad_engine as engine;
pub use anglegrad_kernels as kernels;
pub use anglegrad_losses as losses;
pub use anglegrad_models as models;
pub use anglegrad_ops as ops;
pub use anglegrad_train as train;
