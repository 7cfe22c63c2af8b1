//! The bytes of a checkpoint: named tensors and string metadata in a safetensors file, each
//! tensor guarded by a CRC-32.
//!
//! safetensors itself rejects a file whose header is damaged or whose data is cut short (the
//! header's offsets must cover the file exactly), but it cannot see a flipped bit inside the
//! data. The CRC-32 of every tensor's bytes, stored in the metadata under `crc32`, catches that
//! and names the damaged tensor. Files without `crc32` (written by PyTorch, say) load
//! unchecked.
//!
//! Element types: F32 and F64 tensors become [`Tensor`]s; a 0-d I64 is a count (an optimiser's
//! per-parameter step). Anything else (PyTorch's I64 `num_batches_tracked`, F16 weights) is
//! listed as ignored, so a plain PyTorch `state_dict` saved with safetensors can still be read.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use anglegrad_engine::{DType, Tensor};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors, View};

use super::error::{CheckpointError, Result};

/// The metadata key holding the per-tensor checksums (a JSON object: name → CRC-32).
pub const CRC_KEY: &str = "crc32";

/// A tensor as a checkpoint stores it.
#[derive(Clone, Debug)]
pub enum Stored {
    /// An F32 or F64 tensor.
    Float(Tensor),
    /// A count, stored as a 0-d I64.
    Count(u64),
}

/// Dtype, shape and little-endian bytes: what safetensors writes.
struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn raw(file: &str, name: &str, stored: &Stored) -> Result<Raw> {
    Ok(match stored {
        Stored::Count(n) => Raw {
            dtype: Dtype::I64,
            shape: vec![],
            bytes: i64::try_from(*n)
                .map_err(|_| CheckpointError::tensor(file, name, format!("count {n} exceeds i64")))?
                .to_le_bytes()
                .to_vec(),
        },
        Stored::Float(t) => match t.dtype() {
            DType::F32 => Raw {
                dtype: Dtype::F32,
                shape: t.dims().to_vec(),
                bytes: t
                    .as_slice::<f32>()
                    .expect("dtype checked")
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
            },
            DType::F64 => Raw {
                dtype: Dtype::F64,
                shape: t.dims().to_vec(),
                bytes: t
                    .as_slice::<f64>()
                    .expect("dtype checked")
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
            },
            other => {
                return Err(CheckpointError::tensor(
                    file,
                    name,
                    format!("dtype {other} cannot be saved (F32 and F64 only)"),
                ))
            }
        },
    })
}

/// The file's bytes: every entry, its checksum, and the metadata. `file` names the target in
/// errors.
pub fn encode(
    file: &str,
    entries: &BTreeMap<String, Stored>,
    mut metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let mut raws = Vec::with_capacity(entries.len());
    let mut crcs = serde_json::Map::new();
    for (name, stored) in entries {
        let r = raw(file, name, stored)?;
        crcs.insert(name.clone(), crc32fast::hash(&r.bytes).into());
        raws.push((name.clone(), r));
    }
    metadata.insert(
        CRC_KEY.to_string(),
        serde_json::Value::Object(crcs).to_string(),
    );
    safetensors::serialize(raws, Some(metadata)).map_err(|e| CheckpointError::Corrupt {
        file: file.to_string(),
        what: format!("cannot serialise: {e}"),
    })
}

/// What a file holds.
pub struct Decoded {
    pub entries: BTreeMap<String, Stored>,
    pub metadata: HashMap<String, String>,
    /// Tensors of an element type a checkpoint does not use, skipped.
    pub ignored: Vec<String>,
}

/// Parses and checks a file's bytes; `file` names it in errors.
pub fn decode(file: &str, bytes: &[u8]) -> Result<Decoded> {
    let corrupt = |what: String| CheckpointError::Corrupt {
        file: file.to_string(),
        what,
    };
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| corrupt(e.to_string()))?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| corrupt(e.to_string()))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let crcs: Option<serde_json::Map<String, serde_json::Value>> = match metadata.get(CRC_KEY) {
        None => None,
        Some(text) => Some(serde_json::from_str(text).map_err(|e| {
            CheckpointError::metadata(file, CRC_KEY, format!("not a JSON object: {e}"))
        })?),
    };
    let mut entries = BTreeMap::new();
    let mut ignored = Vec::new();
    for (name, view) in st.tensors() {
        if let Some(crcs) = &crcs {
            check_crc(file, &name, &view, crcs)?;
        }
        match stored(file, &name, &view)? {
            Some(s) => {
                entries.insert(name, s);
            }
            None => ignored.push(name),
        }
    }
    if let Some(crcs) = &crcs {
        if let Some(name) = crcs
            .keys()
            .find(|n| !entries.contains_key(*n) && !ignored.contains(n))
        {
            return Err(CheckpointError::tensor(
                file,
                name,
                "listed in the checksums but absent from the file",
            ));
        }
    }
    ignored.sort();
    Ok(Decoded {
        entries,
        metadata,
        ignored,
    })
}

fn check_crc(
    file: &str,
    name: &str,
    view: &TensorView<'_>,
    crcs: &serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    let stored = crcs
        .get(name)
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| CheckpointError::tensor(file, name, "has no checksum in the metadata"))?;
    let computed = u64::from(crc32fast::hash(view.data()));
    if stored != computed {
        return Err(CheckpointError::tensor(
            file,
            name,
            format!("checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): the data is corrupted"),
        ));
    }
    Ok(())
}

/// The entry for one tensor view; `None` for element types a checkpoint does not use.
fn stored(file: &str, name: &str, view: &TensorView<'_>) -> Result<Option<Stored>> {
    let shape = view.shape().to_vec();
    let data = view.data();
    let tensor = match view.dtype() {
        Dtype::F32 => Tensor::from_vec(
            data.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect::<Vec<_>>(),
            shape,
        ),
        Dtype::F64 => Tensor::from_vec(
            data.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect::<Vec<_>>(),
            shape,
        ),
        Dtype::I64 if shape.is_empty() => {
            let v =
                i64::from_le_bytes(data.try_into().map_err(|_| {
                    CheckpointError::tensor(file, name, "a 0-d I64 must hold 8 bytes")
                })?);
            let n = u64::try_from(v)
                .map_err(|_| CheckpointError::tensor(file, name, format!("negative count {v}")))?;
            return Ok(Some(Stored::Count(n)));
        }
        _ => return Ok(None),
    };
    tensor
        .map(|t| Some(Stored::Float(t)))
        .map_err(|e| CheckpointError::tensor(file, name, e.to_string()))
}
