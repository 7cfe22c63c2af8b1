//! Image folders, torchvision's `ImageFolder` layout (DATASETS.md §1.2).
//!
//! ```text
//! root/<identity>/<image>          e.g. lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg
//! ```
//!
//! Identities are the subfolders sorted by their name bytes, class = index; images inside are
//! sorted alike. Files ending `jpg`, `jpeg` or `png` (any case) are images; hidden entries
//! (names starting with `.`) and other files are skipped and counted. `min_images_per_id` drops
//! identities with fewer images and renumbers the classes. Exports use LFW naming
//! `<name>/<name>_<NNNN>.<ext>`.

use std::path::{Path, PathBuf};

use super::codec::{decode_image, encode_image, DecodedImage, ImageKind};
use super::images::Images;
use super::source::{read_file, write_file};
use crate::error::{Error, Offset, Result};

/// An indexed image folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFolder {
    pub root: PathBuf,
    /// Identity names; class `c` is `classes[c]`.
    pub classes: Vec<String>,
    /// `(path, class)` of every image, grouped by class in order.
    pub items: Vec<(PathBuf, usize)>,
    /// Hidden entries and non-image files that were skipped.
    pub skipped: usize,
    /// Where each class's items start in `items` (`classes.len() + 1` entries).
    starts: Vec<usize>,
}

fn is_image_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png"].iter().any(|e| lower.ends_with(e))
}

/// Entries of `dir` sorted by name bytes.
fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let is_dir = path.is_dir();
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            path,
            is_dir,
        ));
    }
    out.sort_by(|a, b| {
        a.1.as_os_str()
            .as_encoded_bytes()
            .cmp(b.1.as_os_str().as_encoded_bytes())
    });
    Ok(out)
}

impl ImageFolder {
    /// Indexes `root`; identities with fewer than `min_images_per_id` images are dropped.
    pub fn open(root: &Path, min_images_per_id: usize) -> Result<ImageFolder> {
        let mut classes = Vec::new();
        let mut items = Vec::new();
        let mut starts = vec![0];
        let mut skipped = 0;
        for (name, path, is_dir) in sorted_entries(root)? {
            if name.starts_with('.') || !is_dir {
                skipped += 1;
                continue;
            }
            let mut images = Vec::new();
            for (file, fpath, fdir) in sorted_entries(&path)? {
                if file.starts_with('.') || fdir || !is_image_name(&file) {
                    skipped += 1;
                } else {
                    images.push(fpath);
                }
            }
            if images.len() < min_images_per_id.max(1) {
                continue;
            }
            let class = classes.len();
            classes.push(name);
            items.extend(images.into_iter().map(|p| (p, class)));
            starts.push(items.len());
        }
        Ok(ImageFolder {
            root: root.to_path_buf(),
            classes,
            items,
            skipped,
            starts,
        })
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Indices into `items` of class `c`'s images, in order.
    pub fn class_items(&self, c: usize) -> Vec<usize> {
        match (self.starts.get(c), self.starts.get(c + 1)) {
            (Some(&s), Some(&e)) => (s..e).collect(),
            _ => vec![],
        }
    }

    /// The class of every image.
    pub fn labels(&self) -> Vec<usize> {
        self.items.iter().map(|x| x.1).collect()
    }

    /// Decodes image `i` to `channels` (1 grey, 3 RGB).
    pub fn load(&self, i: usize, channels: usize) -> Result<DecodedImage> {
        let (path, _) = self.items.get(i).ok_or_else(|| {
            Error::Invalid(format!("image {i} of a folder of {}", self.items.len()))
        })?;
        decode_image(
            &read_file(path)?,
            channels,
            &path.display().to_string(),
            Offset::Byte(0),
        )
    }

    /// Decodes every image; all must have the same size.
    pub fn load_all(&self, channels: usize) -> Result<Images> {
        let mut out: Option<Images> = None;
        for i in 0..self.len() {
            let im = self.load(i, channels)?;
            let batch = out.get_or_insert_with(|| Images {
                n: 0,
                c: channels,
                h: im.height,
                w: im.width,
                pixels: Vec::new(),
            });
            if (im.height, im.width) != (batch.h, batch.w) {
                return Err(Error::format(
                    &self.items[i].0.display().to_string(),
                    Offset::Byte(0),
                    format!(
                        "image is {}x{}, the folder's first is {}x{}",
                        im.width, im.height, batch.w, batch.h
                    ),
                ));
            }
            batch.push_hwc(&im.pixels);
        }
        Ok(out.unwrap_or(Images {
            n: 0,
            c: channels,
            h: 0,
            w: 0,
            pixels: vec![],
        }))
    }
}

/// Writes `images` as `root/<name>/<name>_<NNNN>.<ext>`, numbering each identity's images from
/// 1 in order; `names[label]` names identity `label`. Returns the written paths.
pub fn write_image_folder(
    root: &Path,
    images: &Images,
    labels: &[usize],
    names: &[String],
    kind: ImageKind,
) -> Result<Vec<PathBuf>> {
    if labels.len() != images.n {
        return Err(Error::Invalid(format!(
            "{} labels for {} images",
            labels.len(),
            images.n
        )));
    }
    let mut counts = vec![0usize; names.len()];
    let mut paths = Vec::with_capacity(images.n);
    for (i, &label) in labels.iter().enumerate() {
        let name = names
            .get(label)
            .ok_or_else(|| Error::Invalid(format!("label {label} has no name")))?;
        counts[label] += 1;
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(format!("{name}_{:04}.{}", counts[label], kind.extension()));
        let bytes = encode_image(&images.image_hwc(i), images.w, images.h, images.c, kind, 95)?;
        write_file(&path, &bytes)?;
        paths.push(path);
    }
    Ok(paths)
}
