//! Glyph identities, the open-set benchmark on installable data (DATASETS.md §3.1).
//!
//! Each of the 3 755 GB2312 level-1 Han characters is an **identity**; its rendering in each
//! font face is a **photo** of it. The split (seed `0x61F`: shuffle, 2 500 training identities,
//! 1 000 test identities, 255 unused) and the faces (8 for training, 6 unseen test styles; see
//! [`fonts`]) make the test "unseen identities in unseen styles", with look-alike impostors and
//! a fixed misalignment of every test image.
//!
//! | part | size |
//! |---|---|
//! | training images | 2 500 identities × 8 faces = 20 000, `[N, 1, 32, 32]`, augmented per draw |
//! | test images | 1 000 identities × 6 faces = 6 000, each with one fixed misalignment |
//! | pairs | 10 identity-disjoint folds × (300 genuine + 150 look-alike + 150 random) |
//!
//! The fonts come from Debian packages; tests print `skipped: CJK fonts not installed` when they
//! are missing, unless `ANGLEGRAD_REQUIRE_DATA=1`. Renderings are cached ([`cache`]).

pub mod augment;
pub mod cache;
pub mod fonts;
pub mod pairs;
pub mod raster;

use ab_glyph::FontRef;
use rayon::prelude::*;

use self::fonts::{test_faces, train_faces, FontFace, SIMILARITY_FACE};
use self::pairs::{glyph_pairs, PairKind};
use self::raster::{render_glyph, CANVAS};
use crate::data::images::Images;
use crate::data::pairs::{ImageRef, NamedPair, PairList};
use crate::data::rng::Rng;
use crate::error::{Error, Result};
use crate::eval::{cosine_scores, Roc, VerificationReport};

/// The split seed.
pub const SEED: u64 = 0x61F;
pub const TRAIN_IDENTITIES: usize = 2500;
pub const TEST_IDENTITIES: usize = 1000;
/// Genuine (= impostor) pairs per fold.
pub const PAIRS_PER_FOLD: usize = 300;

/// The 3 755 GB2312 level-1 characters (bytes `B0A1`..`D7F9`) in code order. Generated once
/// with Python: `''.join(bytes([h, l]).decode('gb2312') for h in range(0xB0, 0xD8) for l in
/// range(0xA1, 0xFF) if (h, l) < (0xD7, 0xFA))`.
pub fn level1_chars() -> Vec<char> {
    include_str!("gb2312_level1.txt")
        .trim_end()
        .chars()
        .collect()
}

/// `(training identities, test identities)`: the level-1 characters shuffled by `Rng(0x61F)`.
pub fn split() -> (Vec<char>, Vec<char>) {
    let mut chars = level1_chars();
    Rng::new(SEED).shuffle(&mut chars);
    let test = chars[TRAIN_IDENTITIES..TRAIN_IDENTITIES + TEST_IDENTITIES].to_vec();
    chars.truncate(TRAIN_IDENTITIES);
    (chars, test)
}

/// Renders `chars` × `faces`, character-major, in parallel.
fn render_grid(chars: &[char], faces: &[(FontFace, Vec<u8>)]) -> Result<Vec<u8>> {
    let fonts: Vec<(FontRef, &str)> = faces
        .iter()
        .map(|(f, bytes)| {
            FontRef::try_from_slice_and_index(bytes, f.index)
                .map(|font| (font, f.id))
                .map_err(|e| Error::Invalid(format!("font {} ({}): {e}", f.id, f.file)))
        })
        .collect::<Result<_>>()?;
    let tiles: Vec<Vec<u8>> = chars
        .par_iter()
        .flat_map_iter(|&c| fonts.iter().map(move |(font, id)| (c, font, *id)))
        .map(|(c, font, id)| render_glyph(font, c, id))
        .collect::<Result<_>>()?;
    Ok(tiles.concat())
}

