//! The data of a training run: training images with identity labels, and (when the source has
//! one) a verification benchmark of pairs to evaluate on.
//!
//! Shape legend: training images [N, C, H, W] u8; a batch [B, C, H, W] f32 normalised to
//! about −1..1; evaluation images [M, C, H, W] f32; pairs (a, b, same) in k folds.
//!
//! | source | train | evaluation |
//! |---|---|---|
//! | `synthetic:<preset>[@size]` | the synthetic identities (DATASETS.md §4) | fresh identities, 10 folds |
//! | `fashion-mnist` | the train split, 10 classes | closed-set pairs of the test split (§3.2) |
//! | `glyphs` | 2,500 characters × 8 fonts | 1,000 unseen characters in unseen fonts (§3.1) |
//! | `idx:<images>,<labels>` | IDX files | — |
//! | `folder:<root>` | one sub-folder per identity | — |
//! | `recordio:<prefix>` | `<prefix>.rec` + `.idx` (loaded into memory) | — |

use std::path::Path;
use std::sync::Arc;

use anglegrad_engine::Rng;

use crate::data::codec::decode_image;
use crate::data::fashion_mnist::{self, Split};
use crate::data::folder::ImageFolder;
use crate::data::glyphs::GlyphSet;
use crate::data::idx::read_idx_dataset;
use crate::data::images::{normalise_pixel, Images};
use crate::data::mxpack::RecordPack;
use crate::data::synthetic::{SyntheticConfig, SyntheticSet};
use crate::error::{Error, Offset, Result};
use crate::eval::{cosine_scores, VerificationReport};
use crate::loader::Augment;

/// How training images become network input.
#[derive(Clone, Debug)]
enum Normalise {
    /// insightface's (x/255 − 0.5)/0.5, with a random flip.
    Faces,
    /// The glyph benchmark's own normalisation and augmentation (rotation, scale, stroke…).
    Glyphs(Arc<GlyphSet>),
}

/// A verification benchmark: images and labelled pairs in folds.
#[derive(Debug, Clone)]
pub struct EvalSet {
    pub images: Images,
    /// Subtracted from the pixels then divided by `std` (None: insightface's normalisation).
    pub mean_std: Option<(f32, f32)>,
    pub pairs: Vec<(usize, usize, bool)>,
    pub folds: usize,
    /// Whether mirrored images make sense for flip test-time augmentation (not for glyphs).
    pub flip_ok: bool,
    /// The identity (class) of each image, when known (colours the 2-D feature figure).
    pub identity: Option<Vec<usize>>,
}

impl EvalSet {
    /// Network input for images `indices`, optionally mirrored left–right.
    pub fn batch(&self, indices: &[usize], flipped: bool) -> Vec<f32> {
        let mut out = Vec::with_capacity(indices.len() * self.images.image_len());
        for &i in indices {
            let px = if flipped {
                self.images.flipped(i)
            } else {
                self.images.image(i).to_vec()
            };
            out.extend(px.iter().map(|&v| match self.mean_std {
                Some((m, s)) => (v as f32 - m) / s,
                None => normalise_pixel(v),
            }));
        }
        out
    }

    /// The verification metrics of embeddings [M, dim] of the images (cosine scores).
    pub fn report(&self, embeddings: &[f32], dim: usize) -> Result<VerificationReport> {
        let idx: Vec<(usize, usize)> = self.pairs.iter().map(|p| (p.0, p.1)).collect();
        let same: Vec<bool> = self.pairs.iter().map(|p| p.2).collect();
        VerificationReport::compute(&cosine_scores(embeddings, dim, &idx)?, &same, self.folds)
    }

    /// The raw-pixel floor of the benchmark.
    pub fn raw_pixel_report(&self) -> Result<VerificationReport> {
        let all: Vec<usize> = (0..self.images.n).collect();
        self.report(&self.batch(&all, false), self.images.image_len())
    }
}

/// Training images, labels and the evaluation benchmark of a run.
pub struct TrainData {
    pub name: String,
    pub images: Arc<Images>,
    pub labels: Arc<Vec<usize>>,
    pub classes: usize,
    pub eval: Option<EvalSet>,
    normalise: Normalise,
}

