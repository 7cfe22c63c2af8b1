//! The project's random number generator: SplitMix64 (Steele, Lea, Flood 2014), the generator
//! ../shared/DATASETS.md §0 fixes for the whole project, so every seeded result (initialisers,
//! samplers, data sets, dropout masks) is reproducible on every platform.
//!
//! ```text
//! next():      x += 0x9E3779B97F4A7C15  (wrapping)
//!              z = x
//!              z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
//!              z = (z ^ (z >> 27)) * 0x94D049BB133111EB
//!              return z ^ (z >> 31)                    <- this output function is `mix`
//! uniform(n) = (next() as u128 * n as u128) >> 64       (multiply-shift, in [0, n))
//! shuffle:     for i in (1..n).rev() { swap(i, uniform(i + 1)) }   (Fisher–Yates)
//! keyed (seed, tag, a, b): state = mix(mix(mix(seed ^ tag) ^ a) ^ b)
//! ```
//!
//! Floating point draws use only `+ − × ÷ sqrt` and the pure-Rust `libm` (Box–Muller), never
//! the platform's maths library.

use crate::{DType, Result, Shape, Tensor};

/// SplitMix64's output function: a bijective 64-bit mixer.
pub fn mix(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64: a 64-bit state advanced by a constant, then mixed. `Clone` gives an independent
/// copy of the stream position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A stream starting at state `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The keyed stream `(seed, tag, a, b)`: state `mix(mix(mix(seed ^ tag) ^ a) ^ b)`, so item
    /// `(a, b)` can be drawn alone, in any order, on any thread, with the same bytes.
    pub fn keyed(seed: u64, tag: u64, a: u64, b: u64) -> Rng {
        Rng::new(mix(mix(mix(seed ^ tag) ^ a) ^ b))
    }

    /// The current state (to checkpoint the stream); `Rng::new(state)` resumes it.
    pub fn state(&self) -> u64 {
        self.state
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// A uniform integer in `[0, n)` by multiply-shift (0 when `n` is 0).
    pub fn uniform(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// [`Rng::uniform`] for indices.
    pub fn below(&mut self, n: usize) -> usize {
        self.uniform(n as u64) as usize
    }

    /// Fisher–Yates shuffle in place: `for i in (1..n).rev() { swap(i, uniform(i + 1)) }`.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// A uniform `f64` in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform `f64` in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// A uniform `f64` in `[-a, a)`.
    pub fn symmetric(&mut self, a: f64) -> f64 {
        self.range(-a, a)
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A standard normal draw by Box–Muller: `sqrt(−2 ln u1) · cos(2π u2)`, `u1` in `(0, 1]`,
    /// with the pure-Rust `libm` so the values are the same on every platform.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
    }
}

impl Tensor {
    /// Normal(mean, std²) samples.
    pub fn randn(
        shape: impl Into<Shape>,
        mean: f64,
        std: f64,
        dtype: DType,
        rng: &mut Rng,
    ) -> Result<Tensor> {
        let shape = shape.into();
        let data: Vec<f64> = (0..shape.numel())
            .map(|_| mean + std * rng.normal())
            .collect();
        Tensor::from_f64s(&data, shape, dtype)
    }

    /// Uniform samples in [lo, hi).
    pub fn rand_uniform(
        shape: impl Into<Shape>,
        lo: f64,
        hi: f64,
        dtype: DType,
        rng: &mut Rng,
    ) -> Result<Tensor> {
        let shape = shape.into();
        let data: Vec<f64> = (0..shape.numel()).map(|_| rng.range(lo, hi)).collect();
        Tensor::from_f64s(&data, shape, dtype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // First outputs of SplitMix64 seeded with 0 (the published reference sequence).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }
}
