//! Timings of the main CUDA kernels on a real GPU, for a person to read (speed is a benchmark,
//! not a test: DESIGN.md §5). Ignored by default; on a GPU machine:
//!   cargo test --release -p anglegrad-kernels --test cuda_bench -- --ignored --nocapture
//! Each line gives the median of 20 runs after 3 warm-ups, and GFLOP/s or GB/s.

use std::time::Instant;

use anglegrad_kernels::cpu::conv::Conv2dParams;
use anglegrad_kernels::cpu::gemm::GemmShape;
use anglegrad_kernels::cuda::launch::{conv, gemm, softmax};
use anglegrad_kernels::cuda::{CudaDevice, Result};

/// Median seconds of `f` (each run synchronised).
fn time(dev: &CudaDevice, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    for _ in 0..3 {
        f()?;
    }
    dev.synchronize()?;
    let mut t = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        f()?;
        dev.synchronize()?;
        t.push(start.elapsed().as_secs_f64());
    }
    t.sort_by(|a, b| a.total_cmp(b));
    Ok(t[t.len() / 2])
}

#[test]
#[ignore = "needs a GPU; run by hand with --ignored"]
fn cuda_kernel_timings() -> Result<()> {
    let dev = CudaDevice::new(0)?;
    println!("{dev:?}");
    // Square; the classifier of 85,742 identities (batch 512, 512-d); the IResNet embedding FC.
    for (m, n, k) in [(4096, 4096, 4096), (512, 85_742, 512), (128, 512, 25_088)] {
        let s = GemmShape::dense(m, n, k, false, false);
        let (a, b) = (dev.zeros::<f32>(m * k)?, dev.zeros::<f32>(k * n)?);
        let mut c = dev.zeros::<f32>(m * n)?;
        let secs = time(&dev, || gemm::gemm(&dev, &s, 1.0, &a, &b, 0.0, &mut c))?;
        println!(
            "gemm f32 {m}x{n}x{k}: {:.3} ms, {:.0} GFLOP/s",
            secs * 1e3,
            s.flops() / secs / 1e9
        );
    }
    // A ResNet stage-3 convolution and a 7x7 stride-2 stem on 112x112 face crops, batch 128.
    for p in [
        Conv2dParams::square(128, 256, 14, 256, 3, 1, 1),
        Conv2dParams::square(128, 3, 112, 64, 7, 2, 3),
    ] {
        let (x, w) = (dev.zeros::<f32>(p.x_len())?, dev.zeros::<f32>(p.w_len())?);
        let mut y = dev.zeros::<f32>(p.y_len())?;
        let fwd = time(&dev, || {
            conv::conv2d_forward(&dev, &p, &x, &w, None, &mut y)
        })?;
        let mut dx = dev.zeros::<f32>(p.x_len())?;
        let data = time(&dev, || {
            conv::conv2d_backward_data(&dev, &p, &y, &w, &mut dx)
        })?;
        let mut dw = dev.zeros::<f32>(p.w_len())?;
        let weight = time(&dev, || {
            conv::conv2d_backward_weight(&dev, &p, &x, &y, &mut dw)
        })?;
        let g = |t: f64| p.flops() / t / 1e9;
        println!(
            "conv2d {}x{}x{}x{} k{} s{}: fwd {:.0}, bwd data {:.0}, bwd weight {:.0} GFLOP/s",
            p.n,
            p.c_in,
            p.h,
            p.c_out,
            p.kh,
            p.stride.0,
            g(fwd),
            g(data),
            g(weight)
        );
    }
    // The margin-softmax head's row softmax over 85,742 identities (MS1M), batch 512.
    let (rows, cols) = (512, 85_742);
    let x = dev.zeros::<f32>(rows * cols)?;
    let mut y = dev.zeros::<f32>(rows * cols)?;
    let secs = time(&dev, || softmax::softmax_rows(&dev, &x, rows, cols, &mut y))?;
    let bytes = 2.0 * (rows * cols * 4) as f64; // one read (from L2 the second and third time) and one write
    println!(
        "softmax {rows}x{cols}: {:.3} ms, {:.0} GB/s",
        secs * 1e3,
        bytes / secs / 1e9
    );
    Ok(())
}
