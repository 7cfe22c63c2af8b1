//! The training run behind `examples/train.rs`: configuration, data sources, backbones by name,
//! the loss objective, the loop, evaluation and logging.
//!
//! | file | idea |
//! |---|---|
//! | [`config`] | [`TrainConfig`]: every option and its default |
//! | [`dataset`] | [`TrainData`]: training images and the verification benchmark of a source |
//! | [`backbone`] | a backbone by name for the data's input size |
//! | [`objective`] | the loss with its head, its state and its after-step updates |
//! | [`run`] | the loop: batches, forward, loss, backward, step; evaluation, checkpoints, plots |
//! | [`benchmark`] | verification benchmarks from `pairs.txt` + images, or a `.bin` |
//! | [`evaluate`] | embeddings of the benchmark (flip TTA) and its verification report |
//! | [`metrics`] | `metrics.jsonl` |

pub mod backbone;
pub mod benchmark;
pub mod config;
pub mod dataset;
pub mod evaluate;
pub mod metrics;
pub mod objective;
pub mod run;

pub use config::TrainConfig;
pub use dataset::{BatchKey, EvalSet, TrainData};
pub use run::{run, run_with, RunSummary};
