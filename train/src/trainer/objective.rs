//! The training objective: the chosen loss, the parameters it owns (a classifier head W and
//! bias), its state (centres, the λ schedule of L-Softmax / SphereFace) and what runs after
//! each optimiser step.
//!
//! | loss family | head | batches | per step |
//! |---|---|---|---|
//! | softmax, focal, deepid2 | W [C, D], b [C] | shuffled | CE(W x + b) (+ verification pairs) |
//! | lsoftmax, sphereface | W [C, D] | shuffled | the margin with λ from its annealing schedule |
//! | normface, cosface, arcface, combined | W [C, D] | shuffled | the fused, class-chunked margin head |
//! | sv_softmax, mv_am, mv_arc, c_contrastive, c_triplet | W [C, D] | shuffled | the composite head |
//! | contrastive, triplet, range | — | P×K | the pair loss on the batch |
//! | center | W, b | shuffled | softmax + λ·L_C/B (batch means, as caffe-face), then the centres move by Δc (paper) |
//! | ddl | W [C, D] | P×K | ArcFace on both views + DDL between clean (teacher) and low-resolution (student) embeddings |

use anglegrad_engine::{DType, Result, Rng, Tape, Tensor};
use anglegrad_losses::center::{center_loss, update_centers, CenterMode};
use anglegrad_losses::ddl::Ddl;
use anglegrad_losses::large_margin::LambdaSchedule;
use anglegrad_losses::registry::{configure, ConfiguredLoss, LossInputs};
use anglegrad_losses::{arcface, MarginSoftmax};
use anglegrad_ops::TensorOps;

use super::config::TrainConfig;
use crate::optim::NamedTensors;

/// How the loss uses the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Classifier { bias: bool },
    Pair,
    Center,
    Ddl,
}

/// The loss of a run with its parameters and state.
pub struct Objective {
    pub name: String,
    loss: ConfiguredLoss,
    params: Vec<(String, String)>,
    kind: Kind,
    /// Trainable parameters outside the backbone: `head.weight`, `head.bias`.
    pub head: NamedTensors,
    /// Non-trainable state saved in checkpoints: `loss.centers`.
    pub state: NamedTensors,
    fused: Option<MarginSoftmax>,
    lambda: Option<LambdaSchedule>,
    center_lambda: f64,
    center_alpha: f64,
}

impl Objective {
    pub fn new(cfg: &TrainConfig, classes: usize, dim: usize) -> Result<Objective> {
        let name = cfg.loss.as_str();
        let kind = match name {
            "softmax" | "focal" | "deepid2" => Kind::Classifier { bias: true },
            "contrastive" | "triplet" | "range" => Kind::Pair,
            "center" => Kind::Center,
            "ddl" => Kind::Ddl,
            _ => Kind::Classifier { bias: false },
        };
        // The centre loss trains with softmax; DDL with ArcFace on each view.
        let base = match kind {
            Kind::Center => "softmax",
            Kind::Ddl => "arcface",
            _ => name,
        };
        let loss_params = if matches!(kind, Kind::Center | Kind::Ddl) {
            vec![]
        } else {
            cfg.loss_params.clone()
        };
        let loss = configure(base, &loss_params)?;
        let mut rng = Rng::keyed(cfg.seed, 0x4845_4144, 0, 0);
        let mut head = NamedTensors::new();
        if kind != Kind::Pair {
            // insightface initialises the class centres W ~ N(0, 0.01²); a softmax layer gets
            // PyTorch's Linear default, U(±1/√D).
            let w = match kind {
                Kind::Classifier { bias: true } | Kind::Center => {
                    let bound = 1.0 / (dim as f64).sqrt();
                    Tensor::rand_uniform([classes, dim], -bound, bound, DType::F32, &mut rng)?
                }
                _ => Tensor::randn([classes, dim], 0.0, 0.01, DType::F32, &mut rng)?,
            };
            head.push("head.weight", w);
            if matches!(kind, Kind::Classifier { bias: true } | Kind::Center) {
                head.push("head.bias", Tensor::zeros([classes], DType::F32)?);
            }
        }
        let mut state = NamedTensors::new();
        if kind == Kind::Center {
            state.push("loss.centers", Tensor::zeros([classes, dim], DType::F32)?);
        }
        let fused = match kind {
            Kind::Ddl => Some(arcface::arcface_default().fused(cfg.head_chunk)),
            _ => loss.margin_head()?.map(|h| h.fused(cfg.head_chunk)),
        };
        let lambda = match name {
            "lsoftmax" if !cfg.loss_params.iter().any(|(k, _)| k == "lambda") => {
                Some(LambdaSchedule::lsoftmax_mnist())
            }
            "sphereface" if !cfg.loss_params.iter().any(|(k, _)| k == "lambda") => {
                Some(LambdaSchedule::sphereface())
            }
            _ => None,
        };
        Ok(Objective {
            name: name.into(),
            loss,
            params: loss_params,
            kind,
            head,
            state,
            fused,
            lambda,
            center_lambda: cfg.center_lambda,
            center_alpha: cfg.center_alpha,
        })
    }

