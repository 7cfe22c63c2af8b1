//! Training-time augmentation of image batches, as the face-recognition recipes use it:
//! random horizontal flip (insightface: p = 0.5) and random crop with zero padding (the
//! CIFAR recipe: pad 4, crop back to the size). Inputs are already normalised
//! (`(x/255 − 0.5)/0.5`), so the padding value 0 is mid-grey.
//!
//! Shape legend: batch [B, C, H, W] f32, row-major; the output has the same shape.

use anglegrad_engine::Rng;

/// What to apply to each image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Augment {
    /// Probability of a left–right flip.
    pub flip: f64,
    /// Zero padding on each side before a random crop back to H × W (0 = no crop).
    pub crop_pad: usize,
}

impl Augment {
    /// No augmentation.
    pub fn none() -> Self {
        Augment {
            flip: 0.0,
            crop_pad: 0,
        }
    }

    /// Flip with p = 0.5 (insightface's face recipe).
    pub fn faces() -> Self {
        Augment {
            flip: 0.5,
            crop_pad: 0,
        }
    }

    /// Augments the batch in place; draws come from `rng`.
    pub fn apply(&self, batch: &mut [f32], dims: [usize; 4], rng: &mut Rng) {
        let [b, c, h, w] = dims;
        let plane = h * w;
        let mut scratch = vec![0.0f32; c * plane];
        for img in batch.chunks_exact_mut(c * plane).take(b) {
            if self.flip > 0.0 && rng.chance(self.flip) {
                for row in img.chunks_exact_mut(w) {
                    row.reverse();
                }
            }
            if self.crop_pad > 0 {
                let p = self.crop_pad as isize;
                let dy = rng.below(2 * self.crop_pad + 1) as isize - p;
                let dx = rng.below(2 * self.crop_pad + 1) as isize - p;
                scratch.fill(0.0);
                for ch in 0..c {
                    for y in 0..h as isize {
                        let sy = y + dy;
                        if sy < 0 || sy >= h as isize {
                            continue;
                        }
                        for x in 0..w as isize {
                            let sx = x + dx;
                            if sx >= 0 && sx < w as isize {
                                scratch[ch * plane + (y as usize) * w + x as usize] =
                                    img[ch * plane + (sy as usize) * w + sx as usize];
                            }
                        }
                    }
                }
                img.copy_from_slice(&scratch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flip_reverses_rows_and_crop_shifts_with_zero_fill() {
        let img: Vec<f32> = (1..=6).map(|v| v as f32).collect(); // [1, 1, 2, 3]
        let mut flipped = img.clone();
        Augment {
            flip: 1.0,
            crop_pad: 0,
        }
        .apply(&mut flipped, [1, 1, 2, 3], &mut Rng::new(0));
        assert_eq!(flipped, vec![3.0, 2.0, 1.0, 6.0, 5.0, 4.0]);
        let mut cropped = img.clone();
        Augment {
            flip: 0.0,
            crop_pad: 1,
        }
        .apply(&mut cropped, [1, 1, 2, 3], &mut Rng::new(5));
        // Every output value is an input value or the zero padding, and the shape is kept.
        assert_eq!(cropped.len(), 6);
        assert!(cropped.iter().all(|v| *v == 0.0 || img.contains(v)));
        let mut same = img.clone();
        Augment::none().apply(&mut same, [1, 1, 2, 3], &mut Rng::new(1));
        assert_eq!(same, img);
    }
}
