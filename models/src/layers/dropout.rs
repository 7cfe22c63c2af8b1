//! `Dropout` (Srivastava et al. 2014), inverted, with a reproducible mask per step.
//!
//! Shape legend: x, y of any shape. Training: each element is zeroed with probability p and
//! the survivors are scaled by 1/(1 − p); evaluation: the identity.
//!
//! The mask of the k-th training forward (k = 0, 1, …) is drawn from the SplitMix64 stream
//! seeded with `mask_seed(k)` = output k of SplitMix64 started at `seed`. The layer counts its
//! training forwards, so each one draws a new mask, yet a run is repeated exactly from the
//! same seed, and `set_step` resumes the sequence after a checkpoint.

use std::fmt;

use anglegrad_engine::{Result, Rng, Tape, Tensor};
use anglegrad_ops as ops;

use crate::check;
use crate::module::{Mode, Module};

/// SplitMix64's increment (the engine's `Rng` adds it once per draw).
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Inverted dropout with a seeded per-step mask.
#[derive(Clone, Debug)]
pub struct Dropout {
    p: f64,
    seed: u64,
    step: u64,
    pub mode: Mode,
}

impl Dropout {
    /// Drops with probability `p` in [0, 1); masks come from `seed`.
    pub fn new(p: f64, seed: u64) -> Result<Dropout> {
        if !(0.0..1.0).contains(&p) {
            return Err(check::config(
                "Dropout",
                format!("p must be in [0, 1), got {p}"),
            ));
        }
        Ok(Dropout {
            p,
            seed,
            step: 0,
            mode: Mode::Train,
        })
    }

    pub fn p(&self) -> f64 {
        self.p
    }

    /// How many training forwards have drawn a mask.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Continues the mask sequence from step `k` (after loading a checkpoint).
    pub fn set_step(&mut self, k: u64) {
        self.step = k;
    }

    /// The seed of the k-th training forward's mask: SplitMix64's k-th output from `seed`.
    pub fn mask_seed(&self, k: u64) -> u64 {
        Rng::new(self.seed.wrapping_add(k.wrapping_mul(GOLDEN_GAMMA))).next_u64()
    }
}

impl fmt::Display for Dropout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dropout(p={})", self.p)
    }
}

impl Module for Dropout {
    fn forward(&mut self, x: &Tensor, _tape: Option<&Tape>) -> Result<Tensor> {
        if self.mode == Mode::Eval {
            return Ok(x.clone());
        }
        let y = ops::dropout(x, self.p, self.mask_seed(self.step))?;
        self.step += 1;
        Ok(y)
    }

    fn visit_parameters(&mut self, _prefix: &str, _f: &mut dyn FnMut(&str, &mut Tensor)) {}

    fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }
}
