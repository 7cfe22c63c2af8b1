//! Configuration of the synthetic identities, and the presets of DATASETS.md §4.
//!
//! | preset | ids (family) | imgs/id, α | total | sample | verif fam.×ids×imgs | pairs/fold |
//! |---|---|---|---|---|---|---|
//! | `tiny` (unit tests) | 16 (4) | 2–8, 1.0 | 41 | 16×16×1 / D 32 | 20×2×4 | 5+5 |
//! | `small` (CI smoke) | 200 (4) | 2–100, 1.0 | 750 | 32×32×1 | 40×4×10 | 100+100 |
//! | `face112` (examples) | 1000 (4) | 2–300, 1.2 | 2,898 | 3×112×112 | 100×4×10 | 300+300 |
//!
//! "(4)" is the family size: identities come in families of 4 look-alike siblings.

use crate::error::{Error, Result};

/// What one sample is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleMode {
    /// A procedural face image, `channels` (1 or 3) × `size` × `size`.
    Image { channels: usize, size: usize },
    /// A unit vector of dimension `dim`: `nrm(A z + intra_sigma·ε)`.
    Vector { dim: usize },
}

/// Per-sample nuisance strengths (image mode), each 0 = off, 1 = the designed maximum.
///
/// Every sample draws all of its random numbers in a fixed order whatever the strengths, so
/// turning one nuisance off changes nothing else about the sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nuisance {
    /// In-plane rotation, up to ±15° at 1.
    pub rotation: f64,
    /// Scale, up to ±12 %.
    pub scale: f64,
    /// Shift, up to ±6 % of the image per axis.
    pub shift: f64,
    /// Yaw-like turn: features slide sideways, the face narrows.
    pub yaw: f64,
    /// Smile, open mouth, raised brows, squint.
    pub expression: f64,
    /// Brightness offset and a linear light gradient across the face.
    pub lighting: f64,
    /// Gamma up to `e^{±0.5}`.
    pub gamma: f64,
    /// Gaussian blur, σ up to 1.5 px at 112 px (scaled with the size).
    pub blur: f64,
    /// Pixel noise, σ up to 0.06 of the range.
    pub noise: f64,
    /// Background tone and colour.
    pub background: f64,
    /// Probability ×0.5 of a random rectangle over the face (hand, mask, sticker).
    pub occluder: f64,
    /// Probability ×0.3 of a bad crop: an extra rotation (±25°), shift (±12 %) and scale.
    /// Landmarks follow the face, so alignment can undo it.
    pub misaligned: f64,
}

impl Nuisance {
    /// Every nuisance off: a clean frontal face per identity and sample.
    pub const NONE: Nuisance = Nuisance {
        rotation: 0.0,
        scale: 0.0,
        shift: 0.0,
        yaw: 0.0,
        expression: 0.0,
        lighting: 0.0,
        gamma: 0.0,
        blur: 0.0,
        noise: 0.0,
        background: 0.0,
        occluder: 0.0,
        misaligned: 0.0,
    };

    /// The presets' default: every nuisance at `strength`.
    pub fn all(strength: f64) -> Nuisance {
        Nuisance {
            rotation: strength,
            scale: strength,
            shift: strength,
            yaw: strength,
            expression: strength,
            lighting: strength,
            gamma: strength,
            blur: strength,
            noise: strength,
            background: strength,
            occluder: strength,
            misaligned: strength,
        }
    }
}

/// Everything that determines a synthetic data set; equal configs give byte-identical sets.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    pub seed: u64,
    /// Training identities N.
    pub identities: usize,
    /// Identities per family (siblings are look-alikes).
    pub family_size: usize,
    /// Dimension d of the identity latents `z_i = f_fam(i) + id_spread·u_i`.
    pub latent_dim: usize,
    /// How far siblings spread around their family centre.
    pub id_spread: f64,
    /// Long tail `n_i = clamp(round(n_max · r_i^−α), n_min, n_max)`.
    pub images_min: usize,
    pub images_max: usize,
    pub tail_alpha: f64,
    pub mode: SampleMode,
    /// The vector dimension D used by [`SyntheticConfig::vector_mode`].
    pub vector_dim: usize,
    /// Vector mode: σ of the per-sample Gaussian noise around `A z_i`.
    pub intra_sigma: f64,
    pub nuisance: Nuisance,
    /// Share of training samples given a wrong label.
    pub label_noise: f64,
    /// Verification: fresh families (≥ 20), identities per family, images per identity.
    pub verif_families: usize,
    pub verif_family_size: usize,
    pub verif_images: usize,
    /// Genuine (= impostor) pairs per fold; there are always 10 folds.
    pub pairs_per_fold: usize,
}

