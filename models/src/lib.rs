//! # anglegrad-models
//!
//! The `Module` trait, layers, initialisers and the face-recognition backbones.

mod check;
pub mod init;
pub mod layers;
pub mod module;

pub use layers::{
    BatchNorm, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, Linear, PReLU, ReLU, Sequential,
};
pub use module::{join, use_param, Mode, Module};
