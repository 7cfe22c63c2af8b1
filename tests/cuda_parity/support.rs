//! What the parity cases share: test data, the error bookkeeping, and device round trips.

pub use anglegrad_kernels::cuda::{CudaDevice, CudaFloat, DeviceBuffer, Result};
pub use anglegrad_kernels::Float;

/// The awkward sizes of DESIGN.md §4: one element, a few, a warp and one, odd and past 1000.
pub const SIZES: [usize; 4] = [1, 7, 33, 1031];

/// SplitMix64 test data (the same mixer as dropout's), reproducible across runs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
    /// n values uniform in [-scale, scale).
    pub fn vec<T: Float>(&mut self, n: usize, scale: f64) -> Vec<T> {
        (0..n)
            .map(|_| T::from_f64(scale * self.uniform()))
            .collect()
    }
    /// An index in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The worst error of one table row, and where it happened.
#[derive(Default)]
pub struct Check {
    pub worst: f64,
    pub at: String,
    pub compared: usize,
}

impl Check {
    /// |got − want| / (1 + |want|) per element (absolute near 0, relative for large values);
    /// a NaN must meet a NaN, an infinity the same infinity.
    pub fn compare<T: Float>(&mut self, case: &str, got: &[T], want: &[T]) {
        if got.len() != want.len() {
            self.note(case, 0, f64::INFINITY);
            return;
        }
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let (g, w) = (g.to_f64(), w.to_f64());
            let err = if g == w || (g.is_nan() && w.is_nan()) {
                0.0
            } else if g.is_nan() || w.is_nan() || g.is_infinite() || w.is_infinite() {
                f64::INFINITY
            } else {
                (g - w).abs() / (1.0 + w.abs())
            };
            self.note(case, i, err);
        }
        self.compared += got.len();
    }

    /// Indices must match exactly (an error of infinity otherwise).
    pub fn same_indices(&mut self, case: &str, got: &[usize], want: &[usize]) {
        if got.len() != want.len() {
            self.note(case, 0, f64::INFINITY);
            return;
        }
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            self.note(case, i, if g == w { 0.0 } else { f64::INFINITY });
        }
        self.compared += got.len();
    }

    fn note(&mut self, case: &str, index: usize, err: f64) {
        if err > self.worst || (self.at.is_empty() && err > 0.0) {
            self.worst = err;
            self.at = format!("{case} [{index}]");
        }
    }
}

/// T values from f64 ones (references computed in f64, rounded once).
pub fn from_f64<T: Float>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&x| T::from_f64(x)).collect()
}

/// f64 values from T ones (exact).
pub fn to_f64<T: Float>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.to_f64()).collect()
}

/// `n` copies of NaN: an output buffer whose unwritten elements show.
pub fn nans<T: Float>(n: usize) -> Vec<T> {
    vec![T::from_f64(f64::NAN); n]
}

/// A device buffer of `n` NaNs.
pub fn nan_buffer<T: CudaFloat>(dev: &CudaDevice, n: usize) -> Result<DeviceBuffer<T>> {
    dev.htod(&nans::<T>(n))
}
