//! One sample: its nuisance draws, and the image (or vector) they produce.
//!
//! Sample `k` of identity `i` uses only the keyed stream `(seed, SAMPLE, i, k)`, so samples can
//! be made lazily, in parallel and in any order. The camera is a similarity transform of the
//! template frame about its centre `c = (56, 56)`:
//!
//! ```text
//! image point  q = s · R(θ) · (u − c) + c + t          (u: template point; a bad crop composes a second one)
//! pixel (px, py) of an S×S image looks at q = ((px + ½)·112/S − ½, …), so u = T⁻¹(q)
//! light        v ← v · (1 + offset + grad · (u − c) / 56)
//! then blur (Gaussian, separable), noise, quantise to u8, gamma v ← 255 (v / 255)^γ by table
//! ```
//!
//! Pixel noise is Irwin–Hall (the sum of 4 uniforms, centred and scaled to σ): Gaussian enough
//! for a nuisance, and far cheaper than Box–Muller for millions of pixels.

use super::config::{Nuisance, SyntheticConfig};
use super::face::{Face, Occluder, Pose};
use super::identity::{tag, FaceParams};
use crate::data::rng::Rng;

/// The template frame's size and centre. Template coordinates follow OpenCV's convention (the
/// one of the §1.6 template): pixel `px` of a 112-pixel image has its centre at `px`, so the
/// image centre is 55.5.
const FRAME: f64 = 112.0;
const CENTRE: f64 = 55.5;

/// Everything random about one sample, drawn in a fixed order.
#[derive(Debug, Clone)]
pub struct SampleDraw {
    /// Camera: rotation (radians), scale, shift (template units).
    pub rotation: f64,
    pub scale: f64,
    pub shift: (f64, f64),
    pub pose: Pose,
    pub light_offset: f64,
    pub light_grad: (f64, f64),
    pub gamma: f64,
    /// Blur σ in template units.
    pub blur: f64,
    /// Noise σ as a share of the range.
    pub noise: f64,
    pub background: [f64; 3],
    pub occluder: Option<Occluder>,
    /// The second transform of a bad crop: rotation, scale, shift.
    pub misaligned: Option<(f64, f64, (f64, f64))>,
    /// Seed of the pixel noise stream.
    pub noise_seed: u64,
}

impl SampleDraw {
    /// The draws of sample `k` of identity `i`.
    pub fn new(cfg: &SyntheticConfig, i: usize, k: usize) -> SampleDraw {
        let n: &Nuisance = &cfg.nuisance;
        let mut r = Rng::keyed(cfg.seed, tag::SAMPLE, i as u64, k as u64);
        let deg = std::f64::consts::PI / 180.0;
        let rotation = n.rotation * 15.0 * deg * r.symmetric(1.0);
        let scale = 1.0 + n.scale * 0.12 * r.symmetric(1.0);
        let shift = (
            n.shift * 0.06 * FRAME * r.symmetric(1.0),
            n.shift * 0.06 * FRAME * r.symmetric(1.0),
        );
        let pose = Pose {
            yaw: n.yaw * r.symmetric(1.0),
            smile: n.expression * r.symmetric(1.0),
            open: n.expression * r.unit(),
            raise: n.expression * r.symmetric(1.0),
            squint: n.expression * r.unit() * r.unit(),
        };
        let light_offset = n.lighting * 0.25 * r.symmetric(1.0);
        let angle = 2.0 * std::f64::consts::PI * r.unit();
        let amp = n.lighting * 0.35 * r.unit();
        let light_grad = (amp * libm::cos(angle), amp * libm::sin(angle));
        let gamma = libm::exp(n.gamma * 0.5 * r.symmetric(1.0));
        let blur = n.blur * 1.5 * r.unit();
        let noise = n.noise * 0.06 * r.unit();
        let base = 0.5 + n.background * 0.4 * r.symmetric(1.0);
        let tint = [r.symmetric(1.0), r.symmetric(1.0), r.symmetric(1.0)];
        let background =
            [0, 1, 2].map(|c| (base * (1.0 + n.background * 0.3 * tint[c])).clamp(0.0, 1.0));
        let occ_draw = [r.unit(), r.unit(), r.unit(), r.unit(), r.unit(), r.unit()];
        let occluder = (occ_draw[0] < n.occluder * 0.5).then(|| {
            let (w, h) = (20.0 + 30.0 * occ_draw[1], 15.0 + 20.0 * occ_draw[2]);
            let (x0, y0) = (
                20.0 + (72.0 - w) * occ_draw[3],
                30.0 + (70.0 - h) * occ_draw[4],
            );
            let tone = 0.1 + 0.8 * occ_draw[5];
            (x0, y0, x0 + w, y0 + h, [tone, tone * 0.95, tone * 0.9])
        });
        let bad = [
            r.unit(),
            r.symmetric(1.0),
            r.symmetric(1.0),
            r.symmetric(1.0),
            r.symmetric(1.0),
        ];
        let misaligned = (bad[0] < n.misaligned * 0.3).then(|| {
            let shift = (0.12 * FRAME * bad[3], 0.12 * FRAME * bad[4]);
            (25.0 * deg * bad[1], libm::pow(1.25, bad[2]), shift)
        });
        SampleDraw {
            rotation,
            scale,
            shift,
            pose,
            light_offset,
            light_grad,
            gamma,
            blur,
            noise,
            background,
            occluder,
            misaligned,
            noise_seed: r.next_u64(),
        }
    }

