//! Synthetic identities (DATASETS.md §4): a face-recognition data set made from a seed.
//!
//! Nothing is stored: sample `k` of identity `i` comes from the keyed stream `(seed, tag, i, k)`,
//! so the set is made lazily, in parallel, in any order, and byte-identical on every platform
//! (only `+ − × ÷ sqrt` and the pure-Rust `libm`).
//!
//! - **Identities**: family centres `f_j ~ N(0, I_d)`, `z_i = f_fam(i) + id_spread · u_i`;
//!   siblings are look-alikes ([`identity`]).
//! - **Vector mode**: `x = nrm(A z_i + intra_sigma · ε)`, `A` a fixed `D × d` Gaussian matrix:
//!   exactly Gaussian before normalisation, so the Bayes accuracy is computable.
//! - **Image mode**: a procedural face from `z_i` (head, hair, ears, eyes, brows, nose, mouth,
//!   glasses, mole, skin texture) with 5 landmarks on the template of §1.6 ([`face`]), under
//!   per-sample nuisances ([`sample`]).
//! - **Long tail**: `n_i = clamp(round(n_max · r_i^−α), n_min, n_max)`.
//! - **Verification**: fresh families in 10 identity-disjoint folds ([`verification`]);
//!   **rank-1 probes**: fresh samples `k ≥ n_i` of training identities ([`SyntheticSet::probes`]).
//!
//! ```no_run
//! use anglegrad_train::data::synthetic::{SyntheticConfig, SyntheticSet};
//! let set = SyntheticSet::generate(&SyntheticConfig::preset("small")?)?;
//! let batch = set.samples.batch_f32(&[0, 1, 2]); // [3, 1, 32, 32], values in −1..1
//! println!("{} samples of {} identities, raw pixels: {}", set.len(), set.identities,
//!          set.verification.raw_pixel_report()?);
//! # Ok::<(), anglegrad_train::Error>(())
//! ```

pub mod config;
pub mod export;
pub mod face;
pub mod identity;
pub mod sample;
pub mod verification;

pub use config::{Nuisance, SampleMode, SyntheticConfig, FOLDS};

use rayon::prelude::*;

use self::identity::{
    gaussian_matrix, latent, mat_vec, tag, tail_counts, FaceParams, Population, FACE_PARAMS,
};
use self::sample::{noisy_label, render, vector_sample, SampleDraw};
use crate::data::images::{Images, Samples};
use crate::error::Result;
use crate::eval::{cosine_scores, VerificationReport};

/// Five landmarks `(x, y)` in pixel coordinates: eyes, nose tip, mouth corners.
pub type Landmarks = [(f32, f32); 5];

/// Makes samples of any identity: the fixed maps and the population.
struct Generator<'a> {
    cfg: &'a SyntheticConfig,
    pop: Population,
    /// Image mode: `FACE_PARAMS × d`; vector mode: `D × d`.
    map: Vec<f64>,
}

impl Generator<'_> {
    fn new(cfg: &SyntheticConfig) -> Generator<'_> {
        let map = match cfg.mode {
            SampleMode::Image { .. } => {
                gaussian_matrix(cfg.seed, tag::FACE_MAP, FACE_PARAMS, cfg.latent_dim)
            }
            SampleMode::Vector { dim } => {
                gaussian_matrix(cfg.seed, tag::VECTOR_MAP, dim, cfg.latent_dim)
            }
        };
        Generator {
            cfg,
            pop: Population::new(cfg),
            map,
        }
    }

    /// Samples `(identity, k)`, in order, made in parallel.
    fn samples(&self, which: &[(usize, usize)]) -> (Samples, Vec<Landmarks>) {
        let cfg = self.cfg;
        let mut ids: Vec<usize> = which.iter().map(|w| w.0).collect();
        ids.dedup();
        let latents: std::collections::HashMap<usize, Vec<f64>> = ids
            .iter()
            .map(|&i| (i, mat_vec(&self.map, &latent(cfg, i, self.pop.family[i]))))
            .collect();
        match cfg.mode {
            SampleMode::Vector { dim } => {
                let rows: Vec<Vec<f32>> = which
                    .par_iter()
                    .map(|&(i, k)| vector_sample(cfg, &latents[&i], i, k))
                    .collect();
                (
                    Samples::Vectors {
                        dim,
                        values: rows.concat(),
                    },
                    vec![],
                )
            }
            SampleMode::Image { channels, size } => {
                let faces: std::collections::HashMap<usize, FaceParams> = latents
                    .iter()
                    .map(|(&i, wz)| (i, FaceParams::from_mapped(wz, cfg.id_spread)))
                    .collect();
                let rendered: Vec<_> = which
                    .par_iter()
                    .map(|&(i, k)| render(&faces[&i], &SampleDraw::new(cfg, i, k), channels, size))
                    .collect();
                let mut pixels = Vec::with_capacity(which.len() * channels * size * size);
                let mut marks = Vec::with_capacity(which.len());
                for r in rendered {
                    pixels.extend_from_slice(&r.pixels);
                    marks.push(r.landmarks);
                }
                let images = Images {
                    n: which.len(),
                    c: channels,
                    h: size,
                    w: size,
                    pixels,
                };
                (Samples::Images(images), marks)
            }
        }
    }
}

