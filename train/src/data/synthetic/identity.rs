//! Identities: family latents, the long tail of image counts, and a face's parameters.
//!
//! ```text
//! f_j ~ N(0, I_d)                       family centre j            stream (seed, FAMILY, j, 0)
//! u_i ~ N(0, I_d)                       identity i's own offset    stream (seed, MEMBER, i, 0)
//! z_i = f_fam(i) + id_spread · u_i      siblings share f: look-alikes
//! n_i = clamp(round(n_max · r_i^−α), n_min, n_max),  r = a seeded permutation of 1..N
//! face parameter k of identity i:  p_k = tanh(0.8 · (W z_i)_k / sqrt(1 + id_spread²)),  W_kl ~ N(0, 1/d)
//! ```
//!
//! Training identities are `0..N` in families of `family_size`; verification identities are
//! numbered after them, in fresh families, so no verification identity has a training sibling.

use super::config::SyntheticConfig;
use crate::data::rng::Rng;

/// Stream tags: each kind of randomness has its own keyed stream `(seed, tag, a, b)`.
pub mod tag {
    pub const FAMILY: u64 = 0x4641_4D49_4C59; // "FAMILY"
    pub const MEMBER: u64 = 0x4D45_4D42_4552; // "MEMBER"
    pub const TAIL: u64 = 0x5441_494C; // "TAIL"
    pub const FACE_MAP: u64 = 0x4641_4345; // "FACE"
    pub const VECTOR_MAP: u64 = 0x5645_4354; // "VECT"
    pub const SAMPLE: u64 = 0x5341_4D50; // "SAMP"
    pub const VERIF: u64 = 0x5645_5249; // "VERI"
    pub const PAIRS: u64 = 0x5041_4952; // "PAIR"
    pub const LABEL: u64 = 0x4C_4142_454C; // "LABEL"
}

/// Number of face parameters (see [`FaceParams`]).
pub const FACE_PARAMS: usize = 34;

/// The family of each identity, training ones first.
#[derive(Debug, Clone)]
pub struct Population {
    /// Training identities N.
    pub train: usize,
    /// Verification identities.
    pub verif: usize,
    /// Family index of every identity (training, then verification).
    pub family: Vec<usize>,
}

impl Population {
    pub fn new(cfg: &SyntheticConfig) -> Population {
        let train_families = cfg.identities.div_ceil(cfg.family_size);
        let verif = cfg.verif_families * cfg.verif_family_size;
        let mut family: Vec<usize> = (0..cfg.identities).map(|i| i / cfg.family_size).collect();
        family.extend((0..verif).map(|v| train_families + v / cfg.verif_family_size));
        Population {
            train: cfg.identities,
            verif,
            family,
        }
    }
}

/// A vector of standard normals from one stream.
fn normals(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.normal()).collect()
}

/// `z_i = f_fam(i) + id_spread · u_i` for global identity `i` of family `fam`.
pub fn latent(cfg: &SyntheticConfig, i: usize, fam: usize) -> Vec<f64> {
    let f = normals(
        &mut Rng::keyed(cfg.seed, tag::FAMILY, fam as u64, 0),
        cfg.latent_dim,
    );
    let u = normals(
        &mut Rng::keyed(cfg.seed, tag::MEMBER, i as u64, 0),
        cfg.latent_dim,
    );
    f.iter()
        .zip(&u)
        .map(|(f, u)| f + cfg.id_spread * u)
        .collect()
}

/// A `rows × d` matrix with entries `N(0, 1/d)`, from stream `(seed, tag, 0, 0)`.
pub fn gaussian_matrix(seed: u64, stream: u64, rows: usize, d: usize) -> Vec<f64> {
    let mut rng = Rng::keyed(seed, stream, 0, 0);
    let scale = 1.0 / (d as f64).sqrt();
    (0..rows * d).map(|_| rng.normal() * scale).collect()
}

/// `y = M x` for a row-major `M` of `x.len()` columns.
pub fn mat_vec(m: &[f64], x: &[f64]) -> Vec<f64> {
    m.chunks(x.len())
        .map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum())
        .collect()
}

/// Images per training identity: the power-law long tail.
pub fn tail_counts(cfg: &SyntheticConfig) -> Vec<usize> {
    let mut ranks: Vec<usize> = (1..=cfg.identities).collect();
    Rng::keyed(cfg.seed, tag::TAIL, 0, 0).shuffle(&mut ranks);
    ranks
        .iter()
        .map(|&r| {
            let n = (cfg.images_max as f64 * libm::pow(r as f64, -cfg.tail_alpha)).round();
            (n as usize).clamp(cfg.images_min, cfg.images_max)
        })
        .collect()
}

/// Linear map from `-1..1` to `lo..hi`.
fn lerp(p: f64, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * (p + 1.0) / 2.0
}