impl TrainData {
    /// Loads the source named by `spec` (see the module table).
    pub fn load(spec: &str) -> Result<TrainData> {
        let (kind, arg) = spec.split_once(':').unwrap_or((spec, ""));
        match kind {
            "synthetic" => synthetic(arg),
            "fashion-mnist" => {
                let train = fashion_mnist::load(Split::Train)?;
                let test = fashion_mnist::load(Split::Test)?;
                let pairs = fashion_mnist::verification_pairs(&test.labels, 300)?;
                let eval = EvalSet {
                    images: test.images,
                    mean_std: None,
                    pairs,
                    folds: 10,
                    flip_ok: false,
                    identity: Some(test.labels),
                };
                Ok(TrainData::faces(spec, train.images, train.labels, Some(eval)))
            }
            "glyphs" => {
                let set = Arc::new(GlyphSet::load()?);
                let eval = EvalSet {
                    images: set.test.clone(),
                    mean_std: Some((set.mean, set.std)),
                    pairs: set.pairs.clone(),
                    folds: 10,
                    flip_ok: false,
                    identity: Some(set.test_index.iter().map(|&(c, _)| c).collect()),
                };
                let classes = set.train_chars.len();
                Ok(TrainData {
                    name: spec.into(),
                    images: Arc::new(set.train.clone()),
                    labels: Arc::new(set.train_labels.clone()),
                    classes,
                    eval: Some(eval),
                    normalise: Normalise::Glyphs(set),
                })
            }
            "idx" => {
                let (images, labels) = arg
                    .split_once(',')
                    .ok_or_else(|| Error::Invalid(format!("{spec:?}: expected idx:<images>,<labels>")))?;
                let d = read_idx_dataset(Path::new(images), Path::new(labels), usize::MAX)?;
                Ok(TrainData::faces(spec, d.images, d.labels, None))
            }
            "folder" => {
                let folder = ImageFolder::open(Path::new(arg), 2)?;
                let images = folder.load_all(3)?;
                Ok(TrainData::faces(spec, images, folder.labels(), None))
            }
            "recordio" => {
                let mut pack = RecordPack::open(&Path::new(arg).with_extension("rec"))?;
                let labels = pack.labels()?;
                let mut images: Option<Images> = None;
                for i in 0..pack.len() {
                    let rec = pack.read(i)?;
                    let img = decode_image(&rec.image, 3, &format!("{arg}.rec record {}", rec.key), Offset::Byte(0))?;
                    let all = images.get_or_insert_with(|| Images { n: 0, c: 3, h: img.height, w: img.width, pixels: Vec::new() });
                    all.push_hwc(&img.pixels);
                }
                let images = images.ok_or_else(|| Error::Invalid(format!("{spec:?}: the pack has no images")))?;
                Ok(TrainData::faces(spec, images, labels, None))
            }
            _ => Err(Error::Invalid(format!(
                "unknown data {spec:?}: expected synthetic:<preset>, fashion-mnist, glyphs, idx:<images>,<labels>, folder:<root> or recordio:<prefix>"
            ))),
        }
    }

    fn faces(name: &str, images: Images, labels: Vec<usize>, eval: Option<EvalSet>) -> TrainData {
        let classes = labels.iter().max().map_or(0, |m| m + 1);
        TrainData {
            name: name.into(),
            images: Arc::new(images),
            labels: Arc::new(labels),
            classes,
            eval,
            normalise: Normalise::Faces,
        }
    }

    /// [C, H, W] of one input.
    pub fn input_dims(&self) -> [usize; 3] {
        [self.images.c, self.images.h, self.images.w]
    }

    pub fn len(&self) -> usize {
        self.images.n
    }

    pub fn is_empty(&self) -> bool {
        self.images.n == 0
    }