/// Verification folds, as LFW.
pub const FOLDS: usize = 10;

impl SyntheticConfig {
    /// One of the presets `tiny`, `small`, `face112`.
    pub fn preset(name: &str) -> Result<SyntheticConfig> {
        let base = SyntheticConfig {
            seed: 0x5EED,
            identities: 16,
            family_size: 4,
            latent_dim: 16,
            id_spread: 0.7,
            images_min: 2,
            images_max: 8,
            tail_alpha: 1.0,
            mode: SampleMode::Image {
                channels: 1,
                size: 16,
            },
            vector_dim: 32,
            intra_sigma: 1.0,
            nuisance: Nuisance::all(0.5),
            label_noise: 0.0,
            verif_families: 20,
            verif_family_size: 2,
            verif_images: 4,
            pairs_per_fold: 5,
        };
        match name {
            "tiny" => Ok(base),
            "small" => Ok(SyntheticConfig {
                identities: 200,
                latent_dim: 32,
                images_max: 100,
                mode: SampleMode::Image {
                    channels: 1,
                    size: 32,
                },
                vector_dim: 64,
                verif_families: 40,
                verif_family_size: 4,
                verif_images: 10,
                pairs_per_fold: 100,
                ..base
            }),
            "face112" => Ok(SyntheticConfig {
                identities: 1000,
                latent_dim: 64,
                images_max: 300,
                tail_alpha: 1.2,
                mode: SampleMode::Image {
                    channels: 3,
                    size: 112,
                },
                vector_dim: 128,
                verif_families: 100,
                verif_family_size: 4,
                verif_images: 10,
                pairs_per_fold: 300,
                ..base
            }),
            other => Err(Error::Invalid(format!(
                "unknown synthetic preset {other:?}: use tiny, small or face112"
            ))),
        }
    }

    /// The same set in vector mode (dimension `vector_dim`).
    pub fn vector_mode(mut self) -> SyntheticConfig {
        self.mode = SampleMode::Vector {
            dim: self.vector_dim,
        };
        self
    }

    /// Checks the counts fit together (families, pairs per fold, tail bounds).
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Invalid(format!("synthetic config: {what}")));
        if self.identities == 0 || self.family_size == 0 || self.latent_dim == 0 {
            return bad("identities, family_size and latent_dim must be ≥ 1".into());
        }
        if self.images_min < 2 || self.images_max < self.images_min {
            return bad(format!(
                "need 2 ≤ images_min ≤ images_max, got {}..{}",
                self.images_min, self.images_max
            ));
        }
        if self.verif_families < 2 * FOLDS || self.verif_family_size < 2 || self.verif_images < 2 {
            return bad(
                "verification needs ≥ 20 families of ≥ 2 identities with ≥ 2 images".into(),
            );
        }
        match self.mode {
            SampleMode::Image { channels, size }
                if (channels == 1 || channels == 3) && size >= 8 => {}
            SampleMode::Vector { dim } if dim >= 1 => {}
            m => return bad(format!("unsupported sample mode {m:?}")),
        }
        // Enough distinct pairs of each kind in the smallest fold.
        let fams = self.verif_families / FOLDS;
        let ids = fams * self.verif_family_size;
        let genuine = ids * self.verif_images * (self.verif_images - 1) / 2;
        let siblings = fams * self.verif_family_size * (self.verif_family_size - 1) / 2
            * self.verif_images.pow(2);
        if self.pairs_per_fold > genuine || self.pairs_per_fold / 2 > siblings {
            return bad(format!(
                "{} pairs per fold exceed the distinct pairs a fold holds",
                self.pairs_per_fold
            ));
        }
        Ok(())
    }
}
