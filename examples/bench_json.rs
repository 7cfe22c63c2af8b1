//! Machine-readable kernel benchmarks: one JSON line per case, in the record schema of the
//! peers' runner (shared/peers/README.md), so our figures land in the same table as OpenBLAS,
//! MKL/oneDNN, the `gemm` crate and candle.
//!
//! ```text
//! cargo run --release --example bench_json -- [--threads N[,M...]] [filter ...]
//! PROJECT_BENCH="cargo run --release --example bench_json" ../shared/peers/run_all.sh project gemm
//! ```
//!
//! Threads: `--threads N` (or a list, `--threads 1,2`, one pass each), else BENCH_THREADS,
//! else RAYON_NUM_THREADS, else 1; the cases run in a rayon pool of that size. Filters are substrings of `part` or `case` (any may match).
//! Cases and FLOP conventions are the peers': GEMM 2mnk; conv 2·N·Cout·Ho·Wo·Cin·K², and
//! fwd+bwd (dX and dW) counts 3x the forward. The `train` part (full training steps, each case
//! in a child process of its own) is in `bench/train.rs`.

use anglegrad_kernels::cpu::conv::{
    conv2d_backward_data, conv2d_backward_weight, conv2d_forward, Conv2dParams,
};
use anglegrad_kernels::cpu::gemm::{gemm, GemmShape};
use std::time::Instant;

#[path = "bench/train.rs"]
mod train;

const IMPL: &str = "anglegrad 0.1";
/// FP32 FMA peak of one Zen3 core at the measured clock (shared/peers table: 102 GFLOP/s).
const PEAK_PER_THREAD: f64 = 102.0;

fn main() -> anyhow::Result<()> {
    let mut threads: Option<Vec<usize>> = None;
    let mut filters = Vec::new();
    let mut train_case = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--train-case" {
            // A child process running one train case (see bench/train.rs).
            train_case = args.next();
            continue;
        }
        let value = if a == "--threads" {
            Some(
                args.next()
                    .ok_or_else(|| anyhow::anyhow!("--threads needs a value"))?,
            )
        } else {
            a.strip_prefix("--threads=").map(str::to_string)
        };
        match value {
            // "--threads 2" or "--threads 1,2" (one pass per count).
            Some(v) => threads = Some(v.split(',').map(str::parse).collect::<Result<_, _>>()?),
            None if !a.is_empty() => filters.push(a),
            None => {}
        }
    }
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    let threads = threads.unwrap_or_else(|| {
        vec![env("BENCH_THREADS")
            .or_else(|| env("RAYON_NUM_THREADS"))
            .unwrap_or(1)]
    });
    let want = |part: &str, case: &str| {
        filters.is_empty()
            || filters
                .iter()
                .any(|f| case.contains(f.as_str()) || part == f)
    };
    for t in threads {
        let t = t.max(1);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build()?;
        if let Some(key) = &train_case {
            pool.install(|| train::run_case(key, t))?;
            continue;
        }
        pool.install(|| {
            gemm_cases(t, &want);
            conv_cases(t, &want);
        });
        train::train_cases(t, &want);
    }
    Ok(())
}

/// Times `f` like the peers' `time_ms`: a warm-up, then `reps` runs sized to about
/// `budget_s` of work (between 3 and `max_reps`). Returns the run times in ms.
fn time_ms(mut f: impl FnMut(), budget_s: f64, max_reps: usize) -> Vec<f64> {
    let t0 = Instant::now();
    f();
    let first = t0.elapsed().as_secs_f64();
    f();
    while t0.elapsed().as_secs_f64() < 0.05 {
        f();
    }
    let reps = ((budget_s / first.max(1e-5)) as usize).clamp(3, max_reps);
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

/// Prints one timed record in the peers' schema (plus our % of the FMA peak).
fn emit(part: &str, case: &str, threads: usize, ms: &[f64], flop: f64, extra: &str) {
    let mut sorted = ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    };
    let (min, max) = (sorted[0], sorted[n - 1]);
    let gflops = flop / (median * 1e6);
    println!(
        "{{\"part\": \"{part}\", \"impl\": \"{IMPL}\", \"case\": \"{case}\", \"threads\": {threads}, \
         \"ms_median\": {median:.4}, \"ms_min\": {min:.4}, \"ms_max\": {max:.4}, \"reps\": {n}, \
         \"gflop\": {:.6}, \"gflops\": {gflops:.3}, \"gflops_best\": {:.3}, \"pct_peak\": {:.1}{extra}}}",
        flop / 1e9,
        flop / (min * 1e6),
        100.0 * gflops / (PEAK_PER_THREAD * threads as f64),
    );
}