/// The identity-fixed geometry and colours of a procedural face, in the 112×112 template frame
/// (x right, y down). Mean landmarks sit on the template of DATASETS.md §1.6.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceParams {
    pub head_center: (f64, f64),
    pub head_radii: (f64, f64),
    /// Narrowing of the jaw below the head centre.
    pub taper: f64,
    /// Half distance between the eyes; eyes at `x = 56 ∓ eye_dx`, `y = eye_y`.
    pub eye_dx: f64,
    pub eye_y: f64,
    pub eye_radii: (f64, f64),
    pub iris: f64,
    pub brow_gap: f64,
    pub brow_thick: f64,
    pub brow_tilt: f64,
    pub nose_y: f64,
    pub nose_w: f64,
    pub mouth_y: f64,
    pub mouth_hw: f64,
    pub lip: f64,
    pub skin: [f64; 3],
    pub hair: [f64; 3],
    pub hairline: f64,
    pub hair_volume: f64,
    /// How far the hair falls down the sides, 0..1.
    pub side_hair: f64,
    /// Beard darkness (0 = none).
    pub beard: f64,
    pub glasses: bool,
    /// A mole at this offset from the head centre, if any.
    pub mole: Option<(f64, f64)>,
    /// Skin texture `amp · cos(freq · (x cos θ + y sin θ))`.
    pub texture: (f64, f64, f64),
    pub ear: f64,
    pub blush: f64,
}

impl FaceParams {
    /// The face of latent `z` through the fixed map `w` (`FACE_PARAMS × d`).
    pub fn from_latent(z: &[f64], w: &[f64], id_spread: f64) -> FaceParams {
        FaceParams::from_mapped(&mat_vec(w, z), id_spread)
    }

    /// The face of the mapped latent `W z`.
    pub fn from_mapped(wz: &[f64], id_spread: f64) -> FaceParams {
        let norm = (1.0 + id_spread * id_spread).sqrt();
        let p: Vec<f64> = wz.iter().map(|v| libm::tanh(0.8 * v / norm)).collect();
        let tone =
            |lum: f64, warm: f64| [lum * (1.0 + 0.18 * warm), lum, lum * (1.0 - 0.22 * warm)];
        FaceParams {
            head_center: (56.0, lerp(p[2], 60.0, 67.0)),
            head_radii: (lerp(p[0], 31.0, 39.0), lerp(p[1], 41.0, 50.0)),
            taper: lerp(p[33], 0.0, 0.3),
            eye_dx: lerp(p[3], 15.6, 19.6),
            eye_y: lerp(p[4], 49.1, 54.1),
            eye_radii: (lerp(p[5], 4.5, 7.5), lerp(p[6], 2.2, 4.0)),
            iris: lerp(p[7], 0.05, 0.55),
            brow_gap: lerp(p[8], 5.5, 9.5),
            brow_thick: lerp(p[9], 1.2, 3.2),
            brow_tilt: lerp(p[10], -0.25, 0.25),
            nose_y: lerp(p[11], 67.7, 75.7),
            nose_w: lerp(p[12], 3.5, 8.0),
            mouth_y: lerp(p[13], 88.8, 95.8),
            mouth_hw: lerp(p[14], 11.1, 18.1),
            lip: lerp(p[15], 1.8, 4.5),
            skin: tone(lerp(p[16], 0.35, 0.85), p[17]),
            hair: tone(lerp(p[18], 0.05, 0.75), p[19]),
            hairline: lerp(p[20], 20.0, 36.0),
            hair_volume: lerp(p[21], 0.0, 8.0),
            side_hair: lerp(p[22], 0.0, 1.0),
            beard: ((p[23] - 0.3) / 0.7).max(0.0),
            glasses: p[24] > 0.45,
            mole: (p[27] > 0.2).then_some((p[25] * 20.0, p[26] * 16.0)),
            texture: (
                lerp(p[28], 0.05, 0.18),
                p[29] * std::f64::consts::PI,
                lerp(p[30], 0.0, 0.12),
            ),
            ear: lerp(p[31], 4.0, 9.0),
            blush: lerp(p[32], 0.0, 0.12),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_totals_match_the_preset_table() {
        for (name, total) in [("tiny", 41), ("small", 750), ("face112", 2898)] {
            let cfg = SyntheticConfig::preset(name).unwrap();
            let n = tail_counts(&cfg);
            assert_eq!(n.iter().sum::<usize>(), total, "{name}");
            assert_eq!(*n.iter().max().unwrap(), cfg.images_max);
            assert_eq!(*n.iter().min().unwrap(), 2);
        }
    }

    #[test]
    fn siblings_are_closer_than_strangers() {
        let cfg = SyntheticConfig::preset("small").unwrap();
        let pop = Population::new(&cfg);
        let z: Vec<Vec<f64>> = (0..40).map(|i| latent(&cfg, i, pop.family[i])).collect();
        let d = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>();
        let (mut sib, mut other, mut ns, mut no) = (0.0, 0.0, 0, 0);
        for i in 0..40 {
            for j in 0..i {
                if pop.family[i] == pop.family[j] {
                    sib += d(&z[i], &z[j]);
                    ns += 1;
                } else {
                    other += d(&z[i], &z[j]);
                    no += 1;
                }
            }
        }
        // E|z_i − z_j|² = 2 id_spread² d for siblings, 2 (1 + id_spread²) d otherwise.
        let (sib, other) = (sib / ns as f64, other / no as f64);
        let ratio = sib / other;
        let want = 0.49 / 1.49;
        assert!(
            (ratio - want).abs() < 0.1,
            "sibling/stranger distance ratio {ratio}, expected {want}"
        );
    }
}