    /// The camera as `q = a · (u − c) + c + t` with `a` the 2×2 matrix `[[a0, a1], [a2, a3]]`.
    fn camera(&self) -> ([f64; 4], (f64, f64)) {
        let sim = |rot: f64, s: f64| {
            let (c, sn) = (libm::cos(rot), libm::sin(rot));
            [s * c, -s * sn, s * sn, s * c]
        };
        let a = sim(self.rotation, self.scale);
        match self.misaligned {
            None => (a, self.shift),
            Some((rot, s, t2)) => {
                let b = sim(rot, s);
                let ab = [
                    b[0] * a[0] + b[1] * a[2],
                    b[0] * a[1] + b[1] * a[3],
                    b[2] * a[0] + b[3] * a[2],
                    b[2] * a[1] + b[3] * a[3],
                ];
                let t = (
                    b[0] * self.shift.0 + b[1] * self.shift.1 + t2.0,
                    b[2] * self.shift.0 + b[3] * self.shift.1 + t2.1,
                );
                (ab, t)
            }
        }
    }
}

/// A rendered image sample: planar `[C, S, S]` u8 and its landmarks in pixel coordinates
/// (pixel centres at integers, as OpenCV and the template).
pub struct RenderedSample {
    pub pixels: Vec<u8>,
    pub landmarks: [(f32, f32); 5],
}

/// Renders the face `params` under `draw` as a `channels × size × size` image.
pub fn render(
    params: &FaceParams,
    draw: &SampleDraw,
    channels: usize,
    size: usize,
) -> RenderedSample {
    let face = Face::new(params, draw.pose, draw.background, draw.occluder);
    let (a, t) = draw.camera();
    let det = a[0] * a[3] - a[1] * a[2];
    let inv = [a[3] / det, -a[1] / det, -a[2] / det, a[0] / det];
    let step = FRAME / size as f64;
    // Template point of pixel (px, py): u = inv · (q − c − t) + c, affine in (px, py):
    // u = u0 + px · du_dx + py · du_dy.
    let q0 = (
        0.5 * step - 0.5 - CENTRE - t.0,
        0.5 * step - 0.5 - CENTRE - t.1,
    );
    let u0 = (
        inv[0] * q0.0 + inv[1] * q0.1 + CENTRE,
        inv[2] * q0.0 + inv[3] * q0.1 + CENTRE,
    );
    let du_dx = (inv[0] * step, inv[2] * step);
    let du_dy = (inv[1] * step, inv[3] * step);
    let pix = step / det.abs().sqrt();
    // Skin texture amp · cos(f · (x cos θ + y sin θ)) = amp · cos(α px + β py + γ), separable:
    // cos(A + B) = cos A cos B − sin A sin B with tables over px and over py.
    let (freq, theta, amp) = params.texture;
    let (ct, st) = (libm::cos(theta), libm::sin(theta));
    let alpha = freq * (du_dx.0 * ct + du_dx.1 * st);
    let beta = freq * (du_dy.0 * ct + du_dy.1 * st);
    let gamma0 = freq * (u0.0 * ct + u0.1 * st);
    let tx: Vec<(f64, f64)> = (0..size)
        .map(|px| (libm::cos(alpha * px as f64), libm::sin(alpha * px as f64)))
        .collect();
    let ty: Vec<(f64, f64)> = (0..size)
        .map(|py| {
            (
                libm::cos(beta * py as f64 + gamma0),
                libm::sin(beta * py as f64 + gamma0),
            )
        })
        .collect();
    let hw = size * size;
    let mut planes = vec![0f32; 3 * hw];
    for py in 0..size {
        for px in 0..size {
            let x = u0.0 + px as f64 * du_dx.0 + py as f64 * du_dy.0;
            let y = u0.1 + px as f64 * du_dx.1 + py as f64 * du_dy.1;
            let texture = amp * (tx[px].0 * ty[py].0 - tx[px].1 * ty[py].1);
            let c = face.color(x, y, pix, texture);
            let light = 1.0
                + draw.light_offset
                + (draw.light_grad.0 * (x - CENTRE) + draw.light_grad.1 * (y - CENTRE)) / CENTRE;
            for k in 0..3 {
                planes[k * hw + py * size + px] = (c[k] * light) as f32;
            }
        }
    }
    let mut out_planes = if channels == 1 {
        (0..hw)
            .map(|p| 0.299 * planes[p] + 0.587 * planes[hw + p] + 0.114 * planes[2 * hw + p])
            .collect()
    } else {
        planes
    };
    let sigma_px = draw.blur / step;
    if sigma_px > 0.05 {
        for plane in out_planes.chunks_mut(hw) {
            gaussian_blur(plane, size, sigma_px);
        }
    }
    let mut noise_rng = Rng::new(draw.noise_seed);
    let lut: Vec<u8> = (0..256)
        .map(|v| (255.0 * libm::pow(v as f64 / 255.0, draw.gamma)).round() as u8)
        .collect();
    let pixels = out_planes
        .iter()
        .map(|&v| {
            let v = v as f64 + draw.noise * irwin_hall(&mut noise_rng);
            // Round half up by truncation of v·255 + ½ (clamped first, so never negative).
            lut[((v * 255.0).clamp(0.0, 255.0) + 0.5) as usize]
        })
        .collect();
    let to_pixel = |(x, y): (f64, f64)| {
        let (dx, dy) = (x - CENTRE, y - CENTRE);
        let qx = a[0] * dx + a[1] * dy + CENTRE + t.0;
        let qy = a[2] * dx + a[3] * dy + CENTRE + t.1;
        (
            ((qx + 0.5) / step - 0.5) as f32,
            ((qy + 0.5) / step - 0.5) as f32,
        )
    };
    RenderedSample {
        pixels,
        landmarks: face.landmarks().map(to_pixel),
    }
}

