//! Verification benchmarks from files, for `examples/eval.rs`: an LFW-style `pairs.txt` with
//! its image folder, or an insightface `.bin`. Images are decoded to the model's channels and
//! brought to its input size (equal, or an integer multiple shrunk by area averaging).

use std::path::Path;

use super::dataset::{resize_area, EvalSet};
use crate::data::codec::decode_image;
use crate::data::images::Images;
use crate::data::pairs::PairList;
use crate::data::verification_bin::VerificationBin;
use crate::error::{Error, Offset, Result};

/// `images` brought to the model's input [C, H, W].
fn fit(images: Images, input: [usize; 3], what: &str) -> Result<Images> {
    let [c, h, w] = input;
    if images.c != c {
        return Err(Error::Invalid(format!(
            "{what}: images have {} channel(s), the model takes {c}",
            images.c
        )));
    }
    if (images.h, images.w) == (h, w) {
        return Ok(images);
    }
    if images.h != images.w || h != w {
        return Err(Error::Invalid(format!(
            "{what}: images are {}x{}, the model takes {w}x{h}",
            images.w, images.h
        )));
    }
    resize_area(&images, h)
}

/// The pairs of an LFW-style `pairs.txt` over `<root>/<name>/<name>_<NNNN>.<ext>`.
pub fn from_pairs_txt(pairs: &Path, root: &Path, ext: &str, input: [usize; 3]) -> Result<EvalSet> {
    let list = PairList::read(pairs)?;
    let resolved = list.resolve_files(root, ext, false)?;
    let mut images = Images {
        n: 0,
        c: input[0],
        h: 0,
        w: 0,
        pixels: Vec::new(),
    };
    for path in &resolved.images {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let img = decode_image(&bytes, input[0], &name, Offset::Byte(0))?;
        if images.n == 0 {
            (images.h, images.w) = (img.height, img.width);
        } else if (img.height, img.width) != (images.h, images.w) {
            return Err(Error::Invalid(format!(
                "{name}: {}x{}, the first image was {}x{}",
                img.width, img.height, images.w, images.h
            )));
        }
        images.push_hwc(&img.pixels);
    }
    Ok(EvalSet {
        images: fit(images, input, &pairs.display().to_string())?,
        mean_std: None,
        pairs: resolved.pairs,
        folds: list.folds.max(1),
        flip_ok: true,
        identity: None,
    })
}

/// The pairs of an insightface verification `.bin` (10 folds when the count allows).
pub fn from_bin(path: &Path, input: [usize; 3]) -> Result<EvalSet> {
    let name = path.display().to_string();
    let vb = VerificationBin::read(path)?;
    let images = fit(vb.decode_images(input[0], &name)?, input, &name)?;
    let folds = if vb.issame.len() % 10 == 0 { 10 } else { 1 };
    Ok(EvalSet {
        images,
        mean_std: None,
        pairs: vb.pairs(),
        folds,
        flip_ok: true,
        identity: None,
    })
}
