//! From a data set to training batches: samplers, augmentation, and a prefetching thread.

pub mod augment;
pub mod prefetch;
pub mod sampler;

pub use augment::Augment;
pub use prefetch::Prefetcher;
pub use sampler::{PkSampler, ShuffledEpochs};