    /// Whether batches must be P identities × K samples.
    pub fn needs_pk(&self) -> bool {
        matches!(self.kind, Kind::Pair | Kind::Ddl)
    }

    /// Whether the step also needs a second, degraded view of the batch (DDL's student).
    pub fn needs_student_view(&self) -> bool {
        self.kind == Kind::Ddl
    }

    /// The loss of a batch of embeddings [B, D] (and, for DDL, the student view's).
    pub fn loss(
        &mut self,
        emb: &Tensor,
        labels: &[usize],
        tape: &Tape,
        student: Option<&Tensor>,
    ) -> Result<Tensor> {
        let watched = |head: &NamedTensors, name: &str| head.get(name).map(|t| tape.watch(t));
        let w = watched(&self.head, "head.weight");
        let b = watched(&self.head, "head.bias");
        match self.kind {
            Kind::Ddl => {
                let (Some(head), Some(w), Some(student)) = (&self.fused, &w, student) else {
                    return Err(anglegrad_engine::Error::invalid(
                        "ddl",
                        "needs the head and the student view",
                    ));
                };
                let cls = head
                    .loss("arcface", emb, w, labels)?
                    .add(&head.loss("arcface", student, w, labels)?)?;
                cls.add(&Ddl::default().loss(student, emb, labels)?)
            }
            Kind::Center => {
                let inputs = LossInputs {
                    embeddings: emb.clone(),
                    labels: labels.to_vec(),
                    weight: w,
                    bias: b,
                    centers: None,
                    teacher_embeddings: None,
                };
                let centers = self
                    .state
                    .get("loss.centers")
                    .expect("created with the objective");
                // L_C is the paper's batch sum; the softmax term is a batch mean, so λ scales
                // the batch mean of L_C (Σ‖x − c‖²/(2B), as ydwen/caffe-face's layer): λ then
                // means the same whatever the batch size.
                let lc = center_loss(emb, centers, labels, CenterMode::Paper)?;
                let per_sample = self.center_lambda / labels.len().max(1) as f64;
                self.loss.loss(&inputs)?.add(&lc.scale(per_sample)?)
            }
            _ => {
                if let (Some(head), Some(w)) = (&self.fused, &w) {
                    return head.loss("margin head", emb, w, labels);
                }
                if let Some(schedule) = &self.lambda {
                    let mut p = self.params.clone();
                    p.push(("lambda".into(), schedule.lambda().to_string()));
                    self.loss = configure(&self.name, &p)?;
                }
                let inputs = LossInputs {
                    embeddings: emb.clone(),
                    labels: labels.to_vec(),
                    weight: w,
                    bias: b,
                    centers: None,
                    teacher_embeddings: None,
                };
                self.loss.loss(&inputs)
            }
        }
    }

    /// State updates after the optimiser step (LOSSES.md §14: forward, backward, step, then
    /// state): the centre update Δc and the λ counter.
    pub fn after_step(&mut self, emb: &Tensor, labels: &[usize]) -> Result<()> {
        if let Some(schedule) = &mut self.lambda {
            schedule.step();
        }
        if self.kind == Kind::Center {
            let centers = self
                .state
                .get("loss.centers")
                .expect("created with the objective");
            let moved = update_centers(centers, &emb.detach(), labels, self.center_alpha)?;
            self.state = NamedTensors::new();
            self.state.push("loss.centers", moved);
        }
        Ok(())
    }

    /// The λ schedule's position, for checkpoints.
    pub fn lambda_iter(&self) -> Option<u64> {
        self.lambda.map(|s| s.iter)
    }

    pub fn set_lambda_iter(&mut self, iter: u64) {
        if let Some(s) = &mut self.lambda {
            s.iter = iter;
        }
    }
}

/// DDL's student view: the batch at half resolution (2×2 average, repeated), the "hard"
/// low-resolution faces of the paper.
pub fn low_resolution(x: &[f32], dims: [usize; 4]) -> Vec<f32> {
    let [_, _, h, w] = dims;
    let mut out = x.to_vec();
    for plane in out.chunks_exact_mut(h * w) {
        for y in (0..h - h % 2).step_by(2) {
            for xx in (0..w - w % 2).step_by(2) {
                let at = |dy: usize, dx: usize| (y + dy) * w + xx + dx;
                let mean =
                    (plane[at(0, 0)] + plane[at(0, 1)] + plane[at(1, 0)] + plane[at(1, 1)]) / 4.0;
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    plane[at(dy, dx)] = mean;
                }
            }
        }
    }
    out
}

/// For tests and the loss registry docs: the objective's loss name resolves and its head has
/// the expected shape.
pub fn describe(o: &Objective) -> String {
    let head: Vec<String> = o
        .head
        .iter()
        .map(|(n, t)| format!("{n} {}", t.shape()))
        .collect();
    format!(
        "{} ({})",
        o.name,
        if head.is_empty() {
            "no head".into()
        } else {
            head.join(", ")
        }
    )
}