/// The glyph benchmark, rendered.
#[derive(Debug, Clone)]
pub struct GlyphSet {
    pub train_chars: Vec<char>,
    pub test_chars: Vec<char>,
    /// `[2500·8, 1, 32, 32]`, identity-major.
    pub train: Images,
    pub train_labels: Vec<usize>,
    /// Mean and standard deviation of the training pixels (the normalisation).
    pub mean: f32,
    pub std: f32,
    /// `[1000·6, 1, 32, 32]`, identity-major, each misaligned once.
    pub test: Images,
    /// `(test identity, test face)` of each test image.
    pub test_index: Vec<(usize, usize)>,
    /// `(test image a, test image b, same)`, fold by fold.
    pub pairs: Vec<(usize, usize, bool)>,
    pub kinds: Vec<PairKind>,
}

/// Verification metrics, plus AUC against each kind of impostor alone.
#[derive(Debug, Clone)]
pub struct GlyphReport {
    pub all: VerificationReport,
    pub auc_look_alike: f64,
    pub auc_random: f64,
}

impl GlyphSet {
    /// Renders (or reads from the cache) the whole benchmark. Errors with
    /// [`Error::NotInstalled`] naming the package when a font is missing.
    pub fn load() -> Result<GlyphSet> {
        let (train_chars, test_chars) = split();
        let read = |faces: Vec<FontFace>| -> Result<Vec<(FontFace, Vec<u8>)>> {
            faces
                .into_iter()
                .map(|f| f.read().map(|b| (f, b)))
                .collect()
        };
        let (train_f, test_f) = (read(train_faces())?, read(test_faces())?);
        let sim_f: Vec<(FontFace, Vec<u8>)> = train_f
            .iter()
            .filter(|f| f.0.id == SIMILARITY_FACE)
            .cloned()
            .collect();
        let key = cache::content_key(train_f.iter().chain(&test_f).map(|f| f.1.as_slice()));
        let counts = [
            train_chars.len() * train_f.len(),
            test_chars.len() * test_f.len(),
            test_chars.len(),
        ];
        let [train_px, test_clean, sim_px] = match cache::load(key, counts) {
            Some(t) => t,
            None => {
                let t = [
                    render_grid(&train_chars, &train_f)?,
                    render_grid(&test_chars, &test_f)?,
                    render_grid(&test_chars, &sim_f)?,
                ];
                cache::store(key, &t);
                t
            }
        };
        let n_train = counts[0];
        let mean = train_px.iter().map(|&v| v as f64).sum::<f64>() / train_px.len() as f64;
        let var = train_px
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / train_px.len() as f64;
        let faces = test_f.len();
        let test_index: Vec<(usize, usize)> =
            (0..counts[1]).map(|i| (i / faces, i % faces)).collect();
        let test_px: Vec<u8> = test_clean
            .par_chunks(CANVAS * CANVAS)
            .zip(&test_index)
            .flat_map_iter(|(img, &(c, f))| {
                augment::jitter(
                    img,
                    &mut Rng::keyed(SEED, pairs::tag::MISALIGN, c as u64, f as u64),
                )
            })
            .collect();
        let similarity = cosine_matrix(&sim_px, test_chars.len());
        let glyph_pairs = glyph_pairs(&similarity, test_chars.len(), faces, PAIRS_PER_FOLD, SEED);
        Ok(GlyphSet {
            train: Images::new(n_train, 1, CANVAS, CANVAS, train_px)?,
            train_labels: (0..n_train).map(|i| i / train_f.len()).collect(),
            mean: mean as f32,
            std: var.sqrt().max(1e-6) as f32,
            test: Images::new(counts[1], 1, CANVAS, CANVAS, test_px)?,
            pairs: glyph_pairs
                .iter()
                .map(|p| {
                    (
                        p.a.0 * faces + p.a.1,
                        p.b.0 * faces + p.b.1,
                        p.kind == PairKind::Genuine,
                    )
                })
                .collect(),
            kinds: glyph_pairs.iter().map(|p| p.kind).collect(),
            test_index,
            train_chars,
            test_chars,
        })
    }