/// The verification benchmark of a synthetic set: fresh identities, pairs in 10 folds.
#[derive(Debug, Clone)]
pub struct VerificationSet {
    /// `verif_families · verif_family_size · verif_images` samples, identity by identity.
    pub samples: Samples,
    /// Verification identity (0-based) of each sample.
    pub identity: Vec<usize>,
    /// Family (0-based among verification families) of each sample.
    pub family: Vec<usize>,
    pub landmarks: Vec<Landmarks>,
    /// `(sample a, sample b, same)`, fold by fold: fold `k` is `pairs[2Pk .. 2P(k+1)]`.
    pub pairs: Vec<(usize, usize, bool)>,
    pub folds: usize,
    /// P: genuine (= impostor) pairs per fold.
    pub pairs_per_fold: usize,
}

impl VerificationSet {
    /// The same/different flags of the pairs.
    pub fn same(&self) -> Vec<bool> {
        self.pairs.iter().map(|p| p.2).collect()
    }

    /// The pairs without their flags.
    pub fn pair_indices(&self) -> Vec<(usize, usize)> {
        self.pairs.iter().map(|p| (p.0, p.1)).collect()
    }

    /// Verification metrics of embeddings `[N, dim]` of the samples (cosine scores).
    pub fn report(&self, embeddings: &[f32], dim: usize) -> Result<VerificationReport> {
        let scores = cosine_scores(embeddings, dim, &self.pair_indices())?;
        VerificationReport::compute(&scores, &self.same(), self.folds)
    }

    /// The raw-pixel floor: the metrics of the samples themselves as embeddings.
    pub fn raw_pixel_report(&self) -> Result<VerificationReport> {
        let all: Vec<usize> = (0..self.samples.len()).collect();
        self.report(&self.samples.batch_f32(&all), self.samples.sample_len())
    }
}

/// A synthetic training set with its verification benchmark.
#[derive(Debug, Clone)]
pub struct SyntheticSet {
    pub config: SyntheticConfig,
    /// `[N, C, H, W]` u8 images or `[N, D]` vectors, identity by identity.
    pub samples: Samples,
    /// Training labels (with label noise, if configured).
    pub labels: Vec<usize>,
    /// The true identity of each sample.
    pub true_labels: Vec<usize>,
    /// Training identities (classes).
    pub identities: usize,
    /// Images per identity (the long tail).
    pub counts: Vec<usize>,
    /// Landmarks of each image (empty in vector mode).
    pub landmarks: Vec<Landmarks>,
    pub verification: VerificationSet,
}

impl SyntheticSet {
    /// Generates the whole set; deterministic in `cfg`.
    pub fn generate(cfg: &SyntheticConfig) -> Result<SyntheticSet> {
        cfg.validate()?;
        let generator = Generator::new(cfg);
        let counts = tail_counts(cfg);
        let which: Vec<(usize, usize)> = counts
            .iter()
            .enumerate()
            .flat_map(|(i, &n)| (0..n).map(move |k| (i, k)))
            .collect();
        let (samples, landmarks) = generator.samples(&which);
        let true_labels: Vec<usize> = which.iter().map(|w| w.0).collect();
        let labels = which.iter().map(|&(i, k)| noisy_label(cfg, i, k)).collect();

        let n_train = cfg.identities;
        let verif_which: Vec<(usize, usize)> = (0..generator.pop.verif)
            .flat_map(|v| (0..cfg.verif_images).map(move |k| (n_train + v, k)))
            .collect();
        let (verif_samples, verif_marks) = generator.samples(&verif_which);
        let identity: Vec<usize> = verif_which.iter().map(|w| w.0 - n_train).collect();
        let verification = VerificationSet {
            samples: verif_samples,
            family: identity.iter().map(|v| v / cfg.verif_family_size).collect(),
            identity,
            landmarks: verif_marks,
            pairs: verification::verification_pairs(cfg),
            folds: FOLDS,
            pairs_per_fold: cfg.pairs_per_fold,
        };
        Ok(SyntheticSet {
            config: cfg.clone(),
            samples,
            labels,
            true_labels,
            identities: n_train,
            counts,
            landmarks,
            verification,
        })
    }

    /// Number of training samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Rank-1 probes: `per_identity` fresh samples (`k ≥ n_i`) of every training identity, with
    /// their identities, to identify against templates of the training samples.
    pub fn probes(&self, per_identity: usize) -> (Samples, Vec<usize>) {
        let generator = Generator::new(&self.config);
        let which: Vec<(usize, usize)> = self
            .counts
            .iter()
            .enumerate()
            .flat_map(|(i, &n)| (n..n + per_identity).map(move |k| (i, k)))
            .collect();
        let labels = which.iter().map(|w| w.0).collect();
        (generator.samples(&which).0, labels)
    }
}