/// Deterministic data in [-1, 1) (a small LCG; the values do not matter for timing).
fn data(len: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((x >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect()
}

/// The peers' SGEMM cases (py/bench_gemm.py): name, m, k, n, transposes.
fn gemm_cases(threads: usize, want: &dyn Fn(&str, &str) -> bool) {
    let mut cases: Vec<(String, usize, usize, usize, bool, bool)> = [128, 256, 512, 1024, 2048]
        .iter()
        .map(|&n| (format!("square n={n}"), n, n, n, false, false))
        .collect();
    for c in [10_000usize, 100_000] {
        cases.push((
            format!("fc fwd (256x512)(512x{c})"),
            256,
            512,
            c,
            false,
            false,
        ));
        cases.push((
            format!("fc fwd x.W^T W=({c}x512)"),
            256,
            512,
            c,
            false,
            true,
        ));
        cases.push((
            format!("fc bwd dX (256x{c})({c}x512)"),
            256,
            c,
            512,
            false,
            false,
        ));
        cases.push((
            format!("fc bwd dW G^T.X ({c}x256)(256x512)"),
            c,
            256,
            512,
            true,
            false,
        ));
    }
    for (name, m, k, n, ta, tb) in cases {
        if !want("gemm", &name) {
            continue;
        }
        let s = GemmShape::dense(m, n, k, ta, tb);
        let a = data(m * k, 1);
        let b = data(k * n, 2);
        let mut c = vec![0.0f32; m * n];
        let ms = time_ms(|| gemm(&s, 1.0, &a, &b, 0.0, &mut c), 0.8, 200);
        emit("gemm", &name, threads, &ms, s.flops(), "");
    }
}

/// The peers' conv2d cases (py/bench_conv.py): ResNet layer shapes, batch 32, no bias;
/// fwd+bwd computes y, dx and dw (the peers' loss = y.sum() makes dy all ones).
fn conv_cases(threads: usize, want: &dyn Fn(&str, &str) -> bool) {
    const SHAPES: [(&str, usize, usize, usize, usize, usize, usize); 5] = [
        ("3->64 7x7 s2 @112", 3, 64, 112, 7, 2, 3),
        ("64->64 3x3 @56", 64, 64, 56, 3, 1, 1),
        ("128->128 3x3 @28", 128, 128, 28, 3, 1, 1),
        ("256->256 3x3 @14", 256, 256, 14, 3, 1, 1),
        ("512->512 3x3 @7", 512, 512, 7, 3, 1, 1),
    ];
    for (name, cin, cout, hw, k, s, pad) in SHAPES {
        let case = format!("conv2d {name} b32");
        let p = Conv2dParams::square(32, cin, hw, cout, k, s, pad);
        let x = data(p.x_len(), 3);
        let w: Vec<f32> = data(p.w_len(), 4).iter().map(|v| v * 0.05).collect();
        let mut y = vec![0.0f32; p.y_len()];
        if want("conv", &format!("{case} fwd")) {
            let ms = time_ms(|| conv2d_forward(&p, &x, &w, None, &mut y), 2.5, 20);
            emit(
                "conv",
                &format!("{case} fwd"),
                threads,
                &ms,
                p.flops(),
                ", \"pass\": \"fwd\"",
            );
        }
        if want("conv", &format!("{case} fwd+bwd")) {
            let dy = vec![1.0f32; p.y_len()];
            let mut dx = vec![0.0f32; p.x_len()];
            let mut dw = vec![0.0f32; p.w_len()];
            let step = || {
                conv2d_forward(&p, &x, &w, None, &mut y);
                conv2d_backward_data(&p, &dy, &w, &mut dx);
                conv2d_backward_weight(&p, &x, &dy, &mut dw);
            };
            let mut step = step;
            let ms = time_ms(&mut step, 2.5, 20);
            let extra = ", \"pass\": \"fwd+bwd (dX,dW)\"";
            emit(
                "conv",
                &format!("{case} fwd+bwd"),
                threads,
                &ms,
                3.0 * p.flops(),
                extra,
            );
        }
    }
}
