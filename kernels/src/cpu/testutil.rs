//! Helpers shared by the kernel tests: deterministic inputs and error reports.
//!
//! Every fast kernel is compared with its scalar reference; [`Report`] keeps the worst error
//! seen and how much of the kernel's tolerance it used, and prints it (visible with
//! `cargo test -- --nocapture`), in the spirit of llm.c's per-tensor tolerance reports.

use crate::Float;

/// SplitMix64: a tiny, good-enough generator for test data (the same mixer dropout uses).
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
    pub fn vec<T: Float>(&mut self, len: usize) -> Vec<T> {
        (0..len).map(|_| T::from_f64(self.uniform())).collect()
    }
}

/// Worst error of a fast kernel against its reference, against a tolerance.
pub struct Report {
    name: String,
    tol: f64,
    worst: f64,
    at: String,
}

impl Report {
    pub fn new(name: &str, tol: f64) -> Self {
        Report {
            name: name.to_string(),
            tol,
            worst: 0.0,
            at: String::new(),
        }
    }

    /// Records |got - want| / (1 + |want|) elementwise (mixed absolute/relative error);
    /// NaN must match NaN.
    pub fn compare<T: Float>(&mut self, case: &str, got: &[T], want: &[T]) {
        assert_eq!(
            got.len(),
            want.len(),
            "{}: {case}: lengths differ",
            self.name
        );
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let (g, w) = (g.to_f64(), w.to_f64());
            let err = if g.is_nan() || w.is_nan() {
                if g.is_nan() && w.is_nan() {
                    0.0
                } else {
                    f64::INFINITY
                }
            } else if g == w {
                0.0
            } else {
                (g - w).abs() / (1.0 + w.abs())
            };
            self.note(case, i, err);
        }
    }

    /// Records an error already scaled by the caller.
    pub fn note(&mut self, case: &str, index: usize, err: f64) {
        // A NaN error counts as the worst possible.
        let err = if err.is_nan() { f64::INFINITY } else { err };
        if err > self.worst || (err == f64::INFINITY && self.at.is_empty()) {
            self.worst = err;
            self.at = format!("{case} [{index}]");
        }
    }

    /// Prints the report and fails if the worst error is over the tolerance.
    pub fn finish(self) {
        let used = if self.tol > 0.0 {
            format!("{:.1}% used", 100.0 * self.worst / self.tol)
        } else {
            "must be exact".to_string()
        };
        println!(
            "{}: worst error {:.3e} at {} (tolerance {:.1e}, {used})",
            self.name, self.worst, self.at, self.tol
        );
        assert!(
            self.worst <= self.tol,
            "{}: worst error {:e} at {} exceeds tolerance {:e}",
            self.name,
            self.worst,
            self.at,
            self.tol
        );
    }
}

/// A rayon pool of `n` threads, so threaded paths run even on a one-core test machine.
pub fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .expect("rayon pool")
}
