//! The engine behind `examples/loss_eval.rs`: read a loss's inputs from a safetensors file,
//! compute the loss and its gradients, write them to another safetensors file
//! (LOSSES.md §16). Lets users check our losses against their own code, and lets our tests
//! check them against PyTorch (`tests/loss_eval_torch.rs`).
//!
//! Inputs by name: `embeddings` [B, D], `labels` [B] (I64), and as the loss needs them
//! `weight` [C, D], `bias` [C], `centers` [C, D], `teacher_embeddings` [B, D]. All float
//! inputs share one dtype (F32 or F64), which is the dtype of the computation. Outputs: `loss`
//! (0-d) and `grad.<input>` for every float input the loss differentiates.

use std::path::Path;

use anglegrad_engine::{DType, Error, Result, Tape, Tensor};
use anglegrad_losses::check::labels_from_i64;
use anglegrad_losses::registry::{ConfiguredLoss, LossInputs};
use safetensors::{Dtype, SafeTensors};

const OP: &str = "loss_eval";

fn file_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::invalid(OP, format!("{}: {what}", path.display()))
}

fn float_tensor(
    path: &Path,
    name: &str,
    view: &safetensors::tensor::TensorView<'_>,
) -> Result<Tensor> {
    let shape = view.shape().to_vec();
    let bytes = view.data();
    match view.dtype() {
        Dtype::F64 => {
            let v: Vec<f64> = bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect();
            Tensor::from_vec(v, shape)
        }
        Dtype::F32 => {
            let v: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect();
            Tensor::from_vec(v, shape)
        }
        other => Err(file_error(
            path,
            format!("tensor {name:?} has dtype {other:?}; expected F32 or F64"),
        )),
    }
}

/// Reads the inputs the loss reads from a safetensors file.
pub fn read_inputs(path: &Path, loss: &ConfiguredLoss) -> Result<LossInputs> {
    let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| file_error(path, format!("not a safetensors file: {e}")))?;
    let get = |name: &str| st.tensor(name).ok();
    let embeddings = match get("embeddings") {
        Some(v) => float_tensor(path, "embeddings", &v)?,
        None => return Err(file_error(path, "has no tensor \"embeddings\"")),
    };
    let labels = match get("labels") {
        Some(v) if v.dtype() == Dtype::I64 && v.shape().len() == 1 => {
            let raw: Vec<i64> = v
                .data()
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect();
            labels_from_i64(loss.spec.name, &raw)?
        }
        Some(v) => {
            return Err(file_error(
                path,
                format!(
                    "\"labels\" must be a 1-d I64 tensor, got {:?} {:?}",
                    v.dtype(),
                    v.shape()
                ),
            ))
        }
        None => return Err(file_error(path, "has no tensor \"labels\"")),
    };
    let mut inputs = LossInputs {
        embeddings,
        labels,
        weight: None,
        bias: None,
        centers: None,
        teacher_embeddings: None,
    };
    for name in ["weight", "bias", "centers", "teacher_embeddings"] {
        let read = loss
            .spec
            .reads
            .iter()
            .any(|r| r.trim_matches(['[', ']']) == name);
        if let (true, Some(view)) = (read, get(name)) {
            let t = float_tensor(path, name, &view)?;
            if t.dtype() != inputs.embeddings.dtype() {
                return Err(file_error(
                    path,
                    format!(
                        "{name:?} is {} but \"embeddings\" is {}",
                        t.dtype(),
                        inputs.embeddings.dtype()
                    ),
                ));
            }
            inputs.set(name, t);
        }
    }
    Ok(inputs)
}

/// The loss value and the gradients of the inputs it differentiates (present ones only).
pub struct LossOutput {
    pub loss: Tensor,
    pub grads: Vec<(String, Tensor)>,
}

/// Watches the differentiated inputs, computes the loss, runs backward.
pub fn evaluate(loss: &ConfiguredLoss, mut inputs: LossInputs) -> Result<LossOutput> {
    let tape = Tape::new();
    let mut watched = Vec::new();
    for &name in loss.spec.differentiates {
        if let Some(t) = inputs.get(name).cloned() {
            let w = tape.watch(&t);
            inputs.set(name, w.clone());
            watched.push((name, w));
        }
    }
    let value = loss.loss(&inputs)?;
    let loss_value = value.detach();
    let grads = tape.backward(&value)?;
    let grads = watched
        .into_iter()
        .map(|(name, t)| Ok((format!("grad.{name}"), grads.wrt(&t)?.clone())))
        .collect::<Result<Vec<_>>>()?;
    Ok(LossOutput {
        loss: loss_value,
        grads,
    })
}

fn to_bytes(t: &Tensor) -> (Dtype, Vec<u8>) {
    match t.dtype() {
        DType::F32 => (
            Dtype::F32,
            t.as_slice::<f32>()
                .expect("f32")
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        _ => (
            Dtype::F64,
            t.to_vec_f64()
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
    }
}

/// Writes `loss` (0-d) and the gradients, atomically (a temporary file renamed into place).
pub fn write_outputs(path: &Path, out: &LossOutput) -> Result<()> {
    let mut named = vec![(
        "loss".to_string(),
        Tensor::from_storage(out.loss.storage().clone(), ())?,
    )];
    named.extend(out.grads.iter().cloned());
    let buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = named
        .iter()
        .map(|(n, t)| {
            let (dt, bytes) = to_bytes(t);
            (n.clone(), dt, t.dims().to_vec(), bytes)
        })
        .collect();
    let views = buffers
        .iter()
        .map(|(n, dt, shape, bytes)| {
            safetensors::tensor::TensorView::new(*dt, shape.clone(), bytes)
                .map(|v| (n.clone(), v))
                .map_err(|e| file_error(path, e))
        })
        .collect::<Result<Vec<_>>>()?;
    let data = safetensors::serialize(views, None).map_err(|e| file_error(path, e))?;
    let tmp = path.with_extension("safetensors.tmp");
    std::fs::write(&tmp, data).map_err(|e| file_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| file_error(path, e))
}
