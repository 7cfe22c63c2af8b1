//! Fashion-MNIST, the default real data set (DATASETS.md §2, §3.2).
//!
//! 60,000 training and 10,000 test 28×28 grey images of 10 classes (exactly 6,000 / 1,000
//! each; MIT, Zalando SE), as the Debian package `dataset-fashion-mnist` installs them:
//! `/usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`. The
//! loader looks in `$ANGLEGRAD_DATA_DIR/fashion-mnist` first (gzip or raw files), then there.
//!
//! With 10 classes the set is used closed-set: verification pairs are drawn from the test
//! images, 10 folds of 300 same + 300 different pairs, from the project RNG at state `0x5EED`
//! (see [`verification_pairs`]).

use std::path::{Path, PathBuf};

use super::idx::{read_idx_dataset, IdxDataset};
use super::rng::Rng;
use crate::error::{Error, Result};

/// Class names, by label.
pub const CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// The Debian package's folder.
pub const DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Which half of the data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// 60,000 images.
    Train,
    /// 10,000 images.
    Test,
}

impl Split {
    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

/// The image and label files of `split` in `dir`, gzip preferred, if both exist.
fn files_in(dir: &Path, split: Split) -> Option<(PathBuf, PathBuf)> {
    let p = split.prefix();
    ["-ubyte.gz", "-ubyte"].iter().find_map(|ext| {
        let images = dir.join(format!("{p}-images-idx3{ext}"));
        let labels = dir.join(format!("{p}-labels-idx1{ext}"));
        (images.is_file() && labels.is_file()).then_some((images, labels))
    })
}

/// The folder holding Fashion-MNIST: `$ANGLEGRAD_DATA_DIR/fashion-mnist`, then the Debian
/// path; `None` when neither has both splits.
pub fn locate() -> Option<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(root) = std::env::var_os("ANGLEGRAD_DATA_DIR") {
        dirs.push(PathBuf::from(root).join("fashion-mnist"));
    }
    dirs.push(PathBuf::from(DEBIAN_DIR));
    dirs.into_iter()
        .find(|d| files_in(d, Split::Train).is_some() && files_in(d, Split::Test).is_some())
}

/// Loads one split: u8 images `[N, 1, 28, 28]` and labels 0..10.
pub fn load(split: Split) -> Result<IdxDataset> {
    let dir = locate().ok_or_else(|| Error::NotInstalled {
        what: "Fashion-MNIST".into(),
        hint: format!(
            "apt-get install dataset-fashion-mnist (files in {DEBIAN_DIR}), or put them in \
             $ANGLEGRAD_DATA_DIR/fashion-mnist"
        ),
    })?;
    load_from(&dir, split)
}

/// Loads one split from the IDX files in `dir`.
pub fn load_from(dir: &Path, split: Split) -> Result<IdxDataset> {
    let (images, labels) = files_in(dir, split).ok_or_else(|| Error::NotInstalled {
        what: format!("Fashion-MNIST {split:?} split"),
        hint: format!(
            "no {}-images-idx3-ubyte(.gz) and labels in {}",
            split.prefix(),
            dir.display()
        ),
    })?;
    read_idx_dataset(&images, &labels, CLASSES.len())
}

/// Closed-set verification pairs over `labels` (the test split): 10 folds, each `per_fold`
/// same-class pairs then `per_fold` different-class pairs, `(a, b, same)`, no pair twice.
///
/// From `Rng::new(0x5EED)`, fold by fold: draw `a = uniform(n)`, `b = uniform(n)` and keep the
/// pair if `a ≠ b`, it is of the kind being filled (same first, then different) and
/// `{a, b}` is new. DATASETS.md §3.2 uses `per_fold` = 300.
pub fn verification_pairs(labels: &[usize], per_fold: usize) -> Result<Vec<(usize, usize, bool)>> {
    let n = labels.len();
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    if n < 2 || classes < 2 {
        return Err(Error::Invalid(format!(
            "pairs need ≥ 2 images of ≥ 2 classes, got {n} of {classes}"
        )));
    }
    if (10 * per_fold) as u128 * 4 > (n as u128 * n as u128) / (2 * classes as u128) {
        return Err(Error::Invalid(format!(
            "{per_fold} pairs per fold is too many for {n} images"
        )));
    }
    let mut rng = Rng::new(0x5EED);
    let mut used = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(20 * per_fold);
    for _fold in 0..10 {
        for same in [true, false] {
            let mut got = 0;
            while got < per_fold {
                let (a, b) = (rng.below(n), rng.below(n));
                if a != b && (labels[a] == labels[b]) == same && used.insert((a.min(b), a.max(b))) {
                    out.push((a, b, same));
                    got += 1;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_have_the_fold_structure_and_are_seeded() {
        let labels: Vec<usize> = (0..500).map(|i| i % 10).collect();
        let pairs = verification_pairs(&labels, 30).unwrap();
        assert_eq!(pairs.len(), 600);
        for fold in pairs.chunks(60) {
            assert!(fold[..30].iter().all(|p| p.2 && labels[p.0] == labels[p.1]));
            assert!(fold[30..]
                .iter()
                .all(|p| !p.2 && labels[p.0] != labels[p.1]));
        }
        assert_eq!(verification_pairs(&labels, 30).unwrap(), pairs);
        assert!(verification_pairs(&labels[..10], 300).is_err());
    }
}
