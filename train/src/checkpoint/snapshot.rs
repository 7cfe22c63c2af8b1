//! [`Checkpoint`]: everything a training run needs to continue bit for bit — the model's
//! parameters and buffers, the optimiser's state, the step, the RNG positions and the run's
//! configuration — and how each is saved, loaded and put back.
//!
//! File layout (safetensors; PyTorch reads it with `safetensors.torch.load_file`):
//!
//! | entry | what |
//! |---|---|
//! | `<name>` | every parameter and buffer under its `state_dict` name (`layer1.0.conv1.weight`, `bn1.running_mean`), F32/F64 as in memory |
//! | `optim.<name>.<slot>` | optimiser buffers with PyTorch's slot names (`momentum_buffer`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`) |
//! | `optim.<name>.step` | the parameter's update count (0-d I64) |
//! | metadata `format` | `anglegrad-checkpoint` ; `format_version` `1` |
//! | metadata `step` | the number of optimiser steps taken (decimal) |
//! | metadata `optimizer` | the optimiser's kind (`sgd`, `adamw`), when one was saved |
//! | metadata `rng` | JSON object: generator name → state (decimal string, u64) |
//! | metadata `config` | the run's configuration, JSON |
//! | metadata `crc32` | JSON object: tensor name → CRC-32 of its bytes |

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anglegrad_engine::Tensor;
use serde_json::Value;

use super::atomic;
use super::codec::{self, Stored};
use super::error::{file_name, CheckpointError, Result};
use crate::optim::{OptimState, Optimizer, Params};

/// The `format` metadata value of our files.
pub const FORMAT: &str = "anglegrad-checkpoint";
/// The current `format_version`.
pub const FORMAT_VERSION: u32 = 1;
/// Optimiser entries start with this.
pub const OPTIM_PREFIX: &str = "optim.";

/// A training run's state, in memory.
#[derive(Clone, Debug, Default)]
pub struct Checkpoint {
    /// Optimiser steps taken.
    pub step: u64,
    /// The run's configuration (hyper-parameters, data set, ...), free-form JSON.
    pub config: Value,
    /// Random generators' states by name (`data`, `dropout`, ...).
    pub rng: BTreeMap<String, u64>,
    /// Parameters and buffers by `state_dict` name.
    pub tensors: BTreeMap<String, Tensor>,
    /// The optimiser's kind and state, if one was saved.
    pub optimizer: Option<(String, OptimState)>,
    /// Tensors of the file that a checkpoint does not use (PyTorch's `num_batches_tracked`).
    pub ignored: Vec<String>,
    /// The file this was loaded from, named in errors (empty if never loaded).
    source: PathBuf,
}

impl Checkpoint {
    /// An empty checkpoint at `step`.
    pub fn new(step: u64) -> Checkpoint {
        Checkpoint {
            step,
            ..Checkpoint::default()
        }
    }

    fn file(&self) -> String {
        if self.source.as_os_str().is_empty() {
            "<checkpoint in memory>".to_string()
        } else {
            file_name(&self.source)
        }
    }

    /// Adds every parameter and buffer of `params` (a `Module`, `NamedTensors`, `Joined`).
    /// A name already present, or starting with `optim.`, is an error naming it.
    pub fn add_params(&mut self, params: &mut dyn Params) -> Result<()> {
        let mut named = params.named_params();
        params.for_each_buffer(&mut |name, t| named.push((name.to_string(), t.clone())));
        for (name, t) in named {
            if name.starts_with(OPTIM_PREFIX) || self.tensors.contains_key(&name) {
                return Err(CheckpointError::tensor(
                    &self.file(),
                    &name,
                    "duplicate name, or one that collides with the optimiser's `optim.` entries",
                ));
            }
            self.tensors.insert(name, t.detach());
        }
        Ok(())
    }

    /// Records the optimiser's kind and state (cheap: tensors share storage).
    pub fn set_optimizer(&mut self, optimizer: &dyn Optimizer) {
        self.optimizer = Some((optimizer.kind().to_string(), optimizer.state().clone()));
    }

    /// The saved state of the generator `name`.
    pub fn rng(&self, name: &str) -> Result<u64> {
        self.rng.get(name).copied().ok_or_else(|| {
            CheckpointError::metadata(&self.file(), "rng", format!("no generator named {name:?}"))
        })
    }

