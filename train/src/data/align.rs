//! Face alignment with 5 landmarks (DATASETS.md §1.6, insightface's `norm_crop`).
//!
//! The landmarks (left eye, right eye, nose tip, left and right mouth corner) are mapped onto
//! the 112×112 template by the least-squares similarity transform (Umeyama), and the image is
//! resampled through it with bilinear interpolation (zero outside, as `cv2.warpAffine`).
//! Coordinates put pixel centres at integers (OpenCV's convention).
//!
//! For 2-D points a similarity is `p ↦ [[a, −b], [b, a]] p + t`; least squares over centred
//! points `x_i` (source) and `y_i` (target) has the closed form (Umeyama's, without the
//! reflection case, which a face never needs):
//!
//! ```text
//! a = Σ (x_i · y_i) / Σ |x_i|²        b = Σ (x_i × y_i) / Σ |x_i|²        t = ȳ − [[a, −b], [b, a]] x̄
//! ```

use crate::error::{Error, Result};

/// insightface's 112×112 template (`arcface_dst`).
pub const TEMPLATE_112: [(f64, f64); 5] = [
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
];

/// The template for an output of `width × height`: 112×112 as is, 112×96 shifted (x − 8),
/// other sizes scaled from 112×112 about pixel centres.
pub fn template(width: usize, height: usize) -> [(f64, f64); 5] {
    if (width, height) == (96, 112) {
        return TEMPLATE_112.map(|(x, y)| (x - 8.0, y));
    }
    let (sx, sy) = (width as f64 / 112.0, height as f64 / 112.0);
    TEMPLATE_112.map(|(x, y)| ((x + 0.5) * sx - 0.5, (y + 0.5) * sy - 0.5))
}

/// A similarity transform `p ↦ [[a, −b], [b, a]] p + t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f64,
    pub b: f64,
    pub t: (f64, f64),
}

impl Similarity {
    pub fn apply(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (
            self.a * x - self.b * y + self.t.0,
            self.b * x + self.a * y + self.t.1,
        )
    }

    /// The inverse transform (`None` if it is degenerate).
    pub fn inverse(&self) -> Option<Similarity> {
        let d = self.a * self.a + self.b * self.b;
        if d == 0.0 || !d.is_finite() {
            return None;
        }
        let (a, b) = (self.a / d, -self.b / d);
        let t = (
            -(a * self.t.0 - b * self.t.1),
            -(b * self.t.0 + a * self.t.1),
        );
        Some(Similarity { a, b, t })
    }

    /// The least-squares similarity taking `src` onto `dst`.
    pub fn fit(src: &[(f64, f64)], dst: &[(f64, f64)]) -> Result<Similarity> {
        if src.len() != dst.len() || src.len() < 2 {
            return Err(Error::Invalid(format!(
                "similarity fit needs ≥ 2 point pairs, got {} and {}",
                src.len(),
                dst.len()
            )));
        }
        let n = src.len() as f64;
        let mean = |p: &[(f64, f64)]| {
            let s = p.iter().fold((0.0, 0.0), |a, q| (a.0 + q.0, a.1 + q.1));
            (s.0 / n, s.1 / n)
        };
        let (ms, md) = (mean(src), mean(dst));
        let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
        for (s, d) in src.iter().zip(dst) {
            let (x, y) = (s.0 - ms.0, s.1 - ms.1);
            let (u, v) = (d.0 - md.0, d.1 - md.1);
            dot += x * u + y * v;
            cross += x * v - y * u;
            norm += x * x + y * y;
        }
        if norm == 0.0 {
            return Err(Error::Invalid(
                "similarity fit: all source points coincide".into(),
            ));
        }
        let (a, b) = (dot / norm, cross / norm);
        let t = (md.0 - (a * ms.0 - b * ms.1), md.1 - (b * ms.0 + a * ms.1));
        Ok(Similarity { a, b, t })
    }
}

