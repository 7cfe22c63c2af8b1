//! Rendering one character in one face to a 32×32 u8 image (DATASETS.md §3.1):
//!
//! 1. rasterise at 128 px, white on black, anti-aliased (`ab_glyph`);
//! 2. crop to the ink box (pixels with any coverage);
//! 3. scale by `s = 26 / max(w, h)` to `w' = max(1, round(w s))` × `h'` with area averaging
//!    (each output pixel is the mean of the input area it covers, edges weighted by overlap);
//! 4. paste on a 32×32 black canvas with its top-left at `((32 − w') / 2, (32 − h') / 2)`
//!    (integer division), values `round(255 v)`.

use ab_glyph::{Font, FontRef, PxScale};

use crate::error::{Error, Result};

/// Output side.
pub const CANVAS: usize = 32;
/// The longer side of the ink box after scaling.
pub const INK: usize = 26;
/// Rasterisation size in pixels.
pub const RASTER_PX: f32 = 128.0;

/// One axis of area resampling: for each of `dst` outputs, the `(input, weight)` list with
/// weights = overlap of `[j, j+1)` with the output's source interval, normalised to sum 1.
fn area_weights(src: usize, dst: usize) -> Vec<Vec<(usize, f64)>> {
    let ratio = src as f64 / dst as f64;
    (0..dst)
        .map(|i| {
            let (lo, hi) = (i as f64 * ratio, (i + 1) as f64 * ratio);
            let mut w = Vec::new();
            let mut j = lo.floor() as usize;
            while (j as f64) < hi && j < src {
                let overlap = hi.min(j as f64 + 1.0) - lo.max(j as f64);
                if overlap > 0.0 {
                    w.push((j, overlap / ratio));
                }
                j += 1;
            }
            w
        })
        .collect()
}

/// Area-averaging resize of a `sh × sw` plane to `dh × dw` (separable: rows, then columns).
pub fn area_resize(src: &[f64], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<f64> {
    let (wx, wy) = (area_weights(sw, dw), area_weights(sh, dh));
    let mut rows = vec![0.0; sh * dw];
    for y in 0..sh {
        for (x, ws) in wx.iter().enumerate() {
            rows[y * dw + x] = ws.iter().map(|&(j, w)| w * src[y * sw + j]).sum();
        }
    }
    let mut out = vec![0.0; dh * dw];
    for (y, ws) in wy.iter().enumerate() {
        for x in 0..dw {
            out[y * dw + x] = ws.iter().map(|&(j, w)| w * rows[j * dw + x]).sum();
        }
    }
    out
}

/// Crops coverage `[h, w]` to its ink box, scales it and pastes it on the canvas.
pub fn fit_to_canvas(coverage: &[f64], w: usize, h: usize) -> Option<Vec<u8>> {
    let ink = |x: usize, y: usize| coverage[y * w + x] > 0.0;
    let rows: Vec<usize> = (0..h).filter(|&y| (0..w).any(|x| ink(x, y))).collect();
    let cols: Vec<usize> = (0..w).filter(|&x| (0..h).any(|y| ink(x, y))).collect();
    let (&y0, &y1, &x0, &x1) = (rows.first()?, rows.last()?, cols.first()?, cols.last()?);
    let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);
    let crop: Vec<f64> = (y0..=y1)
        .flat_map(|y| (x0..=x1).map(move |x| (x, y)))
        .map(|(x, y)| coverage[y * w + x])
        .collect();
    let s = INK as f64 / cw.max(ch) as f64;
    let (dw, dh) = (
        ((cw as f64 * s).round() as usize).max(1),
        ((ch as f64 * s).round() as usize).max(1),
    );
    let small = area_resize(&crop, cw, ch, dw, dh);
    let mut out = vec![0u8; CANVAS * CANVAS];
    let (ox, oy) = ((CANVAS - dw) / 2, (CANVAS - dh) / 2);
    for y in 0..dh {
        for x in 0..dw {
            out[(oy + y) * CANVAS + ox + x] =
                (255.0 * small[y * dw + x].clamp(0.0, 1.0)).round() as u8;
        }
    }
    Some(out)
}

/// Renders `ch` in `font` to a 32×32 u8 image.
pub fn render_glyph(font: &FontRef, ch: char, face_id: &str) -> Result<Vec<u8>> {
    let missing = || {
        Error::Invalid(format!(
            "font {face_id} has no glyph for U+{:04X}",
            ch as u32
        ))
    };
    let id = font.glyph_id(ch);
    if id.0 == 0 {
        return Err(missing());
    }
    let outlined = font
        .outline_glyph(id.with_scale(PxScale::from(RASTER_PX)))
        .ok_or_else(missing)?;
    let b = outlined.px_bounds();
    let (w, h) = (b.width().ceil() as usize, b.height().ceil() as usize);
    let mut coverage = vec![0.0f64; w * h];
    outlined.draw(|x, y, c| {
        if let Some(v) = coverage.get_mut(y as usize * w + x as usize) {
            *v = c as f64;
        }
    });
    fit_to_canvas(&coverage, w, h).ok_or_else(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_resize_by_hand() {
        // 3 → 2: output 0 covers [0, 1.5): (a + b/2) / 1.5; output 1 covers [1.5, 3).
        let out = area_resize(&[3.0, 6.0, 9.0], 3, 1, 2, 1);
        assert!((out[0] - 4.0).abs() < 1e-12 && (out[1] - 8.0).abs() < 1e-12);
        // Averaging keeps a constant plane constant.
        assert!(area_resize(&[0.5; 35], 7, 5, 3, 2)
            .iter()
            .all(|v| (v - 0.5).abs() < 1e-12));
    }

    #[test]
    fn ink_box_is_scaled_to_26_and_centred() {
        // A 40 × 20 ink rectangle inside a 60 × 50 raster: scaled by 26/40 to 26 × 13, pasted
        // at ((32 − 26) / 2, (32 − 13) / 2) = (3, 9).
        let (w, h) = (60, 50);
        let mut cov = vec![0.0; w * h];
        for y in 10..30 {
            for x in 5..45 {
                cov[y * w + x] = 1.0;
            }
        }
        let out = fit_to_canvas(&cov, w, h).unwrap();
        let lit: Vec<(usize, usize)> = (0..CANVAS * CANVAS)
            .filter(|&i| out[i] > 0)
            .map(|i| (i % CANVAS, i / CANVAS))
            .collect();
        let (xs, ys): (Vec<usize>, Vec<usize>) = lit.iter().copied().unzip();
        assert_eq!((xs.iter().min(), xs.iter().max()), (Some(&3), Some(&28)));
        assert_eq!((ys.iter().min(), ys.iter().max()), (Some(&9), Some(&21)));
        assert!(lit.iter().all(|&(x, y)| out[y * CANVAS + x] == 255));
        assert!(fit_to_canvas(&[0.0; 4], 2, 2).is_none());
    }
}
