//! Embeds a verification benchmark with the model (no tape: nothing recorded) and scores it.
//!
//! Flip test-time augmentation (DATASETS.md §5): the embedding of an image is
//! nrm(f(x) + f(flip x)); cosine scores normalise anyway.

use anglegrad_engine::{Result as EngineResult, Tensor};
use anglegrad_models::{Mode, Module};

use super::dataset::EvalSet;
use crate::error::{Error, Result};
use crate::eval::VerificationReport;

/// Images per forward during evaluation.
const EVAL_BATCH: usize = 128;

/// The embeddings [M, D] of every image of `set` (evaluation mode; training mode restored).
pub fn embed(model: &mut dyn Module, set: &EvalSet, flip: bool) -> Result<(Vec<f32>, usize)> {
    model.set_mode(Mode::Eval);
    let out = embed_all(model, set, flip && set.flip_ok);
    model.set_mode(Mode::Train);
    out.map_err(|e| Error::Invalid(format!("evaluation: {e}")))
}

fn embed_all(model: &mut dyn Module, set: &EvalSet, flip: bool) -> EngineResult<(Vec<f32>, usize)> {
    let (n, dims) = (set.images.n, [set.images.c, set.images.h, set.images.w]);
    let mut all = Vec::new();
    let mut dim = 0;
    for start in (0..n).step_by(EVAL_BATCH) {
        let idx: Vec<usize> = (start..(start + EVAL_BATCH).min(n)).collect();
        let shape = [idx.len(), dims[0], dims[1], dims[2]];
        let mut e = model
            .forward(&Tensor::from_vec(set.batch(&idx, false), shape)?, None)?
            .to_vec::<f32>()?;
        if flip {
            let f = model
                .forward(&Tensor::from_vec(set.batch(&idx, true), shape)?, None)?
                .to_vec::<f32>()?;
            for (a, b) in e.iter_mut().zip(f) {
                *a += b;
            }
        }
        dim = e.len() / idx.len();
        all.extend(e);
    }
    Ok((all, dim))
}

/// Embeds and scores the benchmark.
pub fn verify(model: &mut dyn Module, set: &EvalSet, flip: bool) -> Result<VerificationReport> {
    let (emb, dim) = embed(model, set, flip)?;
    set.report(&emb, dim)
}
