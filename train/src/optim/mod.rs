//! Optimisers, learning-rate schedules and gradient clipping.
//!
//! A training step, top to bottom:
//!
//! ```ignore
//! use anglegrad_train::optim::*;
//!
//! let mut opt = Sgd::new(
//!     SgdConfig { momentum: 0.9, weight_decay: 5e-4, ..Default::default() },
//!     vec![
//!         ParamGroup::new("head", select::prefix("head.")).lr_mult(10.0), // the margin head's W
//!         ParamGroup::no_weight_decay(),                                 // biases, BN, PReLU
//!     ],
//! )?;
//! let schedule = WarmupPoly::arcface(0.1, warmup_steps, total_steps)?;
//!
//! for step in start_step..total_steps {
//!     let tape = Tape::new();
//!     let emb = backbone.forward(&images, Some(&tape))?;            // watches its parameters
//!     let w = tape.watch(head.get("head.weight").unwrap());          // a head outside a Module
//!     let loss = arcface_loss(&emb, &w, &labels)?;
//!     let mut grads = tape.backward(&loss)?;
//!     let norm = clip_grad_norm(&mut grads, &mut backbone, 5.0)?;    // pre-clip norm, for the log
//!     let lr = schedule.lr(step);
//!     opt.step(&mut backbone, &grads, lr)?;                          // replaces the parameters
//!     opt.step(&mut head, &grads, lr)?;                              // same optimiser, other set
//! }
//! ```
//!
//! | file | idea |
//! |---|---|
//! | [`params`] | [`Params`]: what an optimiser updates (any `Module`, [`NamedTensors`], [`Joined`]) |
//! | [`groups`] | [`ParamGroup`]: per-parameter lr multiplier and weight decay, chosen by name |
//! | [`state`] | [`OptimState`]: buffers and step counts keyed by parameter name |
//! | [`sgd`] | [`Sgd`]: `torch.optim.SGD` (momentum, dampening, Nesterov, L2) + decoupled decay |
//! | [`adamw`] | [`AdamW`]: `torch.optim.AdamW` (bias correction, amsgrad), or Adam with L2 |
//! | [`schedule`] | [`LrSchedule`]: step, multistep, warm-up + cosine, warm-up + poly |
//! | [`clip`] | [`clip_grad_norm`]: `torch.nn.utils.clip_grad_norm_` |
//!
//! Parameters are immutable tensors: a step *replaces* each one with a new tensor (new id),
//! which is why the state is keyed by name. The learning rate is an argument of `step`, so a
//! schedule is just a function the loop calls; there is no hidden scheduler state to save.

pub mod adamw;
pub mod clip;
pub mod groups;
pub mod params;
pub mod schedule;
pub mod sgd;
pub mod state;
mod update;

pub use adamw::{AdamW, AdamWConfig};
pub use clip::{clip_grad_norm, grad_norm};
pub use groups::{select, ParamGroup};
pub use params::{Joined, NamedTensors, Params};
pub use schedule::{Constant, LrSchedule, MultiStepLr, StepLr, WarmupCosine, WarmupPoly};
pub use sgd::{Sgd, SgdConfig};
pub use state::{OptimState, ParamState};

use anglegrad_engine::{Grads, Result};

/// What a training loop (and a checkpoint) needs from an optimiser. Object safe, so a loop
/// can hold a `Box<dyn Optimizer>` chosen by its configuration.
pub trait Optimizer {
    /// A short name, stored in checkpoints so that SGD state is never loaded into AdamW.
    fn kind(&self) -> &'static str;

    /// Updates every parameter of `params` that has a gradient in `grads`, with learning rate
    /// `lr` (times each group's multiplier). Returns the number of parameters updated. On an
    /// error nothing is changed.
    fn step(&mut self, params: &mut dyn Params, grads: &Grads, lr: f64) -> Result<usize>;

    /// The per-parameter state, for checkpoints.
    fn state(&self) -> &OptimState;

    /// Replaces the state (from a checkpoint); unknown or missing buffers are errors.
    fn set_state(&mut self, state: OptimState) -> Result<()>;
}
