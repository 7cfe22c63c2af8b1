//! Crash-safe checkpoints in safetensors: model, optimiser state, step, RNG positions and the
//! run's configuration, in one file that PyTorch can read.
//!
//! Saving every few hundred steps, and resuming:
//!
//! ```ignore
//! use anglegrad_train::checkpoint::{rng_from_state, rng_state, Checkpoint};
//!
//! // save (atomic: a crash leaves the previous file whole)
//! let mut ck = Checkpoint::new(step);
//! ck.add_params(&mut backbone)?;                 // parameters + buffers, state_dict names
//! ck.add_params(&mut head)?;                     // a NamedTensors outside the model
//! ck.set_optimizer(&opt);                        // optim.<name>.momentum_buffer, optim.<name>.step
//! ck.rng.insert("data".into(), rng_state(&data_rng));
//! ck.config = serde_json::json!({ "lr": 0.1, "batch": 128 });
//! ck.save(Path::new("runs/r18/last.safetensors"))?;
//!
//! // resume, in a fresh process
//! let ck = Checkpoint::load(Path::new("runs/r18/last.safetensors"))?;
//! ck.restore_params(&mut backbone)?;             // every name checked before any is replaced
//! ck.restore_params(&mut head)?;
//! ck.restore_optimizer(&mut opt)?;
//! let mut data_rng = rng_from_state(ck.rng("data")?);
//! for step in ck.step..total_steps { /* identical to the uninterrupted run, bit for bit */ }
//! ```
//!
//! Errors ([`CheckpointError`]) never panic and always name the file, plus the tensor or the
//! metadata key at fault: a truncated file, a damaged header, a tensor whose CRC-32 fails, a
//! tensor the model needs but the file lacks, one of the wrong shape or dtype.
//!
//! | file | idea |
//! |---|---|
//! | [`snapshot`] | [`Checkpoint`]: what is saved, the file layout, load and restore |
//! | [`codec`] | tensors ↔ safetensors bytes, with a CRC-32 per tensor |
//! | [`atomic`] | write to a temp file, fsync, rename, fsync the directory |
//! | [`rng_state`] | the SplitMix64 generator's position (one word), saved and restored |
//! | [`error`] | [`CheckpointError`] |
//!
//! ## Reading our checkpoints in PyTorch
//!
//! Model tensors carry PyTorch `state_dict` names, so `safetensors.torch.load_file(path)` gives
//! a dict that `model.load_state_dict(..., strict=False)` accepts once the `optim.*` entries
//! are dropped (and PyTorch's `num_batches_tracked` counters, which we do not keep, are
//! reported missing). `tools/torch_reference/load_resnet18.py` does exactly this for
//! ResNet-18 and compares the two frameworks' outputs:
//!
//! ```text
//! /work/venv-torch/bin/python tools/torch_reference/load_resnet18.py CHECKPOINT IO_FILE [--atol 1e-4] [--rtol 1e-4]
//! ```
//!
//! `CHECKPOINT` is a checkpoint written by anglegrad for a ResNet-18 with torchvision's names
//! (`conv1.weight`, `bn1.*`, `layer1.0.conv1.weight`, …, `fc.weight`, `fc.bias`; the classifier
//! size is read from `fc.weight`). `IO_FILE` is a safetensors file with `input` [N, 3, H, W] and
//! `expected` [N, classes]: the input and *our* model's output on it in evaluation mode. The
//! script builds `torchvision.models.resnet18` (or, without torchvision, an identical module
//! written out in the script), loads the weights and buffers, runs the input in `eval()` mode,
//! prints the largest absolute and relative differences and exits non-zero when they exceed
//! the tolerances. `--self-test` checks the script itself with a torch-made checkpoint.

pub mod atomic;
pub mod codec;
pub mod error;
pub mod rng_state;
pub mod snapshot;

pub use error::{CheckpointError, Result};
pub use rng_state::{rng_from_state, rng_state};
pub use snapshot::Checkpoint;
