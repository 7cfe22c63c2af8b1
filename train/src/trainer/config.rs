//! What a training run is: every option of `examples/train.rs`, with its default, stored as
//! `<out>/config.json` and in every checkpoint.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A training run's configuration. Defaults train a small ResNet with ArcFace on the built-in
/// synthetic faces in a few minutes on 2 cores.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainConfig {
    /// `synthetic:<preset>[@<size>]` (tiny, small, face112; @size resizes the images, e.g.
    /// `synthetic:face112@56`), `fashion-mnist`, `glyphs`, `idx:<images>,<labels>`,
    /// `folder:<root>`, `recordio:<prefix>` (reads `<prefix>.rec`, `.idx`).
    pub data: String,
    /// resnet18, resnet34, resnet50, cifar_resnet18, iresnet18/34/50/100, mobilefacenet, lenetpp.
    pub backbone: String,
    /// Divides the backbone's channel widths (1 = the reference network; 2 or 4 for quick runs).
    pub width_divisor: usize,
    /// Embedding dimension D.
    pub embedding: usize,
    /// A loss of LOSSES.md §16 (`loss_eval --list`).
    pub loss: String,
    /// `key=value` parameters of the loss.
    pub loss_params: Vec<(String, String)>,
    pub epochs: usize,
    /// Batch size (for P×K sampling: P = batch / k).
    pub batch: usize,
    /// Samples per identity in a P×K batch (pair, triplet, range and DDL losses).
    pub k: usize,
    /// `sgd` or `adamw`.
    pub optimizer: String,
    pub lr: f64,
    /// Learning-rate multiplier of the classifier head (insightface trains the margin head's W
    /// with the backbone's lr; some recipes use 10x).
    pub head_lr_mult: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    /// `cosine` (with warm-up), `poly` (insightface), `step` (÷10 at 60% and 85%), `constant`.
    pub schedule: String,
    pub warmup_epochs: f64,
    /// Clip the global gradient norm (insightface: 5); 0 = off.
    pub clip_norm: f64,
    /// λ of the centre loss (L = mean softmax + λ·L_C/B, both batch means as caffe-face) and α
    /// of the centre update.
    pub center_lambda: f64,
    pub center_alpha: f64,
    /// Classes per chunk of the fused margin head (ArcFace, CosFace, NormFace, combined).
    pub head_chunk: usize,
    /// Flip test-time augmentation in evaluation (embedding of the image + its mirror).
    pub flip_test: bool,
    /// Evaluate every n epochs (and always after the last).
    pub eval_every: usize,
    /// Worker threads (0: all cores).
    pub threads: usize,
    pub seed: u64,
    pub out: PathBuf,
    /// Resume from this checkpoint.
    pub resume: Option<PathBuf>,
    /// Stop after this many steps in total (0 = run all epochs): for smoke tests.
    pub max_steps: usize,
    /// `none`, or `mpi` / `nccl` to be one rank of a multi-process run (`mpirun -np R`; builds
    /// with `--features mpi` / `nccl`): see `crate::distributed`. `batch` is the global batch.
    #[serde(default = "default_distributed")]
    pub distributed: String,
    /// Partial FC sample rate of the margin heads (insightface partial_fc_v2; 1 = every class).
    #[serde(default = "default_partial_fc")]
    pub partial_fc: f64,
}

fn default_distributed() -> String {
    "none".into()
}

fn default_partial_fc() -> f64 {
    1.0
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            data: "synthetic:face112@56".into(),
            backbone: "resnet18".into(),
            width_divisor: 2,
            embedding: 128,
            loss: "arcface".into(),
            loss_params: vec![("s".into(), "30".into())],
            epochs: 6,
            batch: 64,
            k: 4,
            optimizer: "sgd".into(),
            lr: 0.1,
            head_lr_mult: 1.0,
            momentum: 0.9,
            weight_decay: 5e-4,
            schedule: "cosine".into(),
            warmup_epochs: 1.0,
            clip_norm: 5.0,
            center_lambda: 0.003,
            center_alpha: 0.5,
            head_chunk: 4096,
            flip_test: true,
            eval_every: 1,
            threads: 0,
            seed: 42,
            out: PathBuf::from("runs/train"),
            resume: None,
            max_steps: 0,
            distributed: default_distributed(),
            partial_fc: default_partial_fc(),
        }
    }
}

impl TrainConfig {
    /// Checks the values that do not depend on the data.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Invalid(msg));
        if self.epochs == 0 || self.batch < 2 {
            return bad(format!(
                "need epochs >= 1 and batch >= 2, got {} and {}",
                self.epochs, self.batch
            ));
        }
        if self.lr.is_nan() || self.lr <= 0.0 || !self.lr.is_finite() {
            return bad(format!("lr must be a positive number, got {}", self.lr));
        }
        if self.width_divisor == 0
            || self.embedding == 0
            || self.head_chunk == 0
            || self.eval_every == 0
        {
            return bad("width_divisor, embedding, head_chunk and eval_every must be >= 1".into());
        }
        if !["sgd", "adamw"].contains(&self.optimizer.as_str()) {
            return bad(format!(
                "optimizer {:?}: expected sgd or adamw",
                self.optimizer
            ));
        }
        if !(self.partial_fc > 0.0 && self.partial_fc <= 1.0) {
            return bad(format!(
                "partial_fc (sample rate) must be in (0, 1], got {}",
                self.partial_fc
            ));
        }
        if !["cosine", "poly", "step", "constant"].contains(&self.schedule.as_str()) {
            return bad(format!(
                "schedule {:?}: expected cosine, poly, step or constant",
                self.schedule
            ));
        }
        Ok(())
    }
}
