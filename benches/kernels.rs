//! Criterion benchmarks of the CPU kernels.
//!
//! `cargo bench --bench kernels [-- filter]`. Throughput is declared in FLOPs, so criterion's
//! "elem/s" column reads as FLOP/s (Gelem/s = GFLOP/s); the FMA peak of this machine is
//! 102 GFLOP/s per core (shared/peers table), printed as % of peak at the end of each group.
//! Thread count: RAYON_NUM_THREADS (default: all cores). For figures that sit next to the
//! peers' table use `examples/bench_json.rs`.

use anglegrad_kernels::cpu::conv::{
    conv2d_backward_data, conv2d_backward_weight, conv2d_forward, Conv2dParams,
};
use anglegrad_kernels::cpu::elementwise::{unary, UnaryOp};
use anglegrad_kernels::cpu::gemm::{gemm, GemmShape};
use anglegrad_kernels::cpu::softmax::log_softmax_rows;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::{Duration, Instant};

const PEAK_PER_CORE: f64 = 102.0;

fn data(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
        .collect()
}

/// Prints GFLOP/s and % of the FMA peak for one call of `f` (median of a few runs).
fn report_peak(name: &str, flop: f64, mut f: impl FnMut()) {
    let mut t: Vec<f64> = (0..7)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    let gflops = flop / t[3] / 1e9;
    let threads = rayon::current_num_threads() as f64;
    println!(
        "{name}: {gflops:.1} GFLOP/s = {:.0}% of the FMA peak ({threads} thread(s) x {PEAK_PER_CORE})",
        100.0 * gflops / (PEAK_PER_CORE * threads)
    );
}

fn bench_gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("sgemm");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    for n in [128usize, 256, 512, 1024] {
        let s = GemmShape::dense(n, n, n, false, false);
        let (a, b) = (data(n * n), data(n * n));
        let mut out = vec![0.0f32; n * n];
        g.throughput(Throughput::Elements(s.flops() as u64));
        g.bench_with_input(BenchmarkId::new("square NN", n), &n, |bch, _| {
            bch.iter(|| gemm(&s, 1.0, &a, &b, 0.0, &mut out))
        });
        report_peak(&format!("sgemm square n={n}"), s.flops(), || {
            gemm(&s, 1.0, &a, &b, 0.0, &mut out)
        });
    }
    // The face-classifier head: x [256, 512] · Wᵀ, W [10000, 512].
    let s = GemmShape::dense(256, 10_000, 512, false, true);
    let (a, b) = (data(256 * 512), data(10_000 * 512));
    let mut out = vec![0.0f32; 256 * 10_000];
    g.throughput(Throughput::Elements(s.flops() as u64));
    g.bench_function("fc fwd x.W^T W=(10000x512)", |bch| {
        bch.iter(|| gemm(&s, 1.0, &a, &b, 0.0, &mut out))
    });
    report_peak("sgemm fc fwd x.W^T", s.flops(), || {
        gemm(&s, 1.0, &a, &b, 0.0, &mut out)
    });
    g.finish();
}

fn bench_conv(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv2d");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(300));
    // Batch 8 versions of the peers' ResNet shapes (batch 32 there), to keep the bench short.
    for (name, cin, cout, hw, k, s, pad) in [
        ("3->64 7x7 s2 @112 b8", 3, 64, 112, 7, 2, 3),
        ("64->64 3x3 @56 b8", 64, 64, 56, 3, 1, 1),
        ("256->256 3x3 @14 b8", 256, 256, 14, 3, 1, 1),
    ] {
        let p = Conv2dParams::square(8, cin, hw, cout, k, s, pad);
        let (x, w) = (data(p.x_len()), data(p.w_len()));
        let dy = vec![1.0f32; p.y_len()];
        let (mut y, mut dx, mut dw) = (
            vec![0.0; p.y_len()],
            vec![0.0; p.x_len()],
            vec![0.0; p.w_len()],
        );
        g.throughput(Throughput::Elements(p.flops() as u64));
        g.bench_function(format!("{name} fwd"), |b| {
            b.iter(|| conv2d_forward(&p, &x, &w, None, &mut y))
        });
        report_peak(&format!("conv2d {name} fwd"), p.flops(), || {
            conv2d_forward(&p, &x, &w, None, &mut y)
        });
        g.throughput(Throughput::Elements(3 * p.flops() as u64));
        let mut step = || {
            conv2d_forward(&p, &x, &w, None, &mut y);
            conv2d_backward_data(&p, &dy, &w, &mut dx);
            conv2d_backward_weight(&p, &x, &dy, &mut dw);
        };
        g.bench_function(format!("{name} fwd+bwd"), |b| b.iter(&mut step));
        report_peak(&format!("conv2d {name} fwd+bwd"), 3.0 * p.flops(), step);
    }
    g.finish();
}

fn bench_elementwise(c: &mut Criterion) {
    let mut g = c.benchmark_group("elementwise");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(200));
    let n = 1 << 22;
    let x = data(n);
    let mut y = vec![0.0f32; n];
    g.throughput(Throughput::Bytes((8 * n) as u64));
    for op in [
        UnaryOp::Relu,
        UnaryOp::Exp,
        UnaryOp::Affine { mul: 2.0, add: 1.0 },
    ] {
        g.bench_function(format!("unary {op:?} 4M f32"), |b| {
            b.iter(|| unary(op, &x, &mut y))
        });
    }
    let (rows, cols) = (256, 10_000);
    let logits = data(rows * cols);
    let mut out = vec![0.0f32; rows * cols];
    g.throughput(Throughput::Bytes((8 * rows * cols) as u64));
    g.bench_function("log_softmax 256x10000", |b| {
        b.iter(|| log_softmax_rows(&logits, rows, cols, &mut out))
    });
    g.finish();
}

criterion_group!(benches, bench_gemm, bench_conv, bench_elementwise);
criterion_main!(benches);