    /// A function making augmented training batches, to run on the loader thread.
    pub fn batch_maker(&self) -> impl Fn(&[usize], &mut Rng) -> Vec<f32> + Send + Sync + 'static {
        let images = self.images.clone();
        let normalise = self.normalise.clone();
        move |indices: &[usize], rng: &mut Rng| match &normalise {
            Normalise::Faces => {
                let mut x = images.batch_f32(indices);
                Augment::faces().apply(&mut x, [indices.len(), images.c, images.h, images.w], rng);
                x
            }
            Normalise::Glyphs(set) => set.train_batch(indices, rng),
        }
    }

    /// [`TrainData::batch_maker`] with each sample augmented by its own generator, keyed by
    /// (seed, epoch, step, position in the global batch): a sample is augmented the same way
    /// whichever rank makes it and however many ranks share the batch (so an R-rank run trains
    /// on the 1-rank run's data), and a resumed run the same way as an uninterrupted one.
    pub fn keyed_batch_maker(
        &self,
    ) -> impl Fn(&[usize], BatchKey) -> Vec<f32> + Send + Sync + 'static {
        let maker = self.batch_maker();
        move |indices: &[usize], key: BatchKey| {
            let mut x = Vec::new();
            for (j, &i) in indices.iter().enumerate() {
                let position = (key.step << 32) | (key.first + j) as u64;
                let mut rng = Rng::keyed(key.seed, 0x4155_4721, key.epoch, position);
                x.extend(maker(&[i], &mut rng));
            }
            x
        }
    }
}

/// Where a block of samples sits in a run: the key of their augmentation draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchKey {
    pub seed: u64,
    pub epoch: u64,
    /// The step within the epoch.
    pub step: u64,
    /// The position of the block's first sample in the global batch.
    pub first: usize,
}

/// `synthetic:<preset>[@size]`: the generator's set, images resized by area averaging.
fn synthetic(arg: &str) -> Result<TrainData> {
    let (preset, size) = match arg.split_once('@') {
        Some((p, s)) => (
            p,
            Some(
                s.parse::<usize>()
                    .map_err(|_| Error::Invalid(format!("synthetic:{arg}: bad size {s:?}")))?,
            ),
        ),
        None => (if arg.is_empty() { "small" } else { arg }, None),
    };
    let set = SyntheticSet::generate(&SyntheticConfig::preset(preset)?)?;
    let resize = |im: &Images| match size {
        Some(s) => resize_area(im, s),
        None => Ok(im.clone()),
    };
    let train = set
        .samples
        .images()
        .ok_or_else(|| Error::Invalid("synthetic data in vector mode has no images".into()))?;
    let verification = &set.verification;
    let eval_images = verification
        .samples
        .images()
        .ok_or_else(|| Error::Invalid("vector-mode verification".into()))?;
    let eval = EvalSet {
        images: resize(eval_images)?,
        mean_std: None,
        pairs: verification.pairs.clone(),
        folds: verification.folds,
        flip_ok: true,
        identity: Some(verification.identity.clone()),
    };
    Ok(TrainData::faces(
        &format!("synthetic:{arg}"),
        resize(train)?,
        set.labels.clone(),
        Some(eval),
    ))
}

/// Shrinks square images by an integer factor, averaging each factor×factor block.
pub fn resize_area(im: &Images, size: usize) -> Result<Images> {
    if size == 0 || im.h != im.w || im.h % size != 0 {
        return Err(Error::Invalid(format!(
            "cannot resize {}x{} images to {size} by an integer factor",
            im.h, im.w
        )));
    }
    let f = im.h / size;
    if f == 1 {
        return Ok(im.clone());
    }
    let mut pixels = Vec::with_capacity(im.n * im.c * size * size);
    for plane in im.pixels.chunks_exact(im.h * im.w) {
        for y in 0..size {
            for x in 0..size {
                let mut acc = 0u32;
                for dy in 0..f {
                    for dx in 0..f {
                        acc += plane[(y * f + dy) * im.w + x * f + dx] as u32;
                    }
                }
                pixels.push(((acc + (f * f / 2) as u32) / (f * f) as u32) as u8);
            }
        }
    }
    Images::new(im.n, im.c, size, size, pixels)
}
