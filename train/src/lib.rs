//! anglegrad-train (see ../shared/DESIGN.md §2): data sets and their file formats, the
//! synthetic identities generator, and the evaluation metrics of face verification and
//! identification.
//!
//! Map:
//! - [`data`]: readers and writers (IDX, image folders, LFW `pairs.txt`, insightface `.bin`,
//!   MXNet RecordIO), the project RNG, the synthetic identities.
//! - [`eval`]: ROC, AUC, EER, TAR@FAR, 10-fold verification accuracy, VAL@FAR, rank-k.
//! - [`loader`]: samplers (shuffled epochs, P×K), augmentation, a prefetching loader thread.
//! - [`optim`]: SGD (momentum, Nesterov, weight decay) and AdamW as PyTorch defines them,
//!   parameter groups, learning-rate schedules, gradient clipping.
//! - [`checkpoint`]: safetensors checkpoints written atomically, bit-exact resume.
//! - [`plots`]: PNG figures (loss curves, ROC, 2-D features).
//! - [`trainer`]: the training run of `examples/train.rs` (config, data, loop, evaluation).
//! - [`error`]: the error type; every format error names the file and the byte offset.

pub mod checkpoint;
pub mod data;
pub mod distributed;
pub mod error;
pub mod eval;
pub mod loader;
pub mod optim;
pub mod plots;
pub mod trainer;

pub use error::{Error, Offset, Result};
