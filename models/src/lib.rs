//! # anglegrad-models
//!
//! The `Module` trait, layers, initialisers and the face-recognition backbones.

pub mod module;

pub use module::{join, use_param, Mode, Module};