    /// Writes the checkpoint to `path` atomically: after a crash `path` holds this checkpoint
    /// or the previous one, whole.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.save_with_hook(path, &mut |_| Ok(()))
    }

    /// [`Checkpoint::save`] with the crash-simulation hook of [`atomic::write_atomic_with`].
    pub fn save_with_hook(
        &self,
        path: &Path,
        hook: &mut dyn FnMut(atomic::Stage) -> std::io::Result<()>,
    ) -> Result<()> {
        let bytes = self.to_bytes(&file_name(path))?;
        atomic::write_atomic_with(path, &bytes, hook).map_err(|e| CheckpointError::io(path, e))
    }

    /// The file's bytes; `file` names the target in errors.
    fn to_bytes(&self, file: &str) -> Result<Vec<u8>> {
        let mut entries: BTreeMap<String, Stored> = self
            .tensors
            .iter()
            .map(|(n, t)| (n.clone(), Stored::Float(t.clone())))
            .collect();
        let mut metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), FORMAT_VERSION.to_string()),
            ("step".to_string(), self.step.to_string()),
            ("config".to_string(), self.config.to_string()),
        ]);
        let rng: serde_json::Map<String, Value> = self
            .rng
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
            .collect();
        metadata.insert("rng".to_string(), Value::Object(rng).to_string());
        if let Some((kind, state)) = &self.optimizer {
            metadata.insert("optimizer".to_string(), kind.clone());
            for (param, st) in &state.params {
                for (slot, buf) in &st.buffers {
                    entries.insert(
                        format!("{OPTIM_PREFIX}{param}.{slot}"),
                        Stored::Float(buf.clone()),
                    );
                }
                entries.insert(
                    format!("{OPTIM_PREFIX}{param}.step"),
                    Stored::Count(st.step),
                );
            }
        }
        if let Some(name) = self.tensors.keys().find(|n| n.starts_with(OPTIM_PREFIX)) {
            return Err(CheckpointError::tensor(
                file,
                name,
                "model tensor names may not start with `optim.`",
            ));
        }
        codec::encode(file, &entries, metadata)
    }

    /// Reads a checkpoint. Also accepts a plain safetensors `state_dict` (no `format`
    /// metadata, e.g. written by PyTorch): its float tensors, at step 0, with no optimiser.
    /// Every error names the file, and the tensor or metadata key at fault.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let file = file_name(path);
        let bytes = std::fs::read(path).map_err(|e| CheckpointError::io(path, e))?;
        let decoded = codec::decode(&file, &bytes)?;
        let meta = &decoded.metadata;
        let mut ck = Checkpoint {
            source: path.to_path_buf(),
            ignored: decoded.ignored,
            ..Checkpoint::default()
        };
        let ours = match meta.get("format") {
            None => false,
            Some(f) if f == FORMAT => true,
            Some(f) => {
                return Err(CheckpointError::metadata(
                    &file,
                    "format",
                    format!("{f:?} is not {FORMAT:?}"),
                ))
            }
        };
        let mut optim_entries = Vec::new();
        for (name, stored) in decoded.entries {
            match stored {
                Stored::Float(t) if !name.starts_with(OPTIM_PREFIX) => {
                    ck.tensors.insert(name, t);
                }
                other if ours && name.starts_with(OPTIM_PREFIX) => {
                    optim_entries.push((name, other))
                }
                _ => ck.ignored.push(name),
            }
        }
        ck.ignored.sort();
        if ours {
            ck.read_metadata(meta)?;
            ck.read_optimizer(meta, optim_entries)?;
        }
        Ok(ck)
    }

    fn read_metadata(&mut self, meta: &HashMap<String, String>) -> Result<()> {
        let file = self.file();
        let get = |key: &str| {
            meta.get(key)
                .ok_or_else(|| CheckpointError::metadata(&file, key, "missing"))
        };
        let version = get("format_version")?;
        if version.parse::<u32>().ok() != Some(FORMAT_VERSION) {
            return Err(CheckpointError::metadata(
                &file,
                "format_version",
                format!("{version:?}: this build reads version {FORMAT_VERSION}"),
            ));
        }
        self.step = get("step")?.parse().map_err(|e| {
            CheckpointError::metadata(&file, "step", format!("not a step count: {e}"))
        })?;
        self.config = serde_json::from_str(get("config")?)
            .map_err(|e| CheckpointError::metadata(&file, "config", format!("not JSON: {e}")))?;
        let rng: serde_json::Map<String, Value> =
            serde_json::from_str(get("rng")?).map_err(|e| {
                CheckpointError::metadata(&file, "rng", format!("not a JSON object: {e}"))
            })?;
        for (name, v) in rng {
            let state = v
                .as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| {
                    CheckpointError::metadata(
                        &file,
                        "rng",
                        format!("{name:?}: {v} is not a u64 in a string"),
                    )
                })?;
            self.rng.insert(name, state);
        }
        Ok(())
    }

    /// Rebuilds the optimiser state from the `optim.<param>.<slot>` entries; each buffer must
    /// match its parameter (saved in the same file) in shape and dtype.
    fn read_optimizer(
        &mut self,
        meta: &HashMap<String, String>,
        entries: Vec<(String, Stored)>,
    ) -> Result<()> {
        let file = self.file();
        let Some(kind) = meta.get("optimizer") else {
            return match entries.first() {
                Some((name, _)) => Err(CheckpointError::tensor(
                    &file,
                    name,
                    "optimiser entry without `optimizer` metadata",
                )),
                None => Ok(()),
            };
        };
        let mut state = OptimState::default();
        for (name, stored) in entries {
            let rest = &name[OPTIM_PREFIX.len()..];
            let Some((param, slot)) = rest.rsplit_once('.') else {
                return Err(CheckpointError::tensor(
                    &file,
                    &name,
                    "expected optim.<parameter>.<slot>",
                ));
            };
            let Some(p) = self.tensors.get(param) else {
                return Err(CheckpointError::tensor(
                    &file,
                    &name,
                    format!("its parameter {param:?} is not in the file"),
                ));
            };
            let st = state.params.entry(param.to_string()).or_default();
            match (slot, stored) {
                ("step", Stored::Count(n)) => st.step = n,
                (_, Stored::Float(buf)) if slot != "step" => {
                    if buf.dims() != p.dims() || buf.dtype() != p.dtype() {
                        return Err(CheckpointError::tensor(
                            &file,
                            &name,
                            format!(
                                "{} {} but its parameter {param:?} is {} {}",
                                buf.dtype(),
                                buf.shape(),
                                p.dtype(),
                                p.shape()
                            ),
                        ));
                    }
                    st.buffers.insert(slot.to_string(), buf);
                }
                _ => {
                    return Err(CheckpointError::tensor(
                        &file,
                        &name,
                        "`step` must be a 0-d I64, buffers F32/F64",
                    ))
                }
            }
        }
        self.optimizer = Some((kind.clone(), state));
        Ok(())
    }

    /// Replaces every parameter and buffer of `params` with the saved tensor of the same name.
    /// All are checked before any is replaced: a missing tensor or one of another shape or
    /// dtype is an error naming it, and leaves `params` untouched. Returns how many were set.
    pub fn restore_params(&self, params: &mut dyn Params) -> Result<usize> {
        let file = self.file();
        let mut wanted = params.named_params();
        params.for_each_buffer(&mut |name, t| wanted.push((name.to_string(), t.clone())));
        for (name, current) in &wanted {
            let saved = self.tensors.get(name).ok_or_else(|| {
                CheckpointError::tensor(
                    &file,
                    name,
                    "missing: the model has it, the checkpoint does not",
                )
            })?;
            if saved.dims() != current.dims() || saved.dtype() != current.dtype() {
                return Err(CheckpointError::tensor(
                    &file,
                    name,
                    format!(
                        "{} {} in the file, the model expects {} {}",
                        saved.dtype(),
                        saved.shape(),
                        current.dtype(),
                        current.shape()
                    ),
                ));
            }
        }
        let mut set = |name: &str, t: &mut Tensor| {
            if let Some(saved) = self.tensors.get(name) {
                *t = saved.clone();
            }
        };
        params.for_each_param(&mut set);
        params.for_each_buffer(&mut set);
        Ok(wanted.len())
    }

    /// Gives `optimizer` the saved state. The kinds must match (SGD state never goes into
    /// AdamW) and the optimiser must accept the buffers.
    pub fn restore_optimizer(&self, optimizer: &mut dyn Optimizer) -> Result<()> {
        let file = self.file();
        let Some((kind, state)) = &self.optimizer else {
            return Err(CheckpointError::metadata(
                &file,
                "optimizer",
                "no optimiser state was saved",
            ));
        };
        if kind != optimizer.kind() {
            return Err(CheckpointError::metadata(
                &file,
                "optimizer",
                format!(
                    "saved by {kind:?}, cannot restore into {:?}",
                    optimizer.kind()
                ),
            ));
        }
        optimizer
            .set_state(state.clone())
            .map_err(|source| CheckpointError::Optimizer {
                file,
                source: Box::new(source),
            })
    }
}
