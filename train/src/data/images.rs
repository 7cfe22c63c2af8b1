//! In-memory samples: a batch of u8 images `[N, C, H, W]`, or f32 vectors `[N, D]`.
//!
//! Images stay u8 in memory (a quarter of f32) and are turned into network input on the way to a
//! batch with the insightface normalisation `(x / 255 − 0.5) / 0.5`, which maps 0..255 to −1..1.
//! Layout is NCHW row-major, as the engine's tensors: pixel `(n, c, y, x)` is at
//! `((n·C + c)·H + y)·W + x`.

use crate::error::{Error, Result};

/// `N` images of `C×H×W` u8 pixels, NCHW.
#[derive(Clone, PartialEq, Eq)]
pub struct Images {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for Images {
    /// The shape only: a batch of images is too large to print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Images [{}, {}, {}, {}] u8",
            self.n, self.c, self.h, self.w
        )
    }
}

impl Images {
    /// Wraps `pixels`, checking that their length is `n·c·h·w`.
    pub fn new(n: usize, c: usize, h: usize, w: usize, pixels: Vec<u8>) -> Result<Images> {
        let want = [n, c, h, w]
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d));
        if want != Some(pixels.len()) {
            return Err(Error::Invalid(format!(
                "{} pixels do not fill [{n}, {c}, {h}, {w}]",
                pixels.len()
            )));
        }
        Ok(Images { n, c, h, w, pixels })
    }

    /// Values per image, `C·H·W`.
    pub fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// The pixels of image `i`, `[C, H, W]`.
    pub fn image(&self, i: usize) -> &[u8] {
        let len = self.image_len();
        &self.pixels[i * len..(i + 1) * len]
    }

    /// Image `i` as interleaved `[H, W, C]` (what image files and IDX store).
    pub fn image_hwc(&self, i: usize) -> Vec<u8> {
        let (c, hw) = (self.c, self.h * self.w);
        let chw = self.image(i);
        let mut out = vec![0u8; chw.len()];
        for p in 0..hw {
            for ch in 0..c {
                out[p * c + ch] = chw[ch * hw + p];
            }
        }
        out
    }

    /// Appends an interleaved `[H, W, C]` image, stored planar.
    pub(crate) fn push_hwc(&mut self, hwc: &[u8]) {
        let (c, hw) = (self.c, self.h * self.w);
        let start = self.pixels.len();
        self.pixels.resize(start + c * hw, 0);
        for p in 0..hw {
            for ch in 0..c {
                self.pixels[start + ch * hw + p] = hwc[p * c + ch];
            }
        }
        self.n += 1;
    }

    /// Network input for the images `indices`, `[B, C, H, W]` f32: `(x / 255 − 0.5) / 0.5`.
    pub fn batch_f32(&self, indices: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            out.extend(self.image(i).iter().map(|&v| normalise_pixel(v)));
        }
        out
    }

    /// Image `i` mirrored left–right (for flip test-time augmentation), `[C, H, W]`.
    pub fn flipped(&self, i: usize) -> Vec<u8> {
        let mut out = self.image(i).to_vec();
        for row in out.chunks_mut(self.w) {
            row.reverse();
        }
        out
    }
}

/// insightface's input normalisation of one pixel: `(x / 255 − 0.5) / 0.5`.
pub fn normalise_pixel(v: u8) -> f32 {
    (v as f32 / 255.0 - 0.5) / 0.5
}

/// The samples of a data set: images, or (vector-mode synthetic data) unit vectors.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    Images(Images),
    /// `values` is `[N, dim]` row-major.
    Vectors {
        dim: usize,
        values: Vec<f32>,
    },
}

impl Samples {
    /// Number of samples `N`.
    pub fn len(&self) -> usize {
        match self {
            Samples::Images(im) => im.n,
            Samples::Vectors { dim, values } => values.len().checked_div(*dim).unwrap_or(0),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shape of one sample: `[C, H, W]` or `[D]`.
    pub fn sample_shape(&self) -> Vec<usize> {
        match self {
            Samples::Images(im) => vec![im.c, im.h, im.w],
            Samples::Vectors { dim, .. } => vec![*dim],
        }
    }

    /// Values per sample.
    pub fn sample_len(&self) -> usize {
        self.sample_shape().iter().product()
    }

    /// Network input for `indices`, `[B, ...sample_shape]` f32 (images normalised to −1..1).
    pub fn batch_f32(&self, indices: &[usize]) -> Vec<f32> {
        match self {
            Samples::Images(im) => im.batch_f32(indices),
            Samples::Vectors { dim, values } => {
                let mut out = Vec::with_capacity(indices.len() * dim);
                for &i in indices {
                    out.extend_from_slice(&values[i * dim..(i + 1) * dim]);
                }
                out
            }
        }
    }

    /// The images, if these samples are images.
    pub fn images(&self) -> Option<&Images> {
        match self {
            Samples::Images(im) => Some(im),
            Samples::Vectors { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planar_interleaved_round_trip_and_flip() {
        // One 2x2 RGB image: pixel p has channels (10p, 10p+1, 10p+2).
        let hwc: Vec<u8> = (0..4)
            .flat_map(|p| [10 * p, 10 * p + 1, 10 * p + 2])
            .collect();
        let mut im = Images::new(0, 3, 2, 2, vec![]).unwrap();
        im.push_hwc(&hwc);
        assert_eq!(im.image(0)[..4], [0, 10, 20, 30]);
        assert_eq!(im.image_hwc(0), hwc);
        assert_eq!(im.flipped(0)[..4], [10, 0, 30, 20]);
        assert_eq!(im.batch_f32(&[0])[0], -1.0);
        assert!(Images::new(1, 3, 2, 2, vec![0; 11]).is_err());
    }
}
