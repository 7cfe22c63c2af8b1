//! The project's random number generator (DATASETS.md §0): SplitMix64.
//!
//! One small generator, written out so that every file the project makes is byte-identical on
//! every platform and in every language a user may port a test to:
//!
//! ```text
//! next():      x += 0x9E3779B97F4A7C15  (wrapping)
//!              z = x
//!              z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
//!              z = (z ^ (z >> 27)) * 0x94D049BB133111EB
//!              return z ^ (z >> 31)                    <- this output function is `mix`
//! uniform(n) = (next() as u128 * n as u128) >> 64       (Lemire's multiply-shift, in [0, n))
//! shuffle:     for i in (1..n).rev() { swap(i, uniform(i + 1)) }   (Fisher–Yates)
//! keyed (seed, tag, a, b): state = mix(mix(mix(seed ^ tag) ^ a) ^ b)
//! ```
//!
//! Keyed streams let sample `k` of identity `i` be generated alone, in any order and on any
//! thread, with the same bytes: the stream depends only on `(seed, tag, i, k)`.
//!
//! Floating point draws use only `+ − × ÷ sqrt` and the pure-Rust `libm` (Box–Muller), never the
//! platform's maths library, for the same reason.

pub use anglegrad_engine::rng::{mix, Rng};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_values() {
        // Reference: the SplitMix64 C code of Vigna (prng.di.unimi.it/splitmix64.c), seed 0.
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn keyed_stream_is_the_spec_formula() {
        let r = Rng::keyed(7, 3, 11, 13);
        assert_eq!(r, Rng::new(mix(mix(mix(7 ^ 3) ^ 11) ^ 13)));
    }

    #[test]
    fn uniform_stays_in_range_and_shuffle_permutes() {
        let mut r = Rng::new(42);
        for n in [1u64, 2, 3, 10, 1 << 40] {
            for _ in 0..100 {
                assert!(r.uniform(n) < n);
            }
        }
        let mut v: Vec<usize> = (0..50).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(v, sorted);
    }

    #[test]
    fn shuffle_of_three_by_hand() {
        // i = 2: j = uniform(3); i = 1: j = uniform(2), from the same stream.
        let mut a = Rng::new(9);
        let j2 = a.uniform(3) as usize;
        let j1 = a.uniform(2) as usize;
        let mut expect = [0, 1, 2];
        expect.swap(2, j2);
        expect.swap(1, j1);
        let mut v = [0, 1, 2];
        Rng::new(9).shuffle(&mut v);
        assert_eq!(v, expect);
    }

    #[test]
    fn normal_has_unit_moments() {
        let mut r = Rng::new(1);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "var {var}");
    }
}
