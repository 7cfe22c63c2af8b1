//! Checkpoint errors. Every message starts with the file, and names the tensor or the
//! metadata key when one is at fault, so it can be acted on as read:
//!
//! ```text
//! runs/r18/last.safetensors: not a readable checkpoint (truncated or corrupted): incomplete metadata, file not fully covered
//! runs/r18/last.safetensors: tensor "layer1.0.conv1.weight": checksum mismatch (stored 0x1c2b…, computed 0x9f03…): the data is corrupted
//! runs/r18/last.safetensors: tensor "fc.weight": shape [10, 512] in the file, the model expects [1000, 512]
//! ```

use std::path::Path;

/// Why a checkpoint could not be written, read or applied.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The operating system could not read, write, sync or rename a file.
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a safetensors file, or is cut short, or its header is damaged.
    #[error("{file}: not a readable checkpoint (truncated or corrupted): {what}")]
    Corrupt { file: String, what: String },
    /// A tensor is missing, of the wrong shape or dtype, or fails its checksum.
    #[error("{file}: tensor {tensor:?}: {what}")]
    Tensor {
        file: String,
        tensor: String,
        what: String,
    },
    /// A metadata entry (step, RNG state, config, optimiser kind) is missing or malformed.
    #[error("{file}: metadata {key:?}: {what}")]
    Metadata {
        file: String,
        key: String,
        what: String,
    },
    /// The optimiser rejected the saved state (unknown or missing buffers).
    #[error("{file}: {source}")]
    Optimizer {
        file: String,
        #[source]
        source: Box<anglegrad_engine::Error>,
    },
}

/// `Result` with a [`CheckpointError`].
pub type Result<T> = std::result::Result<T, CheckpointError>;

pub(crate) fn file_name(path: &Path) -> String {
    path.display().to_string()
}

impl CheckpointError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> CheckpointError {
        CheckpointError::Io {
            file: file_name(path),
            source,
        }
    }

    pub(crate) fn tensor(file: &str, tensor: &str, what: impl Into<String>) -> CheckpointError {
        CheckpointError::Tensor {
            file: file.to_string(),
            tensor: tensor.to_string(),
            what: what.into(),
        }
    }

    pub(crate) fn metadata(file: &str, key: &str, what: impl Into<String>) -> CheckpointError {
        CheckpointError::Metadata {
            file: file.to_string(),
            key: key.to_string(),
            what: what.into(),
        }
    }

    /// The tensor the error is about, if it is about one.
    pub fn tensor_name(&self) -> Option<&str> {
        match self {
            CheckpointError::Tensor { tensor, .. } => Some(tensor),
            _ => None,
        }
    }
}
