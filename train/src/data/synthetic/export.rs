//! Writing a synthetic set in every format the readers take (DATASETS.md §4, "Export").
//!
//! | output | format |
//! |---|---|
//! | `train/<id>/<id>_<NNNN>.png` | image folder, LFW naming (§1.2) |
//! | `train/landmarks.tsv` | `path x1 y1 … x5 y5`, paths relative to `train/` |
//! | `verif/<id>/…`, `verif/pairs.txt` | verification images and `pairs.txt` View 2 (§1.3) |
//! | `verif.bin`, `verif_py3.bin` | insightface `.bin`, pickle flavours 1 and 2 (§1.4) |
//! | `rec/train.{rec,idx}`, `rec/property` | RecordIO pack with identity index (§1.5) |
//! | `rec_plain/…` | the same without identity index |
//! | `idx/train-{images,labels}.idx.gz` | IDX (§1.1) |
//!
//! Training identity `i` is named `id00042`, verification identity `v` is `v00007`; image
//! numbers count from 1 in sample order, so `(name, n)` is sample `n − 1` of that identity.
//! Exports store true identities: label noise lives only in `SyntheticSet::labels`.

use std::path::{Path, PathBuf};

use super::{Landmarks, SyntheticSet, VerificationSet};
use crate::data::codec::{encode_image, ImageKind};
use crate::data::folder::write_image_folder;
use crate::data::idx::{images_to_idx, labels_to_idx, write_idx};
use crate::data::images::Images;
use crate::data::mxpack::write_pack;
use crate::data::pairs::{ImageRef, NamedPair, PairList};
use crate::data::source::write_file;
use crate::data::verification_bin::VerificationBin;
use crate::error::{Error, Result};

/// Name of training identity `i`.
pub fn train_name(i: usize) -> String {
    format!("id{i:05}")
}

/// Name of verification identity `v`.
pub fn verif_name(v: usize) -> String {
    format!("v{v:05}")
}

fn images_of(set_samples: &crate::data::Samples) -> Result<&Images> {
    set_samples
        .images()
        .ok_or_else(|| Error::Invalid("image exports need an image-mode synthetic set".into()))
}

/// Encodes every image (JPEG quality 95, or PNG).
fn encode_all(images: &Images, kind: ImageKind) -> Result<Vec<Vec<u8>>> {
    (0..images.n)
        .map(|i| encode_image(&images.image_hwc(i), images.w, images.h, images.c, kind, 95))
        .collect()
}

/// `landmarks.tsv` text: one line `path x1 y1 … x5 y5` per image.
pub fn landmarks_tsv(root: &Path, paths: &[PathBuf], landmarks: &[Landmarks]) -> String {
    let mut out = String::new();
    for (path, marks) in paths.iter().zip(landmarks) {
        out.push_str(
            &path
                .strip_prefix(root)
                .unwrap_or(path)
                .display()
                .to_string(),
        );
        for (x, y) in marks {
            out.push_str(&format!("\t{x:.3}\t{y:.3}"));
        }
        out.push('\n');
    }
    out
}

impl VerificationSet {
    /// The pairs as a View 2 `pairs.txt` (10 folds of P + P), names as [`verif_name`].
    pub fn pair_list(&self, images_per_identity: usize) -> PairList {
        let image = |s: usize| ImageRef {
            name: verif_name(self.identity[s]),
            number: (s % images_per_identity) as u32 + 1,
        };
        PairList {
            folds: self.folds,
            per_fold: self.pairs_per_fold,
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

    /// The set as an insightface `.bin`: images in pair order `(a_0, b_0, a_1, b_1, …)`.
    pub fn to_bin(&self, kind: ImageKind) -> Result<VerificationBin> {
        let images = images_of(&self.samples)?;
        let encoded = encode_all(images, kind)?;
        Ok(VerificationBin {
            images: self
                .pairs
                .iter()
                .flat_map(|&(a, b, _)| [encoded[a].clone(), encoded[b].clone()])
                .collect(),
            issame: self.same(),
        })
    }
}

/// What [`export_all`] wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub train_images: Vec<PathBuf>,
    pub verif_images: Vec<PathBuf>,
}

/// Writes `set` (image mode) under `dir` in every format; see the module table.
pub fn export_all(set: &SyntheticSet, dir: &Path) -> Result<ExportSummary> {
    let train = images_of(&set.samples)?;
    let verif = images_of(&set.verification.samples)?;
    let mkdir = |p: &Path| std::fs::create_dir_all(p).map_err(|e| Error::io(p, e));

    let train_root = dir.join("train");
    let names: Vec<String> = (0..set.identities).map(train_name).collect();
    let train_images =
        write_image_folder(&train_root, train, &set.true_labels, &names, ImageKind::Png)?;
    write_file(
        &train_root.join("landmarks.tsv"),
        landmarks_tsv(&train_root, &train_images, &set.landmarks).as_bytes(),
    )?;

    let v = &set.verification;
    let verif_root = dir.join("verif");
    let vnames: Vec<String> = (0..v.identity.iter().max().map_or(0, |m| m + 1))
        .map(verif_name)
        .collect();
    let verif_images =
        write_image_folder(&verif_root, verif, &v.identity, &vnames, ImageKind::Png)?;
    let per_id = set.config.verif_images;
    write_file(
        &verif_root.join("pairs.txt"),
        v.pair_list(per_id).to_text().as_bytes(),
    )?;
    let bin = v.to_bin(ImageKind::Jpeg)?;
    write_file(&dir.join("verif.bin"), &bin.encode_py2()?)?;
    write_file(&dir.join("verif_py3.bin"), &bin.encode_py3()?)?;

    let encoded = encode_all(train, ImageKind::Jpeg)?;
    let records: Vec<(usize, Vec<u8>)> = set.true_labels.clone().into_iter().zip(encoded).collect();
    let property = [set.identities, train.h, train.w];
    for (sub, index) in [("rec", true), ("rec_plain", false)] {
        mkdir(&dir.join(sub))?;
        write_pack(&dir.join(sub).join("train.rec"), &records, property, index)?;
    }

    mkdir(&dir.join("idx"))?;
    write_idx(&dir.join("idx/train-images.idx.gz"), &images_to_idx(train)?)?;
    write_idx(
        &dir.join("idx/train-labels.idx.gz"),
        &labels_to_idx(&set.true_labels)?,
    )?;
    Ok(ExportSummary {
        train_images,
        verif_images,
    })
}