    /// Augmented, normalised training images `[B, 1, 32, 32]` (a fresh jitter per draw).
    pub fn train_batch(&self, indices: &[usize], rng: &mut Rng) -> Vec<f32> {
        indices
            .iter()
            .flat_map(|&i| augment::augment(self.train.image(i), rng, self.mean, self.std))
            .collect()
    }

    /// The test images normalised with the training mean and std, `[6000, 1, 32, 32]`.
    pub fn test_f32(&self) -> Vec<f32> {
        self.test
            .pixels
            .iter()
            .map(|&v| (v as f32 - self.mean) / self.std)
            .collect()
    }

    /// The pairs as `glyph_pairs.txt` (View 2; name `U+XXXX`, image number = test face 1..6).
    pub fn pair_list(&self) -> PairList {
        let image = |i: usize| {
            let (c, f) = self.test_index[i];
            ImageRef {
                name: format!("U+{:04X}", self.test_chars[c] as u32),
                number: f as u32 + 1,
            }
        };
        PairList {
            folds: pairs::FOLDS,
            per_fold: PAIRS_PER_FOLD,
            view1: false,
            pairs: self
                .pairs
                .iter()
                .map(|&(a, b, same)| NamedPair {
                    a: image(a),
                    b: image(b),
                    same,
                })
                .collect(),
        }
    }

    /// Metrics of test embeddings `[6000, dim]`, with the AUC of each impostor kind alone.
    pub fn report(&self, embeddings: &[f32], dim: usize) -> Result<GlyphReport> {
        let idx: Vec<(usize, usize)> = self.pairs.iter().map(|p| (p.0, p.1)).collect();
        let scores = cosine_scores(embeddings, dim, &idx)?;
        let same: Vec<bool> = self.pairs.iter().map(|p| p.2).collect();
        let auc_of = |kind: PairKind| -> Result<f64> {
            let keep: Vec<usize> = (0..scores.len())
                .filter(|&i| self.kinds[i] == PairKind::Genuine || self.kinds[i] == kind)
                .collect();
            let s: Vec<f64> = keep.iter().map(|&i| scores[i]).collect();
            let y: Vec<bool> = keep.iter().map(|&i| same[i]).collect();
            Ok(Roc::new(&s, &y)?.auc())
        };
        Ok(GlyphReport {
            all: VerificationReport::compute(&scores, &same, pairs::FOLDS)?,
            auc_look_alike: auc_of(PairKind::LookAlike)?,
            auc_random: auc_of(PairKind::Random)?,
        })
    }
}

/// Cosine similarity of every pair of `n` images of 1 024 pixels, `n × n`.
fn cosine_matrix(px: &[u8], n: usize) -> Vec<f32> {
    let d = CANVAS * CANVAS;
    let unit: Vec<Vec<f32>> = px
        .chunks(d)
        .map(|r| {
            let norm = r
                .iter()
                .map(|&v| (v as f32) * (v as f32))
                .sum::<f32>()
                .sqrt()
                .max(1e-6);
            r.iter().map(|&v| v as f32 / norm).collect()
        })
        .collect();
    (0..n * n)
        .into_par_iter()
        .map(|k| {
            unit[k / n]
                .iter()
                .zip(&unit[k % n])
                .map(|(a, b)| a * b)
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level1_table_and_split() {
        let chars = level1_chars();
        assert_eq!(chars.len(), 3755);
        assert_eq!((chars[0], chars[3754]), ('啊', '座'));
        let (train, test) = split();
        assert_eq!((train.len(), test.len()), (2500, 1000));
        let mut all: Vec<char> = train.iter().chain(&test).copied().collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 3500, "training and test identities are disjoint");
    }
}