/// Warps a planar `[C, H, W]` u8 image by `to_output` (input → output coordinates) into a
/// `[C, out_h, out_w]` image: bilinear, zero outside the input.
pub fn warp(
    image: &[u8],
    channels: usize,
    height: usize,
    width: usize,
    to_output: &Similarity,
    out_h: usize,
    out_w: usize,
) -> Result<Vec<u8>> {
    if image.len() != channels * height * width {
        return Err(Error::Invalid(format!(
            "{} bytes are not a [{channels}, {height}, {width}] image",
            image.len()
        )));
    }
    let back = to_output
        .inverse()
        .ok_or_else(|| Error::Invalid("degenerate alignment transform".into()))?;
    let mut out = vec![0u8; channels * out_h * out_w];
    for oy in 0..out_h {
        for ox in 0..out_w {
            let (x, y) = back.apply((ox as f64, oy as f64));
            let (x0, y0) = (x.floor(), y.floor());
            let (fx, fy) = (x - x0, y - y0);
            for c in 0..channels {
                let plane = &image[c * height * width..(c + 1) * height * width];
                let at = |xi: f64, yi: f64| -> f64 {
                    if xi < 0.0 || yi < 0.0 || xi >= width as f64 || yi >= height as f64 {
                        0.0
                    } else {
                        plane[yi as usize * width + xi as usize] as f64
                    }
                };
                let v = (1.0 - fy) * ((1.0 - fx) * at(x0, y0) + fx * at(x0 + 1.0, y0))
                    + fy * ((1.0 - fx) * at(x0, y0 + 1.0) + fx * at(x0 + 1.0, y0 + 1.0));
                out[c * out_h * out_w + oy * out_w + ox] = (v.clamp(0.0, 255.0) + 0.5) as u8;
            }
        }
    }
    Ok(out)
}

/// Aligns a planar `[C, H, W]` face with its 5 `landmarks` onto the `out_size × out_size`
/// template; returns the aligned image and the transform used.
pub fn align_face(
    image: &[u8],
    channels: usize,
    height: usize,
    width: usize,
    landmarks: &[(f32, f32); 5],
    out_size: usize,
) -> Result<(Vec<u8>, Similarity)> {
    let src: Vec<(f64, f64)> = landmarks
        .iter()
        .map(|&(x, y)| (x as f64, y as f64))
        .collect();
    let sim = Similarity::fit(&src, &template(out_size, out_size))?;
    Ok((
        warp(image, channels, height, width, &sim, out_size, out_size)?,
        sim,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_known_similarity() {
        // Rotate 30°, scale 2, shift (5, −3): a = 2 cos 30°, b = 2 sin 30°.
        let truth = Similarity {
            a: 3f64.sqrt(),
            b: 1.0,
            t: (5.0, -3.0),
        };
        let src = TEMPLATE_112.to_vec();
        let dst: Vec<_> = src.iter().map(|&p| truth.apply(p)).collect();
        let fit = Similarity::fit(&src, &dst).unwrap();
        assert!((fit.a - truth.a).abs() < 1e-12 && (fit.b - truth.b).abs() < 1e-12);
        assert!((fit.t.0 - 5.0).abs() < 1e-9 && (fit.t.1 + 3.0).abs() < 1e-9);
        let back = fit.inverse().unwrap().apply(dst[2]);
        assert!((back.0 - src[2].0).abs() < 1e-9 && (back.1 - src[2].1).abs() < 1e-9);
        assert!(Similarity::fit(&[(1.0, 1.0); 3], &src[..3]).is_err());
    }

    #[test]
    fn warp_by_identity_and_by_a_shift() {
        let img: Vec<u8> = (0..2 * 3 * 4).map(|v| v as u8 * 10).collect();
        let id = Similarity {
            a: 1.0,
            b: 0.0,
            t: (0.0, 0.0),
        };
        assert_eq!(warp(&img, 2, 3, 4, &id, 3, 4).unwrap(), img);
        // Output = input moved right by one pixel: column 0 is outside (zero).
        let shift = Similarity {
            a: 1.0,
            b: 0.0,
            t: (1.0, 0.0),
        };
        let out = warp(&img, 2, 3, 4, &shift, 3, 4).unwrap();
        assert_eq!(out[..4], [0, 0, 10, 20]);
        assert_eq!(template(96, 112)[0].0, 38.2946 - 8.0);
    }
}
