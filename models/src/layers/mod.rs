//! The layers, one per file, each a [`Module`](crate::Module) with PyTorch's parameter names.

mod activation;
mod batchnorm;
mod conv;
mod dropout;
mod flatten;
mod linear;
mod sequential;

pub use activation::{PReLU, ReLU};
pub use batchnorm::{BatchNorm, BatchNorm1d, BatchNorm2d};
pub use conv::Conv2d;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use linear::Linear;
pub use sequential::Sequential;