/// An approximately standard normal value: the sum of four 16-bit uniforms, centred, scaled
/// to unit variance (Irwin–Hall n = 4: variance 4/12).
fn irwin_hall(rng: &mut Rng) -> f64 {
    let bits = rng.next_u64();
    let sum: f64 = (0..4)
        .map(|k| ((bits >> (16 * k)) & 0xFFFF) as f64 / 65536.0)
        .sum();
    (sum - 2.0) * 3f64.sqrt()
}

/// In-place separable Gaussian blur of a `size × size` plane, edges clamped. Each pass adds
/// `w_d ×` the plane shifted by `d` (a loop over x that the compiler vectorises).
fn gaussian_blur(plane: &mut [f32], size: usize, sigma: f64) {
    let radius = ((3.0 * sigma).ceil() as usize).min(size - 1);
    let raw: Vec<f64> = (0..=2 * radius)
        .map(|j| {
            let d = j as f64 - radius as f64;
            libm::exp(-d * d / (2.0 * sigma * sigma))
        })
        .collect();
    let total: f64 = raw.iter().sum();
    let weights: Vec<f32> = raw.iter().map(|w| (w / total) as f32).collect();
    // Rows padded by `radius` clamped pixels on each side, then the horizontal pass.
    let mut padded = vec![0f32; size + 2 * radius];
    let mut tmp = vec![0f32; plane.len()];
    for (row, out) in plane.chunks(size).zip(tmp.chunks_mut(size)) {
        padded[..radius].fill(row[0]);
        padded[radius..radius + size].copy_from_slice(row);
        padded[radius + size..].fill(row[size - 1]);
        for (j, &w) in weights.iter().enumerate() {
            for (o, &v) in out.iter_mut().zip(&padded[j..j + size]) {
                *o += w * v;
            }
        }
    }
    // Vertical pass: whole rows at a time.
    plane.fill(0.0);
    for y in 0..size {
        let out = &mut plane[y * size..(y + 1) * size];
        for (j, &w) in weights.iter().enumerate() {
            let src = (y + j).saturating_sub(radius).min(size - 1);
            for (o, &v) in out.iter_mut().zip(&tmp[src * size..(src + 1) * size]) {
                *o += w * v;
            }
        }
    }
}

/// The label of training sample `k` of identity `i` under label noise: with probability
/// `label_noise` a uniformly drawn other identity (stream `(seed, LABEL, i, k)`).
pub fn noisy_label(cfg: &SyntheticConfig, i: usize, k: usize) -> usize {
    if cfg.label_noise <= 0.0 || cfg.identities < 2 {
        return i;
    }
    let mut r = Rng::keyed(cfg.seed, tag::LABEL, i as u64, k as u64);
    let flip = r.unit() < cfg.label_noise;
    let other = r.below(cfg.identities - 1);
    match flip {
        true if other >= i => other + 1,
        true => other,
        false => i,
    }
}

/// Vector mode: `nrm(A z + intra_sigma · ε)`, `ε ~ N(0, I_D)` from the sample's stream.
pub fn vector_sample(cfg: &SyntheticConfig, a_z: &[f64], i: usize, k: usize) -> Vec<f32> {
    let mut r = Rng::keyed(cfg.seed, tag::SAMPLE, i as u64, k as u64);
    let x: Vec<f64> = a_z
        .iter()
        .map(|m| m + cfg.intra_sigma * r.normal())
        .collect();
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    x.iter().map(|v| (v / norm) as f32).collect()
}
